from meshc.cli import main

main()
