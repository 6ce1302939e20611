from provider_eventbrite.entrypoints.cli import main

main()
