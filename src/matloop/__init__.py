"""matloop: closed-loop, active-learning materials discovery.

Importing this package is cheap: the heavy libraries (torch, BoTorch, ASE, pymatgen)
load only inside the functions that need them.
"""

__version__ = "0.1.0"
