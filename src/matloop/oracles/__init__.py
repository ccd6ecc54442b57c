"""Oracles turn a candidate into an outcome (``matloop.protocols.Oracle``).

They take plain values (paths, names, numbers, dicts) and never read a campaign file;
``matloop.loop.build`` maps a campaign's ``[oracle]`` section to one of them:

- ``table.TableOracle``: values looked up in a table of known answers;
- ``python.PythonOracle``: a user function ``module:callable``;
- ``ase.AseOracle``: an ASE calculator (``calculators``) and a recipe (``recipes``) on a
  structure, or on a composition decorated on an fcc supercell (``compositions``);
- ``lab.LabOracle``: a placeholder for measurements imported later;
- ``function.FunctionOracle``: a Python callable handed to ``Session.run``.
"""
