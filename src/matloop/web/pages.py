"""The pages: the campaign list, and a campaign's page — where it stands, the batch
awaiting results (download it, type the results in, or upload the sheet), its failures
and its plots. Forms post back and the page is shown again with what landed, or with
every problem next to its row, nothing stored."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from matloop.lab.proposals import result_columns
from matloop.web import actions
from matloop.web.actions import Refused, opened
from matloop.web.folder import CampaignFolder, awaiting_batch, summary_or_none
from matloop.web.guard import form_ok, form_secret, remember

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
HIDDEN = ("candidate_id", "cycle")  # batch columns the form does not show
MODEL_COLUMNS = ("predicted_", "std_", "hit_probability", "success_probability")
SAFE_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.(png|html)$")


async def index(request: Request) -> Response:
    folder: CampaignFolder = request.app.state.folder
    campaigns = await run_in_threadpool(actions.campaign_list, folder)
    return page(request, "index.html", {"campaigns": campaigns, "folder": folder.root})


async def campaign(request: Request) -> Response:
    return await shown(request, {})


async def propose(request: Request) -> Response:
    form = await request.form()
    name = request.path_params["name"]
    if not form_ok(request, form.get("form")):
        return await shown(request, {"problems": [STALE]}, 403)
    text = str(form.get("n") or "").strip()
    if text and (not text.isdigit() or int(text) < 1):
        return await shown(request, {"problems": [f"batch size: a whole number of at "
                                                  f"least 1 (got {text!r})"]}, 422)
    try:
        await run_in_threadpool(actions.propose, request.app.state.folder, name,
                                int(text) if text else None, bool(form.get("more")))
    except Refused as exc:
        return await shown(request, {"problems": exc.problems or [exc.message]}, exc.status)
    await redraw(request)
    return RedirectResponse(f"/campaigns/{name}", 303)


async def results(request: Request) -> Response:
    form = await request.form()
    if not form_ok(request, form.get("form")):
        return await shown(request, {"problems": [STALE]}, 403)
    entered = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    try:
        landed = await run_in_threadpool(store_entered, request.app.state.folder,
                                         request.path_params["name"], entered)
    except Refused as exc:
        return await shown(request, {"problems": exc.problems or [exc.message],
                                     "entered": entered}, exc.status)
    await redraw(request)
    return await shown(request, {"message": landed_words(landed)})


async def upload(request: Request) -> Response:
    form = await request.form()
    if not form_ok(request, form.get("form")):
        return await shown(request, {"problems": [STALE]}, 403)
    sheet = form.get("file")
    if not isinstance(sheet, UploadFile) or not sheet.filename:
        return await shown(request, {"problems": ["choose a results sheet to upload"]}, 422)
    try:
        landed = await run_in_threadpool(actions.import_upload, request.app.state.folder,
                                         request.path_params["name"], sheet.filename,
                                         await sheet.read())
    except Refused as exc:
        return await shown(request, {"problems": [f"{sheet.filename}: {p}" for p in
                                                  exc.problems or [exc.message]]},
                           exc.status)
    await redraw(request)
    return await shown(request, {"message": f"{sheet.filename}: {landed_words(landed)}"})


async def batch_file(request: Request) -> Response:
    name, suffix = request.path_params["name"], request.path_params["suffix"]
    if suffix not in ("csv", "xlsx"):
        return Response("a batch is a .csv or .xlsx file", 404)
    try:
        into = scratch_folder(request, "batches", name)
        into.mkdir(parents=True, exist_ok=True)
        path = await run_in_threadpool(actions.batch_file, request.app.state.folder, name,
                                       suffix == "xlsx", into)
    except Refused as exc:
        return Response(exc.message, exc.status)
    return FileResponse(path, filename=path.name)


async def build_report(request: Request) -> Response:
    form = await request.form()
    name = request.path_params["name"]
    if not form_ok(request, form.get("form")):
        return await shown(request, {"problems": [STALE]}, 403)

    try:
        await run_in_threadpool(draw, request.app.state.folder, name,
                                report_folder(request, name))
    except Refused as exc:
        return await shown(request, {"problems": [exc.message]}, exc.status)
    return RedirectResponse(f"/campaigns/{name}", 303)


def draw(folder: CampaignFolder, name: str, into: Path) -> None:
    """Write the campaign's report (its plots) into ``into``."""
    with opened(folder, name) as session:
        session.report(into)


