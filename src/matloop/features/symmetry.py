"""Space groups from spglib: the space-group number of a crystal structure, and the spglib
cell and dataset that ``matloop.spaces.symmetry`` builds its hashes on. Lengths in Å."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

SYMPREC = 0.01  # Å, spglib tolerance for hashes and space groups


def cell_of(structure: Structure) -> tuple[np.ndarray, np.ndarray, list[int], list[str]]:
    """spglib cell (lattice, fractional coordinates, type ids) and the name of each type."""
    if structure.is_ordered:
        numbers = list(structure.atomic_numbers)
        names = [site.specie.symbol for site in structure]
    else:  # each distinct occupancy is its own type, as in SpacegroupAnalyzer
        names = [site.species.formula for site in structure]
        index = {n: i + 1 for i, n in enumerate(dict.fromkeys(names))}
        numbers = [index[n] for n in names]
    return structure.lattice.matrix, structure.frac_coords, numbers, names


def dataset_of(lattice: np.ndarray, frac: np.ndarray, numbers: Sequence[int], symprec: float
             ) -> Any:
    import warnings

    import spglib

    cell = (lattice.tolist(), frac.tolist(), list(numbers))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # spglib's error-handling
            return spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception:  # spglib >= 2.5 may raise instead of returning None
        return None


def spacegroup_number(structure: Structure, symprec: float = SYMPREC) -> int:
    """International space-group number (spglib); 1 if spglib finds no symmetry."""
    lattice, frac, numbers, _ = cell_of(structure)
    dataset = dataset_of(lattice, frac, numbers, symprec)
    return 1 if dataset is None else int(dataset.number)
