"""`python -m linkhaven` runs the CLI."""

from linkhaven.cli import main

main()
