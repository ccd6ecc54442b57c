"""The ``matloop`` command line."""
