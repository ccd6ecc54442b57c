"""The ``matloop`` command. Thin: every command calls a library function.

Errors the user can fix print one line (``error: ...``) and exit with the error's code;
``--debug`` shows the traceback instead. Heavy libraries load inside commands only.
"""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

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
        except Exception as exc:
            if debug:
                raise
            typer.echo(f"internal error: {type(exc).__name__}: {exc} "
                       "(run with --debug for the traceback)", err=True)
            raise typer.Exit(70) from None

    return wrapper  # type: ignore[return-value]


def _load(path: Path, db: str | None = None, **overrides: Any) -> Any:
    from matloop.campaigns import load

    campaign = load(path)
    if db is not None:
        overrides["database"] = _absolute_db(db)
    try:
        return campaign.with_overrides(**overrides)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _absolute_db(value: str) -> str:
    """A --db path is relative to the current directory, not to the campaign file."""
    if "://" in value:
        return value
    return str(Path(value).resolve())


@app.command()
@_handled
def validate(ctx: typer.Context, path: CampaignFile) -> None:
    """Check a campaign file and its data without running anything."""
    from matloop.loop.run import prepare

    prepared = prepare(_load(path))
    campaign = prepared.campaign
    typer.echo(f"{path}: ok — campaign {campaign.campaign.name!r}, "
               f"{len(prepared.pool)} candidates ({campaign.space.kind}), "
               f"{prepared.features.shape[1]} features, oracle {campaign.oracle.kind!r}, "
               f"targets {'; '.join(t.describe() for t in campaign.targets)}, "
               f"database {campaign.database_url}")


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
) -> None:
    """Start or resume a campaign; stops when the budget is spent."""
    from matloop.cli.progress import progress_reporter
    from matloop.loop.run import run as run_campaign

    campaign = _load(path, db, seed=seed, budget=budget)
    signal.signal(signal.SIGTERM, _interrupt)
    with progress_reporter(campaign.loop.budget, quiet) as report:
        result = run_campaign(campaign, on_progress=report)
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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@app.command()
@_handled
def status(ctx: typer.Context, path: CampaignFile, db: DbOption = None,
           as_json: JsonOption = False) -> None:
    """Show where a campaign stands (reads the database only)."""
    from matloop.loop.summary import summarize

    summary = summarize(_load(path, db))
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
    from matloop.loop.predict import rank, write_ranking

    if top < 0:
        raise ConfigError("--top must be 0 (all) or more")
    ranking = rank(_load(path, db), top=top or None)
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
    from matloop.loop.summary import export_csv

    rows = export_csv(_load(path, db), out)
    typer.echo(f"wrote {rows} evaluations to {out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
