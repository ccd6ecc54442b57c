"""The ``matloop`` command. Thin: every command calls a library function.

Errors the user can fix print one line (``error: ...``) and exit with the error's code;
``--debug`` shows the traceback instead. Heavy libraries load inside commands only.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from matloop.cli.serve import serve_command
from matloop.errors import ConfigError, MatloopError

app = typer.Typer(
    help="Closed-loop, active-learning materials discovery.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])

CampaignFile = Annotated[Path, typer.Argument(help="campaign file (.toml or .yaml)")]
DbOption = Annotated[str | None, typer.Option(
    "--db", help="database path or SQLAlchemy URL (overrides the file)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks on errors")] = False,
) -> None:
    ctx.obj = {"debug": debug}


def _handled(command: F) -> F:
    """Turn matloop errors into one line on stderr and an exit code.

    The command takes ``ctx: typer.Context`` so that the ``--debug`` option reaches here.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs["ctx"]
        debug = bool((ctx.obj or {}).get("debug"))
        try:
            with warnings.catch_warnings():
                if not debug:  # GPyTorch's note that it stabilised a Cholesky factor,
                    warnings.filterwarnings("ignore", "A not p.d., added jitter")
                    # and torch's on the sparse index matrix of a multi-task GP
                    warnings.filterwarnings("ignore", "Sparse invariant checks")
                return command(*args, **kwargs)
        except MatloopError as exc:
            if debug:
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: everything finished is saved; run again to resume",
                       err=True)
            raise typer.Exit(130) from None
        except typer.Exit:  # a command's own exit code
            raise
        except Exception as exc:
            if debug:
                raise
            typer.echo(f"internal error: {type(exc).__name__}: {exc} "
                       "(run with --debug for the traceback)", err=True)
            raise typer.Exit(70) from None

    return wrapper  # type: ignore[return-value]


def _open(path: Path, db: str | None = None, **overrides: Any) -> Any:
    """The campaign file opened as a ``Session`` (options override the file)."""
    from matloop.api import Campaign

    try:
        campaign = Campaign.from_file(path).with_overrides(**overrides)
    except ValueError as exc:
        raise ConfigError(f"--{exc}") from None
    return campaign.session(db)


@app.command()
@_handled
def validate(ctx: typer.Context, path: CampaignFile) -> None:
    """Check a campaign file and its data without running anything."""
    from matloop.store import safe_url

    session = _open(path)
    session.check()
    campaign, space = session.campaign, session.space
    typer.echo(f"{path}: ok — campaign {campaign.campaign.name!r}, "
               f"{len(space.pool)} candidates ({campaign.space.kind}"
               f"{_duplicates(space.pool.duplicates_removed)}), "
               f"{space.features.shape[1]} features, oracle {campaign.oracle.kind!r}, "
               + "".join(f"source {f.name!r} ({f.oracle.kind}), " for f in campaign.fidelities)
               + "".join(f"related {r.name!r}, " for r in campaign.campaign.related)
               + f"targets {'; '.join(t.describe() for t in campaign.targets)}, "
               f"database {safe_url(campaign.database_url)}")


def _duplicates(removed: int) -> str:
    """``"; 3 duplicates removed"`` for a structure pool that had repeats, else ``""``."""
    if not removed:
        return ""
    return f"; {removed} duplicate{'s' if removed != 1 else ''} removed"


@app.command()
@_handled
def run(
    ctx: typer.Context,
    path: CampaignFile,
    seed: Annotated[int | None, typer.Option(help="random seed (overrides the file)")] = None,
    db: DbOption = None,
    budget: Annotated[int | None, typer.Option(
        help="total evaluations (overrides the file)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")] = False,
    retry: Annotated[list[str] | None, typer.Option(
        metavar="REASON", help="first run again the candidates that failed for REASON "
        "(error, timeout, crashed, invalid, not_converged, infeasible; repeat for more), "
        "not charged to the budget")] = None,
    accept_oracle_change: Annotated[bool, typer.Option(
        "--accept-oracle-change", help="resume although [oracle] changed since the last "
        "run (a fixed bug, a moved file); the results so far stay as they are")] = False,
) -> None:
    """Start or resume a campaign; stops when the budget is spent."""
    from matloop.cli.progress import progress_reporter
    from matloop.cli.signals import load_model_libraries, stop_on_sigterm
    from matloop.loop.run import check_retry

    stop_on_sigterm()
    session = _open(path, db, seed=seed, budget=budget)
    campaign = session.campaign
    check_retry(retry or (), campaign.oracle.kind == "lab")
    if campaign.oracle.kind == "lab":  # the loop cannot call a lab: propose a batch
        _propose_and_tell(session, path, None, None, xlsx=False, more=False)
        return
    load_model_libraries()
    with progress_reporter(campaign.loop.budget, quiet) as report:
        result = session.run(progress=report, retry=retry or (),
                             oracle_changed=accept_oracle_change)
    if not quiet:
        counts = result.counts
        typer.echo(f"stopped ({result.stop_reason}): {counts['succeeded']} succeeded, "
                   f"{counts['failed']} failed; {_progress_words(campaign, result)}. "
                   f"See `matloop status {path}`.")


