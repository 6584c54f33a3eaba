from vivi_emulator.launch import main

main()
