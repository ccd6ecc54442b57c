"""``python -m matloop``: the same command-line interface as ``matloop``."""

from matloop.cli.main import main

if __name__ == "__main__":
    main()
