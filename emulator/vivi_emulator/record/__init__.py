"""``vivi-emulator record``: a proxy that writes what a real VIVI deployment answers as fixtures.

``proxy`` forwards and streams back, ``recording`` writes the fixture file, ``cli`` is the
command.
"""
