from provider_opentable.entrypoints.cli import main

main()
