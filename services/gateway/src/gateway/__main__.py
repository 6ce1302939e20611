from gateway.entrypoints.cli import main

main()
