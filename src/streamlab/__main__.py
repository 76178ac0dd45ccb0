"""``python -m streamlab`` runs the command line."""

from streamlab.cli import main

if __name__ == "__main__":  # not when a worker process of setup imports this module
    main()