def _progress_words(campaign: Any, result: Any) -> str:
    """``best toughness = 44.9`` (or ``hypervolume = 1.2e3``) and/or ``3 hits``."""
    words = []
    optimised = [t for t in campaign.targets if t.optimised]
    if len(optimised) > 1:
        words.append("hypervolume = " + ("none yet" if result.hypervolume is None
                                         else f"{result.hypervolume:.6g}"))
    elif optimised:
        best = "none yet" if result.best is None else f"{result.best:.6g}"
        qualifier = " among hits" if len(optimised) < len(campaign.targets) else ""
        words.append(f"best {optimised[0].property}{qualifier} = {best}")
    if len(optimised) < len(campaign.targets):
        words.append(f"{result.hits} hits")
    return ", ".join(words)


@app.command()
@_handled
def status(ctx: typer.Context, path: CampaignFile, db: DbOption = None,
           as_json: JsonOption = False) -> None:
    """Show where a campaign stands (reads the database only)."""
    summary = _open(path, db).status()
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    from matloop.cli.tables import status_table

    status_table(summary)


@app.command()
@_handled
def predict(
    ctx: typer.Context,
    path: CampaignFile,
    top: Annotated[int, typer.Option(help="how many candidates to show (and write)")] = 20,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the ranking as CSV "
                                             "(every unmeasured candidate with --top 0)")
                   ] = None,
    db: DbOption = None,
) -> None:
    """Rank unmeasured candidates by probability of meeting the targets (inverse design)."""
    from matloop.cli.tables import ranking_table
    from matloop.loop.predict import write_ranking

    if top < 0:
        raise ConfigError("--top must be 0 (all) or more")
    ranking = _open(path, db).ranking(top=top or None)
    ranking_table(ranking)
    if out is not None:
        write_ranking(ranking, out)
        typer.echo(f"wrote {len(ranking.keys)} ranked candidates to {out}")


@app.command()
@_handled
def export(
    ctx: typer.Context,
    path: CampaignFile,
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write")],
    db: DbOption = None,
) -> None:
    """Write every evaluation (succeeded and failed) to a CSV file."""
    rows = _open(path, db).export(out)
    typer.echo(f"wrote {rows} evaluations to {out}")


@app.command()
@_handled
def report(
    ctx: typer.Context,
    path: CampaignFile,
    db: DbOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="folder for report.html "
                                             "and its PNGs (default: <name>-report beside "
                                             "the campaign file)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the page's path")
                     ] = False,
) -> None:
    """Write an HTML report with plots: progress, target and candidate space, model
    quality, feature relevance and the best candidates."""
    folder = out if out is not None else path.with_name(f"{path.stem}-report")
    steps = None if quiet else (lambda step: typer.echo(f"{step} ...", err=True))
    written = _open(path, db).report_files(folder, on_step=steps)
    if not quiet:
        for image in written[:-1]:
            typer.echo(f"wrote {_relative(image)}")
    typer.echo(f"wrote {_relative(written[-1])}")


@app.command()
@_handled
def benchmark(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(
        help="campaign files whose oracle is a table (compared side by side)")],
    seeds: Annotated[int, typer.Option(help="replay with seeds 0..N-1")] = 10,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for summary.json and one "
                                      "PNG per campaign")] = Path("benchmark-results"),
    as_json: JsonOption = False,
    budget: Annotated[int | None, typer.Option(
        help="evaluations per seed (overrides the files)")] = None,
    workers: Annotated[int, typer.Option(help="seeds run at a time, one process "
                                         "and one thread each")] = 2,
    surrogate: Annotated[list[str] | None, typer.Option(
        help="replay each file with this surrogate kind instead of its own (repeat to "
             "compare kinds)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")] = False,
) -> None:
    """Replay table campaigns over seeds and compare with random search."""
    from matloop.benchmarking.suite import run_benchmark
    from matloop.cli.seeds import seed_progress
    from matloop.cli.signals import stop_on_sigterm

    for name, value in (("seeds", seeds), ("workers", workers), ("budget", budget)):
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be at least 1")
    stop_on_sigterm()
    try:
        runs = len(paths) * max(seeds, 0) * max(len(surrogate or ()), 1)
        with seed_progress(runs, quiet) as report:
            summary = run_benchmark(paths, seeds, out, budget=budget, workers=workers,
                                    on_done=report, surrogates=surrogate or ())
    except KeyboardInterrupt:  # the seeds' databases are temporary: nothing to resume
        typer.echo("interrupted: benchmark stopped, nothing written", err=True)
        raise typer.Exit(130) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from matloop.benchmarking.report import print_table

    print_table(summary)


