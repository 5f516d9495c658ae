"""`python -m so1` runs the command line."""

from so1.entrypoints.cli import main

main()
