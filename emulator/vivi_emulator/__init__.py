"""vivi-emulator: a local emulator and contract-testing tool for the VIVI API channel."""

# The one place the version is written: the build reads it from here (pyproject.toml,
# tool.hatch.version), and nothing reads it back from the installed metadata, since
# importlib.metadata scans every distribution on sys.path, a measurable share of the start-up
# time. tests/test_packaging.py checks that a built wheel carries it.
__version__ = "0.1.0"
