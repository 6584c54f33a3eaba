"""vivi-emulator: a local emulator and contract-testing tool for the VIVI API channel."""

# Kept here rather than read from the installed metadata: importlib.metadata scans every
# distribution on sys.path, a measurable share of the start-up time. tests/test_packaging.py
# checks it against pyproject.toml.
__version__ = "0.1.0"
