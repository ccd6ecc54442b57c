"""The campaign file schema: one pydantic model per section, all strict about unknown keys.

Relative paths are resolved against the campaign file's folder (passed as validation
context ``{"base": Path}``). A validated ``Campaign`` is frozen.
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from matloop.campaigns.campaign_schema import (
    NAME_PATTERN,
    CampaignSection,
    refuse_in_memory,
)
from matloop.campaigns.oracle_schema import (
    ASE_ADDED_FIELDS,
    AseOracle,
    LabOracle,
    Oracle,
    OracleSection,
    PythonOracle,
    TableOracle,
)
from matloop.campaigns.run_schema import ExecutorSection, LoopSection, SurrogateSection
from matloop.campaigns.sections import Section
from matloop.campaigns.space_schema import (
    STRUCTURE_SPACES,
    BoxSpace,
    CompositionSpace,
    Space,
    StructureSpace,
    SubstitutionSpace,
    TableSpace,
)

__all__ = ["ASE_ADDED_FIELDS", "RUN_SETTINGS", "SEARCH_SECTIONS", "AseOracle", "BoxSpace",
           "Campaign",
           "CampaignSection", "CompositionSpace", "ExecutorSection", "Fidelity", "LabOracle",
           "LoopSection", "Oracle", "OracleSection", "PythonOracle", "Section", "Space",
           "StructureSpace", "SubstitutionSpace", "SurrogateSection", "TableOracle",
           "TableSpace", "Target", "database_url"]

SEARCH_SECTIONS = ("space", "targets", "oracle", "fidelities")  # what a resumed run may
RUN_SETTINGS = ("oracle.timeout_s", "oracle.retries", "oracle.retry_on",  # not change,
                "oracle.cost", "fidelities.cost", "space.encoding",
                "space.refine")  # but for these


GOAL_KEYS = ("goal", "above", "below", "between", "near")


class Target(Section):
    """One wish about one property: optimise it (``goal``) or keep it in a range
    (``above``, ``below``, ``between = [lo, hi]``, ``near`` with ``tolerance``)."""

    property: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the measured "
                          "property (a column of results files)")
    unit: str | None = Field(default=None, description="its unit; imported values in other "
                             "units are converted")
    goal: Literal["maximize", "minimize"] | None = Field(default=None, description="optimise "
                                                         "the property")
    above: float | None = Field(default=None, allow_inf_nan=False, description="a hit has at "
                                "least this value")
    below: float | None = Field(default=None, allow_inf_nan=False, description="a hit has at "
                                "most this value")
    between: tuple[Annotated[float, Field(allow_inf_nan=False)],
                   Annotated[float, Field(allow_inf_nan=False)]] | None = Field(
        default=None, description="[lo, hi]: a hit lies in this range")
    near: float | None = Field(default=None, allow_inf_nan=False, description="a hit lies "
                               "within tolerance of this value")
    tolerance: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                    description="half-width of the near range")
    reference: float | None = Field(default=None, allow_inf_nan=False, description=(
        "with two or more maximize/minimize targets: the worst value of interest "
        "(hypervolume reference point); inferred from the data when absent"))

    @model_validator(mode="after")
    def _one_goal(self) -> Target:
        given = [key for key in GOAL_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(GOAL_KEYS)} "
                             f"(got {', '.join(given) or 'none'})")
        if self.between is not None:
            lo, hi = self.between
            if not lo < hi:
                raise ValueError(f"between = [{lo}, {hi}]: the lower bound must be below "
                                 "the upper")
        if (self.near is None) != (self.tolerance is None):
            raise ValueError("'near' needs a 'tolerance' (and 'tolerance' goes with 'near')")
        if self.reference is not None and self.goal is None:
            raise ValueError("'reference' goes with goal = 'maximize' or 'minimize'")
        return self

    @builtins.property  # the field ``property`` shadows the builtin in this class body
    def optimised(self) -> bool:
        """True for maximise/minimise targets, False for ranges."""
        return self.goal is not None

    @builtins.property
    def sign(self) -> float:
        """+1 when larger is better, -1 when smaller is better (ranges: +1)."""
        return -1.0 if self.goal == "minimize" else 1.0

    @builtins.property
    def interval(self) -> tuple[float, float]:
        """The accepted values ``[lo, hi]`` (infinite for an optimised target)."""
        inf = float("inf")
        if self.above is not None:
            return self.above, inf
        if self.below is not None:
            return -inf, self.below
        if self.between is not None:
            return self.between
        if self.near is not None and self.tolerance is not None:
            return self.near - self.tolerance, self.near + self.tolerance
        return -inf, inf

    def describe(self) -> str:
        """The target in words, e.g. ``bulk_modulus >= 300 GPa``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.goal is not None:
            return f"{self.goal} {self.property}"
        if self.above is not None:
            return f"{self.property} >= {self.above:g}{unit}"
        if self.below is not None:
            return f"{self.property} <= {self.below:g}{unit}"
        if self.between is not None:
            return f"{self.between[0]:g} <= {self.property} <= {self.between[1]:g}{unit}"
        return f"{self.property} = {self.near:g} ± {self.tolerance:g}{unit}"



