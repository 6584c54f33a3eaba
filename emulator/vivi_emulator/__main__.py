from vivi_emulator.cli import main

main()
