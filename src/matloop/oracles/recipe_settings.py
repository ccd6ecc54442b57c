"""What the ASE recipes share: their settings, their result, the properties and units
each computes, and the files they leave in their scratch folder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ase import Atoms


EV_PER_ATOM = "eV/atom"
VOLUME_PER_ATOM = "Å^3/atom"
GPA = "GPa"
EOS_FORM = "birchmurnaghan"
OPTIMIZERS = ("BFGS", "FIRE")
LOG_NAME = "optimizer.log"
FINAL_NAME = "final.extxyz"

PROPERTIES_BY_RECIPE: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "energy": {"energy_per_atom": EV_PER_ATOM},
    "relax": {"energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM},
    "eos": {"energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM,
            "bulk_modulus": GPA},
    "elastic": {"energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM,
                "bulk_modulus": GPA, "shear_modulus": GPA},
    "formation_energy": {"formation_energy_per_atom": EV_PER_ATOM,
                         "energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM},
})


@dataclass(frozen=True)
class RecipeResult:
    """What a recipe computed.

    ``values`` maps property -> value in ``units[property]``; ``atoms`` is the final
    structure (its energy, forces and stress on a single-point calculator); ``steps``
    counts optimiser iterations and single points; ``details`` holds JSON-able extras.
    """

    values: dict[str, float]
    units: dict[str, str]
    atoms: Atoms
    steps: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeSettings:
    """Settings shared by the recipes; each recipe reads the ones it needs.

    ``optimizer``: ``BFGS`` or ``FIRE``; ``fmax``: force (and cell-force) threshold in
    eV/Å; ``max_steps``: optimiser iterations per relaxation; ``max_volume_change``: the
    largest ``|V_final / V_start - 1|`` a relaxation may reach before it counts as
    ``invalid``; ``relax``: relax positions and cell first (``eos``, ``elastic``,
    ``formation_energy``); ``relax_cell``: let the cell relax (else positions only);
    ``relax_positions``: relax positions at each fixed strained cell (``eos``,
    ``elastic``); ``points`` and ``strain``: the EOS volumes, ``points`` cells over
    ``± strain`` linear strain; ``elastic_strains``: the strain magnitudes applied with
    both signs to each Voigt component; ``unstable``: what ``elastic`` does with a tensor
    that is not positive definite, ``fail`` (``infeasible``) or ``keep``.
    """

    optimizer: str = "BFGS"
    fmax: float = 0.02
    max_steps: int = 200
    max_volume_change: float = 0.5
    relax: bool = True
    relax_cell: bool = True
    relax_positions: bool = True
    points: int = 7
    strain: float = 0.04
    elastic_strains: tuple[float, ...] = (0.005, 0.01)
    unstable: str = "fail"

    def __post_init__(self) -> None:
        if self.optimizer.upper() not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; use one of "
                             f"{', '.join(OPTIMIZERS)}")
        if not self.fmax > 0:
            raise ValueError(f"fmax must be positive, got {self.fmax}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if not self.max_volume_change > 0:
            raise ValueError(f"max_volume_change must be positive, got "
                             f"{self.max_volume_change}")
        if self.points < 5:
            raise ValueError(f"an EOS fit needs at least 5 points, got {self.points}")
        if not 0 < self.strain < 0.5:
            raise ValueError(f"strain must lie in (0, 0.5), got {self.strain}")
        if not self.elastic_strains or not all(0 < s < 0.1 for s in self.elastic_strains):
            raise ValueError("elastic_strains must be one or more magnitudes in (0, 0.1), "
                             f"got {self.elastic_strains}")
        if self.unstable not in ("fail", "keep"):
            raise ValueError(f"unstable must be 'fail' or 'keep', got {self.unstable!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RecipeSettings:
        """Settings from a plain dict; unknown keys raise ``ValueError``."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown recipe settings {unknown}; known: {sorted(known)}")
        if "elastic_strains" in values:
            values["elastic_strains"] = tuple(float(s) for s in values["elastic_strains"])
        return cls(**values)


Reference = Callable[[str], float]
"""``symbol -> energy per atom`` (eV/atom) of the element's reference structure."""

SettingsLike = RecipeSettings | Mapping[str, Any] | None


class Recipe(Protocol):
    def __call__(self, atoms: Atoms, settings: SettingsLike, directory: Path, *,
                 reference: Reference | None = None) -> RecipeResult: ...


def settings_of(settings: SettingsLike) -> RecipeSettings:
    if isinstance(settings, RecipeSettings):
        return settings
    return RecipeSettings.from_mapping(settings)
