from msitools.cli import main

main()
