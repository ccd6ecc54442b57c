"""``matloop serve``: a web page and a JSON API over every campaign in a folder, for lab
members who never touch TOML or Python. Everything goes through ``Session``, as the
command line does: the page and ``matloop status`` show the same campaign."""
