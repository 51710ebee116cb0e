"""`python -m dedupe` runs the command."""

from dedupe.cli import main

main()
