from nasdsl.cli import main

main()