async def redraw(request: Request) -> None:
    """Once a campaign's plots were drawn, draw them again after each change, so the
    page shows the campaign as it stands."""
    name = request.path_params["name"]
    into = report_folder(request, name)
    if any(into.glob("*.png")):
        await run_in_threadpool(draw, request.app.state.folder, name, into)


async def report_file(request: Request) -> Response:
    name, file = request.path_params["name"], request.path_params["file"]
    try:
        folder = report_folder(request, name)
    except Refused as exc:
        return Response(exc.message, exc.status)
    if not SAFE_FILE.match(file) or not folder.is_dir() or \
            file not in {p.name for p in folder.iterdir()}:
        return Response("no such file in the report", 404)
    return FileResponse(folder / file)


async def new_form(request: Request) -> Response:
    return page(request, "new.html", {"table": None})


async def new_upload(request: Request) -> Response:
    """Step one: the uploaded table, kept; the form of step two."""
    from matloop.web.new import save_upload

    form = await request.form()
    if not form_ok(request, form.get("form")):
        return page(request, "new.html", {"table": None, "problems": [STALE]}, 403)
    sheet = form.get("file")
    if not isinstance(sheet, UploadFile) or not sheet.filename:
        return page(request, "new.html", {"table": None, "problems": [
            "choose a table of candidates (.csv or .xlsx) to upload"]}, 422)
    try:
        table = await run_in_threadpool(save_upload, request.app.state.scratch,
                                        sheet.filename, await sheet.read())
    except Refused as exc:
        return page(request, "new.html", {"table": None, "problems": [exc.message]},
                    exc.status)
    return page(request, "new.html", describe(table, {}))


async def new_create(request: Request) -> Response:
    """Step two: the campaign file and its table written, or the form again with what
    is wrong."""
    from matloop.web.new import campaign_config, create, load_upload

    form = await request.form()
    entered = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    if not form_ok(request, form.get("form")):
        return page(request, "new.html", {"table": None, "problems": [STALE]}, 403)
    try:
        table = load_upload(request.app.state.scratch, entered.get("upload", ""))
    except Refused as exc:
        return page(request, "new.html", {"table": None, "problems": [exc.message]},
                    exc.status)
    try:
        config = campaign_config(table, entered)
        name = await run_in_threadpool(create, request.app.state.folder, table, config)
    except Refused as exc:
        return page(request, "new.html", {**describe(table, entered),
                                          "problems": [exc.message]}, exc.status)
    return RedirectResponse(f"/campaigns/{name}", 303)


def describe(table: Any, entered: dict[str, str]) -> dict[str, Any]:
    """The step-two form of an uploaded table, with what was entered (or guesses)."""
    from matloop.web.new import GOALS, ROLES, SUGGESTED, TARGET_ROWS

    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(table.filename).stem).strip("-") or "lab"
    return {"table": table, "roles": ROLES, "goals": GOALS,
            "targets": range(TARGET_ROWS), "preview": table.rows[:5],
            "chosen": [entered.get(f"role:{k}", table.guess(c))
                       for k, c in enumerate(table.columns)],
            "entered": {"name": stem, **SUGGESTED, **entered}}


STALE = "the page was out of date (or from another site); reload it and try again"


def scratch_folder(request: Request, kind: str, name: str) -> Path:
    """The server's own folder of ``kind`` (reports, batches) for the campaign ``name``:
    a name that could not be a campaign's never becomes a path."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise Refused(404, f"no campaign {name!r} in this folder")
    return request.app.state.scratch / kind / name


def report_folder(request: Request, name: str) -> Path:
    return scratch_folder(request, "reports", name)


async def shown(request: Request, extra: dict[str, Any], status: int = 200) -> Response:
    """The campaign's page, with ``extra`` (``message``, ``problems``, ``entered``)."""
    name = request.path_params["name"]
    try:
        view = await run_in_threadpool(campaign_view, request.app.state.folder, name,
                                       report_folder(request, name))
    except Refused as exc:
        return Response(exc.message, exc.status)
    view.update(extra)
    view["row_problems"] = row_problems(view.get("problems") or [], "entered" in extra)
    entered = extra.get("entered") or {}
    for i, row in enumerate(view["batch"] or []):
        row["entered"] = [entered.get(f"value:{i}:{k}", "")
                          for k in range(len(view["result_columns"]))]
        row["status"] = entered.get(f"status:{i}", "")
        row["note"] = entered.get(f"note:{i}", "")
    return page(request, "campaign.html", view, status)


