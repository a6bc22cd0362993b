from trainjet.cli.app import main

main()
