from automoa.cli import main

main()
