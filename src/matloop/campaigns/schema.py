"""The campaign file schema: one pydantic model per section, all strict about unknown keys.

Relative paths are resolved against the campaign file's folder (passed as validation
context ``{"base": Path}``). A validated ``Campaign`` is frozen.
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
SEARCH_SECTIONS = ("space", "targets", "oracle")  # what a resumed run may not change


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    if path.is_absolute() or base is None:
        return path
    return (Path(base) / path).resolve()


class CampaignSection(Section):
    name: str = Field(pattern=NAME_PATTERN, description="letters, digits, '_', '-', '.'")
    seed: int = 0
    database: str | None = None
    description: str = ""
    prior: Path | None = Field(default=None, description="measurements made before the "
                               "campaign (an import file), imported before the first cycle")

    _resolve_prior = field_validator("prior")(_resolve)


class TableSpace(Section):
    """Candidates are the rows of a CSV: numeric ``inputs`` or a ``composition`` column."""

    kind: Literal["table"]
    path: Path
    inputs: list[str] | None = Field(default=None, min_length=1)
    composition: str | None = None
    id: str | None = Field(default=None, description="a column that identifies each row "
                           "(rows with equal inputs stay distinct candidates)")

    _resolve_path = field_validator("path")(_resolve)

    @model_validator(mode="after")
    def _one_description(self) -> TableSpace:
        if (self.inputs is None) == (self.composition is None):
            raise ValueError("give exactly one of 'inputs' (numeric columns) or "
                             "'composition' (a formula column)")
        return self


class CompositionSpace(Section):
    """Every composition over ``elements`` on a grid of ``step`` with at most k elements."""

    kind: Literal["compositions"]
    elements: list[str] = Field(min_length=1)
    step: float = Field(default=0.1, gt=0, le=1)
    max_elements: int = Field(default=3, ge=1)
    min_elements: int = Field(default=1, ge=1)

    @field_validator("step")
    @classmethod
    def _step_divides_one(cls, step: float) -> float:
        if abs(1 / step - round(1 / step)) > 1e-9:
            raise ValueError(f"1/step must be a whole number (got step = {step})")
        return step

    @field_validator("elements")
    @classmethod
    def _unique_elements(cls, elements: list[str]) -> list[str]:
        if len(set(elements)) != len(elements):
            raise ValueError("elements must not repeat")
        return elements

    @model_validator(mode="after")
    def _bounds(self) -> CompositionSpace:
        if self.min_elements > self.max_elements:
            raise ValueError("min_elements must not exceed max_elements")
        return self

    @property
    def divisions(self) -> int:
        """Number of grid steps in a unit fraction (10 for step = 0.1)."""
        return round(1 / self.step)


DedupeChoice = Literal["matcher", "hash", "none"]


class StructureSpace(Section):
    """Crystal structures from a folder (CIF/POSCAR), a pymatgen-JSON, extxyz or CSV file."""

    kind: Literal["structures"]
    path: Path
    structure_column: str = Field(default="structure", description="CSV: the column of "
                                  "pymatgen Structure JSON")
    id: str | None = Field(default=None, description="CSV: a column naming each structure")
    dedupe: DedupeChoice = Field(default="matcher", description="remove repeated "
                                 "structures: pymatgen StructureMatcher, a symmetry hash, "
                                 "or not at all")

    _resolve_path = field_validator("path")(_resolve)


class SubstitutionSpace(Section):
    """Prototype structures decorated with every combination of the given elements."""

    kind: Literal["substitution"]
    prototypes: list[Path] = Field(min_length=1, description="structure files, folders or "
                                   "JSON/extxyz/CSV files of prototypes")
    substitutions: dict[str, list[str]] = Field(min_length=1, description="site label or "
                                                "element -> candidate elements")
    oxidation_filter: bool = Field(default=False, description="keep only compositions "
                                   "that can be charge-balanced")
    volume: Literal["radii", "dls", "keep"] = "radii"
    dedupe: DedupeChoice = "hash"

    @field_validator("prototypes", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | Path) else value

    @field_validator("prototypes")
    @classmethod
    def _resolve_all(cls, paths: list[Path], info: ValidationInfo) -> list[Path]:
        return [_resolve(path, info) for path in paths]

    @field_validator("substitutions")
    @classmethod
    def _non_empty_choices(cls, substitutions: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = [key for key, choices in substitutions.items() if not choices]
        if empty:
            raise ValueError(f"give at least one element for {', '.join(map(repr, empty))}")
        return substitutions


STRUCTURE_SPACES = (StructureSpace, SubstitutionSpace)

Space = Annotated[TableSpace | CompositionSpace | StructureSpace | SubstitutionSpace,
                  Field(discriminator="kind")]


GOAL_KEYS = ("goal", "above", "below", "between", "near")


class Target(Section):
    """One wish about one property: optimise it (``goal``) or keep it in a range
    (``above``, ``below``, ``between = [lo, hi]``, ``near`` with ``tolerance``)."""

    property: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    unit: str | None = None
    goal: Literal["maximize", "minimize"] | None = None
    above: float | None = Field(default=None, allow_inf_nan=False)
    below: float | None = Field(default=None, allow_inf_nan=False)
    between: tuple[Annotated[float, Field(allow_inf_nan=False)],
                   Annotated[float, Field(allow_inf_nan=False)]] | None = None
    near: float | None = Field(default=None, allow_inf_nan=False)
    tolerance: float | None = Field(default=None, gt=0, allow_inf_nan=False)
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


FailureReason = Literal["error", "timeout", "crashed", "invalid", "not_converged",
                        "infeasible"]


class OracleSection(Section):
    """What every oracle accepts: a time limit and a retry policy for transient failures."""

    timeout_s: float | None = Field(default=None, gt=0, description="seconds before an "
                                    "evaluation's worker process is killed (reason timeout)")
    retries: int = Field(default=1, ge=0, le=10, description="re-runs of an evaluation that "
                         "failed with a reason in retry_on")
    retry_on: tuple[FailureReason, ...] = ("timeout", "crashed")


class TableOracle(OracleSection):
    """Look each target property up in the CSV column of the same name."""

    kind: Literal["table"]
    path: Path | None = None  # default: the table space's CSV

    _resolve_path = field_validator("path")(_resolve)


class PythonOracle(OracleSection):
    """Call ``function = "module:callable"``; the module is looked up beside the file first."""

    kind: Literal["python"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
                          description="'module:callable'")


AseRecipe = Literal["energy", "relax", "eos", "elastic", "formation_energy"]
ASE_CALCULATOR_PATTERN = r"^(emt|chgnet|gpaw|espresso|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$"
ASE_ADDED_FIELDS = ("parameters", "relax_cell", "relax_positions", "optimizer",
                    "max_volume_change", "elastic_strains", "unstable")


class AseOracle(OracleSection):
    """An ASE calculator and a recipe.

    On a ``compositions`` space: EMT on an fcc supercell decorated to the candidate's
    composition (recipe ``eos``). On a ``structures`` or ``substitution`` space: any
    calculator (``emt``, ``chgnet``, ``gpaw``, ``espresso`` or ``"module:factory"``) with
    ``parameters``, and any recipe of ``matloop.oracles.recipes``.
    """

    kind: Literal["ase"]
    calculator: str = Field(default="emt", description="emt, chgnet, gpaw, espresso or "
                            "'package.module:factory'")
    parameters: dict[str, Any] = Field(default_factory=dict, description="keyword "
                                       "arguments of the calculator")
    recipe: AseRecipe = "eos"
    supercell: int = Field(default=2, ge=1, le=6, description="conventional fcc cells per edge")
    relax: bool = True
    relax_cell: bool = Field(default=True, description="structures: relax the cell too")
    relax_positions: bool = Field(default=True, description="structures: relax positions "
                                  "in each strained cell (eos, elastic)")
    optimizer: Literal["BFGS", "FIRE"] = "BFGS"
    fmax: float = Field(default=0.05, gt=0, description="eV/Å")
    max_steps: int = Field(default=200, ge=1)
    max_volume_change: float = Field(default=0.5, gt=0, description="relative; a larger "
                                     "change in a relaxation is an invalid structure")
    strain: float = Field(default=0.05, gt=0, lt=0.3, description="± linear strain of the EOS")
    points: int = Field(default=7, ge=5, le=21)
    elastic_strains: list[Annotated[float, Field(gt=0, lt=0.1)]] = Field(
        default_factory=lambda: [0.005, 0.01], min_length=1,
        description="strain magnitudes of the elastic recipe, applied with both signs")
    unstable: Literal["fail", "keep"] = Field(
        default="fail", description="elastic: a tensor that is not positive definite fails "
        "as infeasible, or is kept")

    @field_validator("calculator", mode="before")
    @classmethod
    def _known_calculator(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.match(ASE_CALCULATOR_PATTERN, value):
            raise ValueError(f"unknown calculator {value!r}; use emt, chgnet, gpaw, espresso "
                             "or 'package.module:factory' (e.g. 'ase.calculators.vasp:Vasp')")
        return value

    @model_serializer(mode="wrap")
    def _omit_default_additions(self, handler: SerializerFunctionWrapHandler
                                ) -> dict[str, Any]:
        """Leave out the fields added with structure recipes while they hold their
        defaults, so that a campaign stored before them resumes (its oracle section is
        compared with the stored one)."""
        data: dict[str, Any] = handler(self)
        for name in ASE_ADDED_FIELDS:
            default = type(self).model_fields[name].get_default(call_default_factory=True)
            if name in data and getattr(self, name) == default:
                del data[name]
        return data

    def recipe_settings(self) -> dict[str, Any]:
        """The settings of ``matloop.oracles.recipes.RecipeSettings`` as a plain dict."""
        return {"optimizer": self.optimizer, "fmax": self.fmax, "max_steps": self.max_steps,
                "max_volume_change": self.max_volume_change, "relax": self.relax,
                "relax_cell": self.relax_cell, "relax_positions": self.relax_positions,
                "points": self.points, "strain": self.strain,
                "elastic_strains": tuple(self.elastic_strains), "unstable": self.unstable}


class LabOracle(OracleSection):
    """A laboratory: batches go out as files (``matloop propose``) and measured results
    come back with ``matloop import``; the loop never calls it."""

    kind: Literal["lab"]


Oracle = Annotated[TableOracle | PythonOracle | AseOracle | LabOracle,
                   Field(discriminator="kind")]


class SurrogateSection(Section):
    kind: Literal["gp", "ensemble", "forest", "auto"] = Field(
        default="gp", description="auto: the kind that cross-validates best, compared "
        "every validate_every-th model cycle")
    warm_start: bool = Field(default=True, description="start each fit from the last one's "
                             "hyperparameters")
    cold_start_every: int = Field(default=10, ge=1, description="but fit from scratch on "
                                  "every k-th cycle")
    fit_points: int = Field(default=1000, ge=10, description="fit a GP's hyperparameters on "
                            "a random subset of at most this many observations (its "
                            "posterior uses them all)")
    exact_limit: int = Field(default=2000, ge=10, description="beyond this many "
                             "observations of a property, the GP is a sparse variational "
                             "one")
    feasibility: bool = Field(default=True, description="learn where evaluations fail and "
                              "weight the acquisition by the probability of success")
    feasibility_reasons: tuple[FailureReason, ...] = Field(
        default=("error", "invalid", "not_converged", "infeasible"),
        description="failures that say something about the candidate (not the machine)")
    validate_every: int = Field(default=5, ge=0, description="cross-validate the models "
                                "every k-th model cycle (0: never)")
    folds: int = Field(default=5, ge=2, le=20, description="k of the k-fold "
                       "cross-validation")
    min_success_probability: float = Field(default=0.5, ge=0, lt=1, description="skip "
                                           "candidates predicted to fail more often than "
                                           "this allows (unless none is above it)")

    @model_validator(mode="after")
    def _auto_needs_validation(self) -> SurrogateSection:
        if self.kind == "auto" and not self.validate_every:
            raise ValueError("kind = \"auto\" chooses the surrogate by cross-validation, "
                             "every validate_every-th model cycle: validate_every must be at "
                             "least 1")
        return self


JobQueue = Literal["slurm", "pbs", "sge", "lsf", "htcondor", "moab", "oar"]


class ExecutorSection(Section):
    kind: Literal["local", "dask"] = Field(default="local", description="local: a process "
                                           "pool on this machine; dask: Dask distributed")
    workers: int = Field(default=1, ge=1, le=1024, description="evaluations run at once")
    address: str | None = Field(default=None, description="a running Dask scheduler, "
                                "e.g. tcp://host:8786 (dask only)")
    cluster: JobQueue | None = Field(default=None, description="a dask-jobqueue cluster "
                                     "type; workers = its jobs (dask only)")
    cluster_options: dict[str, Any] = Field(default_factory=dict, description="keyword "
                                            "arguments of the dask-jobqueue cluster")

    @model_validator(mode="after")
    def _dask_options(self) -> ExecutorSection:
        if self.kind != "dask" and (self.address or self.cluster or self.cluster_options):
            raise ValueError('address, cluster and cluster_options need kind = "dask"')
        if self.address and self.cluster:
            raise ValueError("give either address (a running scheduler) or cluster, not both")
        if self.cluster_options and not self.cluster:
            raise ValueError("cluster_options need a cluster")
        return self


class LoopSection(Section):
    initial: int = Field(default=5, ge=1, description="size of the random initial design")
    batch_size: int = Field(default=1, ge=1)
    mode: Literal["batch", "async"] = Field(default="batch", description="batch: propose "
                                            "batch_size, wait for all; async: keep every "
                                            "worker busy, one proposal per finished one")
    queued: int = Field(default=1, ge=0, le=64, description="async mode: proposals queued "
                        "beyond the busy workers, so that a worker that frees up starts at "
                        "once instead of waiting for the refit (0: refit before each start)")
    budget: int = Field(default=60, ge=1, description="total evaluations, failures included")
    acquisition: Literal["auto", "logei", "ehvi", "feasibility", "ucb", "random"] = "auto"
    beta: float = Field(default=2.0, gt=0, description="UCB exploration weight")
    stop_after_hits: int | None = Field(default=None, ge=1, description="stop once this many "
                                        "measured candidates meet every range target")
    patience: int | None = Field(default=None, ge=1, description="stop after this many "
                                 "model cycles without progress")
    max_failure_rate: float = Field(default=0.9, gt=0, le=1, description="abort when more "
                                    "than this fraction of the last failure_window failed")
    failure_window: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _queued_is_async(self) -> LoopSection:
        if "queued" in self.model_fields_set and self.mode != "async":
            raise ValueError('queued applies to mode = "async"')
        return self

    @model_validator(mode="after")
    def _budget_covers_initial(self) -> LoopSection:
        if self.budget < self.initial:
            raise ValueError(f"budget ({self.budget}) is smaller than the initial design "
                             f"({self.initial})")
        return self


class Campaign(Section):
    """A validated campaign file. ``source`` is the file it was read from."""

    campaign: CampaignSection
    space: Space
    targets: list[Target] = Field(min_length=1)
    oracle: Oracle
    surrogate: SurrogateSection = SurrogateSection()
    executor: ExecutorSection = ExecutorSection()
    loop: LoopSection = LoopSection()
    source: Path | None = Field(default=None, exclude=True)

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
        if name == "ucb" and (optimised != 1 or ranges):
            raise ValueError("loop.acquisition 'ucb' needs one maximize/minimize target and "
                             "no range targets")
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
    def _oracle_fits_space(self) -> Campaign:
        oracle = self.oracle
        if not isinstance(oracle, AseOracle):
            return self
        if isinstance(self.space, CompositionSpace):
            if oracle.calculator != "emt":
                raise ValueError(f"oracle.calculator: {oracle.calculator!r} needs a "
                                 "'structures' or 'substitution' space; a 'compositions' "
                                 "space works with 'emt' only")
            if oracle.recipe != "eos":
                raise ValueError(f"oracle.recipe: {oracle.recipe!r} needs a 'structures' or "
                                 "'substitution' space; a 'compositions' space works with "
                                 "'eos' only")
            extra = [name for name in ASE_ADDED_FIELDS if name in oracle.model_fields_set]
            if extra:
                raise ValueError(f"oracle.{extra[0]}: needs a 'structures' or 'substitution' "
                                 "space (the 'compositions' EMT oracle has no such setting)")
        elif not isinstance(self.space, STRUCTURE_SPACES):
            raise ValueError("oracle kind 'ase' needs a 'compositions', 'structures' or "
                             "'substitution' space")
        elif "supercell" in oracle.model_fields_set:
            raise ValueError("oracle.supercell: only for a 'compositions' space (structure "
                             "candidates are computed in their own cells)")
        return self

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source else Path.cwd()

    @property
    def properties(self) -> tuple[str, ...]:
        """The distinct target properties, in the order they first appear."""
        return tuple(dict.fromkeys(t.property for t in self.targets))

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

    def with_overrides(self, **changes: Any) -> Campaign:
        """A copy with ``seed``, ``budget``, ``database`` or ``surrogate`` (a kind)
        replaced (command-line options)."""
        campaign, loop, surrogate = self.campaign, self.loop, self.surrogate
        if changes.get("seed") is not None:
            campaign = campaign.model_copy(update={"seed": changes["seed"]})
        if changes.get("database") is not None:
            campaign = campaign.model_copy(update={"database": changes["database"]})
        if changes.get("budget") is not None:
            budget = changes["budget"]
            if budget < 1:
                raise ValueError("--budget must be at least 1")
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
