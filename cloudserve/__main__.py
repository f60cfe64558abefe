from cloudserve.cli import main

main()
