"""How a campaign runs: the ``[surrogate]``, ``[executor]`` and ``[loop]`` sections."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from matloop.campaigns.sections import FailureReason, Section


class SurrogateSection(Section):
    kind: Literal["gp", "ensemble", "forest", "auto"] = Field(
        default="gp", description="auto: the kind that cross-validates best, compared "
        "every validate_every-th model cycle")
    prior: Literal["dimension-scaled", "gamma"] = Field(
        default="dimension-scaled", description="GP hyperparameter priors: BoTorch's "
        "log-normal length-scale prior whose median grows as √d, or the Gamma(3, 6) "
        "length-scale, Gamma(2, 0.15) output-scale and Gamma(1.1, 0.05) noise priors of "
        "BoTorch before 0.12")
    kernel: Literal["rbf", "matern52"] = Field(
        default="rbf", description="GP kernel, one length scale per feature: squared "
        "exponential (rbf; the default, chosen by leave-one-dataset-out over 19 public "
        "sets) or Matérn-5/2")
    warp: Literal["none", "power"] = Field(
        default="none", description="power: fit the GP to Yeo-Johnson-transformed values of "
        "an optimised property (the transform fitted to the data each cycle), which evens "
        "out skewed properties; predictions are reported back in the property's units. "
        "Applies to one maximize/minimize target without range targets on its property")
    noise: Literal["homoscedastic", "heteroscedastic"] = Field(
        default="homoscedastic", description="GP measurement noise: one level per property, "
        "or heteroscedastic: a level that varies across the space, learnt from the scatter "
        "of replicates (candidates measured more than once) by a second GP of the log "
        "variance; a property with fewer than 10 replicated candidates keeps one level "
        "(recorded in the cycle's hyperparameters). Exact GP only: beyond exact_limit the "
        "sparse GP keeps one level")
    restarts: int = Field(default=1, ge=1, le=20, description="a GP fitted from scratch "
                          "starts from the priors' defaults and restarts - 1 draws from "
                          "the priors, and keeps the highest marginal likelihood times "
                          "prior")
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


InitialDesign = Literal["random", "farthest", "diameter", "kmeans", "sobol"]


class LoopSection(Section):
    initial: int = Field(default=5, ge=1, description="size of the initial design (the "
                         "evaluations before the first model)")
    initial_design: InitialDesign = Field(
        default="farthest", description="how the initial design is drawn from the pool: "
        "farthest (greedy max-min distance in feature space from a random start; the "
        "default, chosen by leave-one-dataset-out over 19 public sets); diameter (the same, "
        "starting from the two ends of an approximate diameter of the pool); random; "
        "kmeans (k-means++ seeding: each pick drawn with probability ∝ squared distance to "
        "the nearest earlier pick); sobol (a scrambled Sobol sequence over the features' "
        "box, each point taking its nearest unpicked candidate)")
    batch_size: int = Field(default=1, ge=1, description="candidates proposed per cycle")
    mode: Literal["batch", "async"] = Field(default="batch", description="batch: propose "
                                            "batch_size, wait for all; async: keep every "
                                            "worker busy, one proposal per finished one")
    queued: int = Field(default=1, ge=0, le=64, description="async mode: proposals queued "
                        "beyond the busy workers, so that a worker that frees up starts at "
                        "once instead of waiting for the refit (0: refit before each start)")
    budget: int = Field(default=60, ge=1, description="total evaluations, failures included "
                        "(with [[fidelities]]: at the campaign's own oracle)")
    cost_budget: float | None = Field(default=None, gt=0, allow_inf_nan=False, description=(
        "with [[fidelities]]: stop once the evaluations of every fidelity together cost "
        "this much (in the unit of the costs)"))
    acquisition: Literal["auto", "logei", "ehvi", "feasibility", "ucb", "thompson",
                         "random"] = Field(
        default="auto", description="auto: logei for one objective, ehvi for several, "
        "feasibility for range targets only; thompson: each pick the best of one draw "
        "from the posterior over the pool")
    beta: float = Field(default=2.0, gt=0, description="UCB exploration weight")
    incumbent: Literal["mean", "observed"] = Field(
        default="mean", description="what a single pick's expected improvement improves "
        "on: the best posterior mean at the measured candidates (robust to noise), or the "
        "best value as measured (batches use noisy EI, which needs neither)")
    stop_after_hits: int | None = Field(default=None, ge=1, description="stop once this many "
                                        "measured candidates meet every range target")
    patience: int | None = Field(default=None, ge=1, description="stop after this many "
                                 "model cycles without progress")
    max_failure_rate: float = Field(default=0.9, gt=0, le=1, description="abort when more "
                                    "than this fraction of the last failure_window failed")
    failure_window: int = Field(default=10, ge=1, description="recent evaluations that "
                                "max_failure_rate looks at")

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


