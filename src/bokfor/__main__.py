from bokfor.cli import main

main()