class Fidelity(Section):
    """A cheaper source of the target properties beside the campaign's own ``[oracle]``
    (an ML potential before DFT, DFT before the lab): its oracle, what one evaluation
    costs and which target properties it measures. Targets, hits and ``loop.budget``
    count at the campaign's own oracle only; the model learns how each source relates
    to it and buys a source only where it pays (``matloop.loop.fidelity``)."""

    name: str = Field(pattern=NAME_PATTERN, description="the source's name, shown in "
                      "status and exports")
    cost: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="what "
                               "one evaluation costs, in the unit of oracle.cost; default: "
                               "its measured median seconds")
    properties: list[str] | None = Field(default=None, min_length=1, description="the "
                                         "target properties it measures; default: all")
    oracle: Oracle


class Campaign(Section):
    """A validated campaign file. ``source`` is the file it was read from."""

    campaign: CampaignSection
    space: Space
    targets: list[Target] = Field(min_length=1)
    oracle: Oracle
    fidelities: list[Fidelity] = Field(default_factory=list)
    surrogate: SurrogateSection = SurrogateSection()
    executor: ExecutorSection = ExecutorSection()
    loop: LoopSection = LoopSection()
    source: Path | None = Field(default=None, exclude=True)  # the file it was read from
    base: Path | None = Field(default=None, exclude=True)  # the folder, when not from a file

    @field_validator("targets")
    @classmethod
    def _consistent_targets(cls, targets: list[Target]) -> list[Target]:
        by_property: dict[str, list[Target]] = {}
        for target in targets:
            by_property.setdefault(target.property, []).append(target)
        for name, group in by_property.items():
            if sum(t.optimised for t in group) > 1:
                raise ValueError(f"{name}: at most one maximize/minimize goal per property")
            if len({t.unit for t in group if t.unit}) > 1:
                raise ValueError(f"{name}: targets on one property must use one unit")
            lo = max(t.interval[0] for t in group)
            hi = min(t.interval[1] for t in group)
            if lo > hi:
                raise ValueError(f"{name}: the targets cannot all be met "
                                 f"({' and '.join(t.describe() for t in group)})")
        if sum(t.optimised for t in targets) < 2 and any(t.reference is not None
                                                        for t in targets):
            raise ValueError("'reference' (a hypervolume reference point) needs two or more "
                             "maximize/minimize targets")
        return targets

    @field_validator("loop")
    @classmethod
    def _loop_fits_targets(cls, loop: LoopSection, info: ValidationInfo) -> LoopSection:
        targets = info.data.get("targets")
        if not targets:  # the targets failed validation and are reported already
            return loop
        optimised = sum(t.optimised for t in targets)
        ranges = any(not t.optimised for t in targets)
        name = loop.acquisition
        if name == "logei" and optimised != 1:
            raise ValueError("loop.acquisition 'logei' needs one maximize/minimize target; "
                             "use 'feasibility' for ranges only, 'ehvi' for two or more "
                             "objectives (or 'auto')")
        if name == "ehvi" and optimised < 2:
            raise ValueError("loop.acquisition 'ehvi' needs two or more maximize/minimize "
                             "targets")
        if name == "feasibility" and not ranges:
            raise ValueError("loop.acquisition 'feasibility' needs range targets "
                             "(above, below, between, near)")
        if name in ("ucb", "thompson") and (optimised != 1 or ranges):
            raise ValueError(f"loop.acquisition '{name}' needs one maximize/minimize target "
                             "and no range targets")
        if loop.stop_after_hits is not None and not ranges:
            raise ValueError("loop.stop_after_hits needs range targets: a hit is a candidate "
                             "that meets all of them")
        return loop

    @model_validator(mode="after")
    def _async_fits_oracle(self) -> Campaign:
        if self.loop.mode != "async":
            return self
        if self.oracle.kind == "lab":
            raise ValueError('loop.mode "async" needs an oracle the loop runs itself; a lab '
                             'campaign proposes batches (mode = "batch")')
        if self.loop.batch_size != 1:
            raise ValueError('loop.batch_size: in mode = "async" each finished evaluation '
                             "starts one new one, and executor.workers evaluations are in "
                             "flight; remove batch_size")
        return self

    @model_validator(mode="after")
    def _fidelities_fit(self) -> Campaign:
        if not self.fidelities:
            return self
        names = [f.name for f in self.fidelities]
        if len(set(names)) != len(names):
            raise ValueError(f"fidelities: each needs its own name (got {names})")
        for i, fidelity in enumerate(self.fidelities):
            unknown = sorted(set(fidelity.properties or ()) - set(self.properties))
            if unknown:
                raise ValueError(f"fidelities.{i}.properties: {unknown} are not target "
                                 f"properties ({', '.join(self.properties)})")
            if fidelity.oracle.kind == "lab" and self.oracle.kind != "lab":
                raise ValueError(f"fidelities.{i}.oracle: a lab source needs a lab as the "
                                 "campaign's own [oracle] too (the loop cannot wait for a "
                                 "lab inside a run)")
        if self.loop.mode == "async":
            raise ValueError('fidelities: a multi-fidelity campaign runs in mode = "batch"')
        if self.loop.acquisition not in ("auto", "logei", "ehvi", "feasibility"):
            raise ValueError(f"loop.acquisition {self.loop.acquisition!r}: a multi-fidelity "
                             "campaign weighs the value of each source by a probability or "
                             "an expected improvement (auto, logei, ehvi, feasibility)")
        given = [f.cost is not None for f in self.fidelities] + [self.oracle.cost is not None]
        if self.oracle.kind == "lab" and not all(given):
            raise ValueError("fidelities: with a lab as the [oracle], give every source a "
                             "cost (oracle.cost and each fidelities.cost, in one unit): a "
                             "lab's results have no measured duration to compare")
        if any(given) and not all(given):
            raise ValueError("fidelities: give every source a cost (oracle.cost and each "
                             "fidelities.cost), or none (then each is its measured "
                             "seconds): costs are compared in one unit")
        return self

    @model_validator(mode="after")
    def _related_fit(self) -> Campaign:
        fidelities = {f.name for f in self.fidelities} | {"target"}
        for i, related in enumerate(self.campaign.related):
            field = f"campaign.related.{i} ({related.name})"
            if related.name in fidelities:
                raise ValueError(f"{field}: the name is taken by a source (fidelities)")
            unknown = sorted(set(related.properties) - set(self.properties))
            if unknown:
                raise ValueError(f"{field}.properties: {unknown} are not target properties "
                                 f"({', '.join(self.properties)})")
            if isinstance(self.space, StructureSpace | SubstitutionSpace):
                raise ValueError(f"{field}: related candidates map into this campaign's "
                                 "features by composition or by input columns; a "
                                 f"{self.space.kind} space has neither")
            if self.fidelities:
                raise ValueError(f"{field}: related campaigns with [[fidelities]] are not "
                                 "supported yet")
            if self.surrogate.kind not in ("auto", "gp"):
                raise ValueError(f"{field}: the model learns from a related campaign as a "
                                 "task of a multi-task GP; surrogate.kind = "
                                 f"{self.surrogate.kind!r} cannot (use auto or gp)")
        return self

    @model_validator(mode="after")
    def _oracles_fit_space(self) -> Campaign:
        self._oracle_fits_space(self.oracle, "oracle")
        for i, fidelity in enumerate(self.fidelities):
            self._oracle_fits_space(fidelity.oracle, f"fidelities.{i}.oracle")
        return self

    @model_serializer(mode="wrap")
    def _omit_no_fidelities(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``fidelities`` out when there are none, so that a campaign stored before
        them resumes (its search sections are compared with the stored ones)."""
        data: dict[str, Any] = handler(self)
        if not self.fidelities:
            data.pop("fidelities", None)
        return data

    def _oracle_fits_space(self, oracle: Any, field: str) -> None:
        if not isinstance(oracle, AseOracle):
            return
        if isinstance(self.space, CompositionSpace):
            sites = 4 * oracle.supercell**3
            most = min(self.space.max_elements, len(self.space.elements))
            if most > sites:
                raise ValueError(f"{field}.supercell: {oracle.supercell} cell per edge has "
                                 f"{sites} sites, too few for the {most} elements a "
                                 "candidate may have (space.max_elements); use a larger "
                                 "supercell")
        elif not isinstance(self.space, STRUCTURE_SPACES):
            raise ValueError(f"{field}: kind 'ase' needs a 'compositions', 'structures' or "
                             "'substitution' space")
        elif "supercell" in oracle.model_fields_set:
            raise ValueError(f"{field}.supercell: only for a 'compositions' space "
                             "(structure candidates are computed in their own cells)")

    @property
    def base_dir(self) -> Path:
        if self.base is not None:
            return self.base
        return self.source.parent if self.source else Path.cwd()

    @property
    def properties(self) -> tuple[str, ...]:
        """The distinct target properties, in the order they first appear."""
        return tuple(dict.fromkeys(t.property for t in self.targets))

    def measured_by(self, fidelity: Fidelity) -> tuple[str, ...]:
        """The target properties a cheaper source measures, in ``properties`` order."""
        wanted = fidelity.properties or self.properties
        return tuple(p for p in self.properties if p in wanted)

    @property
    def scratch_dir(self) -> Path:
        """The campaign's working folder ``<name>.scratch`` beside the campaign file:
        evaluation scratch folders, cached structure features, elemental references."""
        return self.base_dir / f"{self.campaign.name}.scratch"

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the campaign's database (default ``<name>.db`` beside the file)."""
        if self.campaign.database is None:
            return f"sqlite:///{self.base_dir / (self.campaign.name + '.db')}"
        return database_url(self.campaign.database, self.base_dir)

    def with_overrides(self, **changes: Any) -> Self:
        """A copy with ``seed``, ``budget``, ``database`` or ``surrogate`` (a kind)
        replaced (command-line options)."""
        campaign, loop, surrogate = self.campaign, self.loop, self.surrogate
        if changes.get("seed") is not None:
            if not 0 <= changes["seed"] < 2**32:
                raise ValueError(f"seed must be 0 to 2^32 - 1 (got {changes['seed']})")
            campaign = campaign.model_copy(update={"seed": changes["seed"]})
        if changes.get("database") is not None:
            refuse_in_memory(changes["database"])
            campaign = campaign.model_copy(update={"database": changes["database"]})
        if changes.get("budget") is not None:
            budget = changes["budget"]
            if budget < 1:
                raise ValueError(f"budget must be at least 1 (got {budget})")
            loop = loop.model_copy(update={"budget": budget,
                                           "initial": min(loop.initial, budget)})
        if changes.get("surrogate") is not None:
            kinds = get_args(SurrogateSection.model_fields["kind"].annotation)
            if changes["surrogate"] not in kinds:
                raise ValueError(f"unknown surrogate {changes['surrogate']!r}; "
                                 f"known: {', '.join(kinds)}")
            surrogate = surrogate.model_copy(update={"kind": changes["surrogate"]})
        return self.model_copy(update={"campaign": campaign, "loop": loop,
                                       "surrogate": surrogate})


def database_url(value: str, base: Path) -> str:
    """A database option -> SQLAlchemy URL; a plain path means an SQLite file."""
    if re.match(r"^[a-z][a-z0-9+]*://", value):
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            relative = value.removeprefix("sqlite:///")
            if relative and relative != ":memory:":
                return f"sqlite:///{(base / relative).resolve()}"
        return value
    return f"sqlite:///{(base / value).resolve()}"