def campaign_view(folder: CampaignFolder, name: str, reports: Path) -> dict[str, Any]:
    """What the campaign page shows, as plain data."""
    from matloop.loop.status_rows import status_rows

    with opened(folder, name) as session:
        summary = summary_or_none(session)
        frame = awaiting_batch(session)
        failed = []
        if summary is not None and summary["evaluations"]["failed"]:
            table = session.evaluations()
            failed = table[table["status"] == "failed"].to_dict("records")
        c = session.campaign
    filled_in = [*result_columns(c), "status", "note"]
    shown_columns = [] if frame is None else [k for k in frame.columns
                                              if k not in (*HIDDEN, *filled_in)]
    batch = None if frame is None else [
        {"cells": {k: cell(v, rounded=k.startswith(MODEL_COLUMNS)) for k, v in row.items()}}
        for row in frame.to_dict("records")]
    return {
        "name": name, "file": folder.path_of(name).name, "description":
        c.campaign.description, "oracle": c.oracle.kind, "lab": c.oracle.kind == "lab",
        "rows": status_rows(summary) if summary else [], "started": summary is not None,
        "batch": batch, "cycle": None if frame is None else int(frame["cycle"].max()),
        "shown": shown_columns, "result_columns": filled_in[:-2],
        "batch_size": c.loop.batch_size,
        "failures": [{"candidate": f["candidate"], "cycle": f["cycle"],
                      "reason": f.get("reason") or "", "error": f.get("error") or ""}
                     for f in failed],
        "plots": sorted(p.name for p in reports.glob("*.png")) if reports.is_dir() else []}


def store_entered(folder: CampaignFolder, name: str, entered: dict[str, str]
                  ) -> dict[str, Any]:
    """Store the results typed into the batch form, all or nothing. Fields:
    ``value:<row>:<k>`` (the k-th result column), ``status:<row>``, ``note:<row>``."""
    with opened(folder, name) as session:
        frame = awaiting_batch(session)
    if frame is None:
        raise Refused(409, "no batch is awaiting results (stored from elsewhere?)")
    columns = result_columns(session.campaign)
    filled = frame.astype(object)
    for i in range(len(frame)):
        for k, column in enumerate(columns):
            filled.at[i, column] = entered.get(f"value:{i}:{k}", "").strip()
        filled.at[i, "status"] = entered.get(f"status:{i}", "").strip()
        filled.at[i, "note"] = entered.get(f"note:{i}", "").strip()
    if not any(str(v) for v in filled[[*columns, "status"]].to_numpy().ravel()):
        raise Refused(422, "nothing was entered")
    return actions.add_results(folder, name, filled)


def row_problems(problems: list[str], from_form: bool) -> dict[int, list[str]]:
    """The problems of the batch form by its row (the sheet's row 2 is the form's 0)."""
    if not from_form:
        return {}
    out: dict[int, list[str]] = {}
    for problem in problems:
        found = re.match(r"row (\d+)[,:]\s*(.*)", problem)
        if found:
            out.setdefault(int(found.group(1)) - 2, []).append(found.group(2))
    return out


def landed_words(landed: dict[str, Any]) -> str:
    kinds = ", ".join(f"{n} {kind}" for kind, n in landed["kinds"].items() if n)
    return (f"stored {landed['stored']} results ({kinds}; {landed['failed']} failed); "
            f"{landed['still_awaiting']} evaluations still await results")


def cell(value: Any, rounded: bool = False) -> str:
    """A batch cell as text: NaN as empty; a model's figure (``rounded``) to 4
    significant digits, an input as it is (a lab member makes what the page says)."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}" if rounded else f"{value:.12g}"
    return "" if value is None else str(value)


def page(request: Request, template: str, context: dict[str, Any], status: int = 200
         ) -> Response:
    secret = form_secret(request)
    response = TEMPLATES.TemplateResponse(request, template, {**context, "secret": secret},
                                          status_code=status)
    return remember(response, secret)


ROUTES = [
    Route("/", index),
    Route("/new", new_form),
    Route("/new", new_upload, methods=["POST"]),
    Route("/new/create", new_create, methods=["POST"]),
    Route("/campaigns/{name}", campaign),
    Route("/campaigns/{name}/propose", propose, methods=["POST"]),
    Route("/campaigns/{name}/results", results, methods=["POST"]),
    Route("/campaigns/{name}/upload", upload, methods=["POST"]),
    Route("/campaigns/{name}/batch.{suffix}", batch_file),
    Route("/campaigns/{name}/report", build_report, methods=["POST"]),
    Route("/campaigns/{name}/report/{file}", report_file),
]
