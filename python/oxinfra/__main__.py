from oxinfra.cli.program import program

program()
