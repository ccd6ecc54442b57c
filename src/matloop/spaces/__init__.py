"""Candidate spaces: the ``Pool`` of candidates a campaign searches and how it is built
(``matloop.spaces.build``) from composition grids, tables, structure files and prototype
substitution (``structures``, ``symmetry``, ``substitution``)."""
