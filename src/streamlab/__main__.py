"""``python -m streamlab`` runs the command line."""

from streamlab.cli import main

main()
