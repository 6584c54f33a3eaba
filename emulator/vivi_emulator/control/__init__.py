"""The emulator's own endpoints, under ``/_emulator``: never part of the VIVI contract."""
