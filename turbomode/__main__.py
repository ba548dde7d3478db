from turbomode.cli.main import main

main()