@app.command("propose")
@_handled
def propose_command(
    ctx: typer.Context,
    path: CampaignFile,
    batch: Annotated[int | None, typer.Option(help="candidates in the batch (default: "
                                              "[loop] batch_size, or the initial design)")
                     ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="CSV file to write "
                                             "(default: <name>-batch-<cycle>.csv beside "
                                             "the campaign file)")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="also write an .xlsx workbook")
                    ] = False,
    more: Annotated[bool, typer.Option("--more", help="propose another batch although one "
                                       "is awaiting results")] = False,
    db: DbOption = None,
    seed: Annotated[int | None, typer.Option(help="random seed (overrides the file)")] = None,
) -> None:
    """Propose a batch for a lab campaign and write it as a file to fill in."""
    session = _open(path, db, seed=seed)
    kind = session.campaign.oracle.kind
    if kind != "lab":
        raise ConfigError(f"{path}: propose needs [oracle] kind = \"lab\" (this campaign's "
                          f"oracle is {kind!r}; use `matloop run`)")
    if batch is not None and batch < 1:
        raise ConfigError("--batch must be at least 1")
    _propose_and_tell(session, path, batch, out, xlsx, more)


def _propose_and_tell(session: Any, path: Path, batch: int | None, out: Path | None,
                      xlsx: bool, more: bool) -> None:
    from matloop.cli.progress import progress_reporter
    from matloop.cli.signals import load_model_libraries

    load_model_libraries()
    # with cheaper sources, the loop measures them before the lab's batch is chosen
    with progress_reporter(session.campaign.loop.budget,
                           quiet=not session.campaign.fidelities) as report:
        proposed = session.propose_file(batch, more, out, xlsx, progress=report)
    for kept in proposed.kept:
        typer.echo(f"kept {_relative(kept)}: it has results filled in (not overwritten)")
    shown = [_relative(p) for p in proposed.paths or proposed.kept]
    files = ", ".join(shown)
    if not shown:
        typer.echo(f"nothing to propose ({proposed.stop_reason}). "
                   f"See `matloop status {path}`.")
        return
    what = "proposed" if proposed.new else "still awaiting results:"
    typer.echo(f"{what} {proposed.count} candidate{'s' * (proposed.count != 1)} -> {files}\n"
               f"Fill in the result columns (status ok or failed, note), then run "
               f"`matloop import {path} {shown[0]}`.")


def _relative(path: Path) -> str:
    """``path`` relative to the current folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@app.command("import")
@_handled
def import_command(
    ctx: typer.Context,
    path: CampaignFile,
    results: Annotated[Path, typer.Argument(help="results file (.csv or .xlsx)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and show what would be "
                                          "stored; write nothing")] = False,
    allow_new: Annotated[bool, typer.Option("--allow-new", help="accept measured candidates "
                                            "that are not in the pool")] = False,
    db: DbOption = None,
) -> None:
    """Import a lab's measured results (all rows or none)."""
    from matloop.errors import DataError

    try:
        report = _open(path, db).import_file(results, dry_run=dry_run, allow_new=allow_new)
    except DataError as exc:
        if allow_new or not any("campaign's pool (allow new" in p for p in exc.problems):
            raise
        raise DataError(f"{exc}\n(import with --allow-new to add measured candidates from "
                        "outside the pool)", exc.problems) from None
    for line in report.lines:
        typer.echo(line)
    kinds = ", ".join(f"{n} {k}" for k, n in report.kinds.items() if n)
    verb = "would import" if report.dry_run else "imported"
    blank = (f"; rows {', '.join(map(str, report.blank))} left blank (not measured yet)"
             if report.blank else "")
    typer.echo(f"{verb} {report.stored} results ({kinds or 'none'}; {report.failed} failed)"
               f"{blank}; {report.still_awaiting} evaluations still awaiting results"
               + (". Dry run: nothing was written." if report.dry_run else "."))


app.command("serve")(_handled(serve_command))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
