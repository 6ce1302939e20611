from payment.entrypoints.cli import main

main()
