"""Crystal structures -> composition statistics plus structure descriptors.

``StructureFeaturizer().transform(structures)`` returns ``(n, d)`` float64 columns:

* the 5 * p composition statistics of ``matloop.features.composition`` over each
  structure's atomic fractions (partial occupancies included);
* ``volume_per_atom`` (Å^3), ``density`` (g/cm^3);
* ``packing_fraction``: sum of atomic-sphere volumes (pymatgen ``Element.atomic_radius``,
  gaps filled as in the composition table) over the cell volume;
* ``mean/min/max_coordination``: neighbours of each site within
  ``cutoff_scale * (r_i + r_j)`` (the same atomic radii; occupancy-weighted radius on a
  disordered site) plus its nearest shell, from pymatgen's ``Structure.get_neighbor_list``.
  Slater-type radii overestimate cation-cation contacts in some ionic compounds (MgO's
  Mg counts its 12 Mg too);
* ``spacegroup_number`` and a one-hot of the 7 crystal systems (spglib at ``symprec``;
  a ``properties["spacegroup"]`` already on the structure, as ``substitute`` sets it, is
  used instead; no symmetry found counts as P1). ``symmetry=False`` leaves these out:
  spglib is the slowest part.

Every column is invariant to the order of the sites and to rotations and translations.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

FEATURE_VERSION = 1  # bump when the meaning of a column changes (invalidates caches)
AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660  # 1 amu / Å^3 in g / cm^3
MAX_CUTOFF = 64.0  # Å, the widest neighbour search
CRYSTAL_SYSTEMS: tuple[tuple[str, int], ...] = (  # (name, last space-group number)
    ("triclinic", 2), ("monoclinic", 15), ("orthorhombic", 74), ("tetragonal", 142),
    ("trigonal", 167), ("hexagonal", 194), ("cubic", 230),
)
STRUCTURE_NAMES: tuple[str, ...] = (
    "volume_per_atom", "density", "packing_fraction",
    "mean_coordination", "min_coordination", "max_coordination",
)
SYMMETRY_NAMES: tuple[str, ...] = (
    "spacegroup_number", *(f"crystal_system_{name}" for name, _ in CRYSTAL_SYSTEMS))


@dataclass(frozen=True)
class StructureFeaturizer:
    """Featuriser for pymatgen structures; ``names`` gives the ``d`` output columns.

    ``cutoff_scale`` sets the neighbour cutoff relative to the sum of the two atomic
    radii (1.1 counts 12 for fcc, 8 for bcc, 6 for NaCl with pymatgen's radii); the
    nearest shell of every site (within ``1 + shell_tolerance`` times its shortest
    distance) always counts, so radii too small for a compound (BeSe) do not give zero;
    ``symprec`` (Å) is the spglib tolerance; ``symmetry`` adds the space-group columns.
    """

    cutoff_scale: float = 1.1
    shell_tolerance: float = 0.1
    symprec: float = 0.01
    symmetry: bool = True
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cutoff_scale) and self.cutoff_scale > 0):
            raise ValueError(f"cutoff_scale must be positive, got {self.cutoff_scale}")
        if not (math.isfinite(self.shell_tolerance) and self.shell_tolerance >= 0):
            raise ValueError(f"shell_tolerance must be >= 0, got {self.shell_tolerance}")
        if not (math.isfinite(self.symprec) and self.symprec > 0):
            raise ValueError(f"symprec must be positive, got {self.symprec}")
        from matloop.features.composition import feature_names

        names = feature_names() + STRUCTURE_NAMES + (SYMMETRY_NAMES if self.symmetry else ())
        object.__setattr__(self, "names", names)

    def transform(self, structures: Sequence[Structure]) -> np.ndarray:
        """Structures -> features ``(n, d)`` float64 in the order of ``names``."""
        from matloop.features.composition import CompositionStatistics

        n = len(structures)
        if n == 0:
            return np.zeros((0, len(self.names)))
        amounts = [s.composition.get_el_amt_dict() for s in structures]
        elements = tuple(sorted({el for a in amounts for el in a}))
        column = {el: j for j, el in enumerate(elements)}
        counts = np.zeros((n, len(elements)))
        for i, a in enumerate(amounts):
            for el, amount in a.items():
                counts[i, column[el]] = amount
        statistics = CompositionStatistics.from_elements(elements)
        properties = statistics.properties
        radii = statistics.table[:, properties.index("atomic_radius")]  # (E,) Å
        masses = statistics.table[:, properties.index("atomic_mass")]  # (E,) amu

        out = np.empty((n, len(self.names)))
        n_comp = len(statistics.names)
        out[:, :n_comp] = statistics.transform(counts)
        volumes = np.array([s.lattice.volume for s in structures])
        atoms = counts.sum(axis=1)
        block = out[:, n_comp:]
        block[:, 0] = volumes / atoms
        block[:, 1] = counts @ masses / volumes * AMU_PER_A3_TO_G_PER_CM3
        block[:, 2] = counts @ (4.0 / 3.0 * math.pi * radii**3) / volumes
        radius_of = dict(zip(elements, radii.tolist(), strict=True))
        for i, s in enumerate(structures):
            block[i, 3:6] = self._coordination(s, radius_of)
        if self.symmetry:
            numbers = np.array([self._spacegroup(s) for s in structures])
            block[:, 6] = numbers
            bounds = np.array([last for _, last in CRYSTAL_SYSTEMS])
            system = np.searchsorted(bounds, numbers)  # 0..6
            block[:, 7:14] = system[:, None] == np.arange(len(CRYSTAL_SYSTEMS))
        return out

    def _coordination(self, structure: Structure, radius_of: dict[str, float]
                      ) -> tuple[float, float, float]:
        """(mean, min, max) neighbour counts over the sites of one structure."""
        if structure.is_ordered:
            site_radii = np.array([radius_of[site.specie.symbol] for site in structure])
        else:
            site_radii = np.array([
                sum(occ * radius_of[el.symbol] for el, occ in site.species.items())
                / max(site.species.num_atoms, 1e-12) for site in structure])
        n = len(structure)
        cutoff = self.cutoff_scale * 2.0 * float(site_radii.max())
        while True:  # widen until every site sees its nearest neighbour (or 64 Å)
            centers, points, _, distances = structure.get_neighbor_list(cutoff)
            nearest = np.full(n, np.inf)
            np.minimum.at(nearest, centers, distances)
            if np.isfinite(nearest).all() or cutoff >= MAX_CUTOFF:
                break
            cutoff = min(2.0 * cutoff, MAX_CUTOFF)
        close = distances <= self.cutoff_scale * (site_radii[centers] + site_radii[points])
        close |= distances <= (1.0 + self.shell_tolerance) * nearest[centers]
        counts = np.bincount(centers[close], minlength=len(structure))
        return float(counts.mean()), float(counts.min()), float(counts.max())

    def _spacegroup(self, structure: Structure) -> int:
        known = structure.properties.get("spacegroup") if structure.properties else None
        if isinstance(known, int | np.integer) and 1 <= int(known) <= 230:
            return int(known)
        from matloop.features.symmetry import spacegroup_number

        return spacegroup_number(structure, self.symprec)

    def cache_key(self, structures: Sequence[Structure]) -> str:
        """See ``feature_cache_key``."""
        return feature_cache_key(structures, self)


def feature_cache_key(structures: Sequence[Structure],
                      featurizer: StructureFeaturizer | None = None) -> str:
    """Hex digest identifying the features of ``structures`` (in order) under
    ``featurizer`` (default settings if None): lattice, fractional coordinates (exact
    float bytes), species and occupancies, a known ``properties["spacegroup"]``, the
    featuriser's settings and names, ``FEATURE_VERSION`` and the pymatgen and spglib
    versions (their element data and symmetry code shape the columns)."""
    from importlib.metadata import PackageNotFoundError, version

    featurizer = featurizer or StructureFeaturizer()
    digest = hashlib.blake2b(digest_size=20)
    versions = []
    for package in ("pymatgen", "spglib"):
        try:
            versions.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package}=?")
    digest.update(repr((FEATURE_VERSION, featurizer.cutoff_scale,
                        featurizer.shell_tolerance, featurizer.symprec,
                        featurizer.symmetry, featurizer.names, versions)).encode())
    for s in structures:
        digest.update(np.ascontiguousarray(s.lattice.matrix, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(s.frac_coords, dtype=np.float64).tobytes())
        species = ";".join(",".join(f"{el}:{occ!r}" for el, occ in site.species.items())
                           for site in s)
        known = s.properties.get("spacegroup") if s.properties else None
        digest.update(f"{len(s)}|{species}|{known}".encode())
    return digest.hexdigest()


def cached_features(featurizer: StructureFeaturizer, structures: Sequence[Structure],
                    path: Path | None) -> np.ndarray:
    """``featurizer.transform(structures)`` ``(n, d)``, kept in the ``.npz`` file ``path``.

    The file holds the features and their ``feature_cache_key``; it is reused when the key
    matches and rewritten (temporary file, then ``os.replace``) when it does not, so a
    resumed run never featurises the same structures twice. ``path=None`` caches nothing.
    """
    if path is None:
        return featurizer.transform(structures)
    key = feature_cache_key(structures, featurizer)
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) == key and stored["features"].shape == (
                    len(structures), len(featurizer.names)):
                return np.array(stored["features"], dtype=float)
    except (OSError, KeyError, ValueError):
        pass  # no cache yet, or an unreadable one: compute again
    features = featurizer.transform(structures)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, key=np.array(key), features=features)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return features


@dataclass(frozen=True)
class StructureColumns:
    """The featuriser of a ``"structures"`` pool, whose values already are the
    ``StructureFeaturizer`` columns (computed when the pool is built): the identity."""

    names: tuple[str, ...]

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Pool values ``(n, d)`` -> the same features ``(n, d)`` as float64."""
        return np.asarray(values, dtype=float)
