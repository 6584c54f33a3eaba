"""vivi-emulator: a local emulator and contract-testing tool for the VIVI API channel."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vivi-emulator")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
