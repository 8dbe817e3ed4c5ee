from oxinfra.cli import main

main()
