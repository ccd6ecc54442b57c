"""``matloop benchmark``: replay table-oracle campaigns over seeds against random search.

``metrics`` (pure numpy: top sets, Top%/EF/AF, first hits, random search's exact
expectations), ``replay`` (seeds in worker processes), ``analysis`` (runs + known answers
-> summary), ``report`` (table, JSON, PNG), ``suite`` (the whole command).
"""
