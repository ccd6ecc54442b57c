"""A new lab campaign from an uploaded table of candidates, without writing TOML.

Step one uploads a CSV or XLSX sheet (one row per candidate); it waits in the server's
scratch folder under a random name. Step two names the campaign, says what each column
is (a numeric input, a categorical input, a chemical formula, a row identifier, or
nothing), the target properties with their goals and units, the budget and the batch
size. The campaign is validated as any campaign file is; then the table is written
beside the folder's campaigns (``data/<name>.csv``) and a normal campaign file
(``<name>.toml``) that ``matloop run``, ``propose`` and ``import`` read as well.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matloop.errors import MatloopError
from matloop.lab import cells
from matloop.web.actions import Refused
from matloop.web.folder import CampaignFolder

ROLES = ("input", "category", "formula", "id", "ignore")
GOALS = ("maximize", "minimize", "above", "below", "between")
TARGET_ROWS = 3  # target lines on the form
SUGGESTED = {"budget": "40", "batch_size": "4"}  # the form's first values: a lab's scale
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass
class Table:
    """An uploaded table: its id in the scratch folder, its file name, columns, rows."""

    upload: str
    filename: str
    columns: list[str]
    rows: list[list[str]]

    def guess(self, column: str) -> str:
        """The role a column most likely has: numbers are inputs, formulas formulas,
        a column unique per row an identifier, repeated labels categories."""
        k = self.columns.index(column)
        texts = [row[k].strip() for row in self.rows if k < len(row) and row[k].strip()]
        if not texts:
            return "ignore"
        if all(cells.number(t) is not None for t in texts):
            return "input"
        if column.lower() in ("formula", "composition") or \
                all(cells.formula(t) is not None for t in texts):
            return "formula"
        if len(set(texts)) == len(texts):
            return "id"
        return "category"


def save_upload(scratch: Path, filename: str, content: bytes) -> Table:
    """Keep an uploaded candidate table (CSV or XLSX) for step two; ``Refused`` when it
    cannot be read or has no rows."""
    from matloop.lab.sheets import read_sheet

    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise Refused(422, f"{Path(filename).name or 'the upload'}: a table of candidates "
                      "is a .csv or .xlsx file")
    upload = secrets.token_urlsafe(18)
    folder = scratch / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{upload}{suffix}"
    path.write_bytes(content)
    try:
        sheet = read_sheet(path)
    except MatloopError as exc:
        path.unlink()
        message = str(exc).replace(str(path), Path(filename).name).replace(
            "; nothing was imported", "")
        raise Refused(422, message) from None
    (folder / f"{upload}.name").write_text(Path(filename).name)
    table = Table(upload, Path(filename).name, list(sheet.header), _rows(sheet))
    if not table.rows or not table.columns:
        raise Refused(422, f"{table.filename}: the table has no rows of candidates")
    return table


def load_upload(scratch: Path, upload: str) -> Table:
    """The table kept by ``save_upload`` (an id from a form is checked, never a path)."""
    from matloop.lab.sheets import read_sheet

    folder = scratch / "uploads"
    found = [p for p in folder.glob(f"{upload}.*") if p.suffix in (".csv", ".xlsx")] \
        if UPLOAD_ID.match(upload) and folder.is_dir() else []
    if not found:
        raise Refused(404, "the uploaded table is gone (the server restarted?); upload "
                      "it again")
    sheet = read_sheet(found[0])
    return Table(upload, (folder / f"{upload}.name").read_text(), list(sheet.header),
                 _rows(sheet))


def campaign_config(table: Table, form: dict[str, str]) -> dict[str, Any]:
    """The campaign (as a campaign file's dict) that the form describes; ``Refused``
    naming the form field that is wrong."""
    name = form.get("name", "").strip()
    if not NAME.match(name):
        raise Refused(422, "name: letters, digits, '-' and '_' (a file name), starting "
                      f"with a letter or digit (got {name!r})")
    roles = {c: form.get(f"role:{k}", "ignore") for k, c in enumerate(table.columns)}
    bad = [c for c, role in roles.items() if role not in ROLES]
    if bad:
        raise Refused(422, f"column {bad[0]!r}: unknown role")
    space: dict[str, Any] = {"kind": "table", "path": f"data/{name}.csv"}
    for role, key in (("input", "inputs"), ("category", "categorical")):
        if chosen := [c for c, r in roles.items() if r == role]:
            space[key] = chosen
    for role, key in (("formula", "composition"), ("id", "id")):
        chosen = [c for c, r in roles.items() if r == role]
        if len(chosen) > 1:
            raise Refused(422, f"columns {chosen}: at most one column is the {role}")
        if chosen:
            space[key] = chosen[0]
    targets = [target_of(form, k) for k in range(TARGET_ROWS)
               if form.get(f"property:{k}", "").strip()]
    if not targets:
        raise Refused(422, "targets: name at least one property to measure")
    loop: dict[str, Any] = {}
    for key in ("budget", "batch_size"):
        text = form.get(key, "").strip()
        if text:
            if not text.isdigit():
                raise Refused(422, f"{key}: a whole number (got {text!r})")
            loop[key] = int(text)
    campaign: dict[str, Any] = {"name": name}
    if description := form.get("description", "").strip():
        campaign["description"] = description
    return {"campaign": campaign, "space": space, "targets": targets,
            "oracle": {"kind": "lab"}, "loop": loop}


def target_of(form: dict[str, str], k: int) -> dict[str, Any]:
    """The k-th target line of the form as a ``[[targets]]`` entry."""
    target: dict[str, Any] = {"property": form[f"property:{k}"].strip()}
    if unit := form.get(f"unit:{k}", "").strip():
        target["unit"] = unit
    goal = form.get(f"goal:{k}", "maximize")
    if goal not in GOALS:
        raise Refused(422, f"targets.{k}.goal: one of {', '.join(GOALS)}")
    if goal in ("maximize", "minimize"):
        target["goal"] = goal
        return target
    values = []
    for key in ("low", "high") if goal == "between" else ("low",):
        text = form.get(f"{key}:{k}", "").strip()
        try:
            values.append(float(text))
        except ValueError:
            raise Refused(422, f"targets.{k} ({target['property']}): {goal} needs a "
                          f"number (got {text!r})") from None
    target[goal] = values if goal == "between" else values[0]
    return target


def create(folder: CampaignFolder, table: Table, config: dict[str, Any]) -> str:
    """Validate the campaign, then write its table and campaign file into the folder;
    its name. ``Refused`` (nothing written) when invalid or when the name is taken."""
    import csv

    import tomli_w

    from matloop.api import Campaign
    from matloop.spaces.build import build_pool

    name = config["campaign"]["name"]
    toml_path = folder.root / f"{name}.toml"
    table_path = folder.root / "data" / f"{name}.csv"
    taken = {e.name for e in folder.entries()}
    if name in taken or toml_path.exists() or table_path.exists():
        raise Refused(409, f"name: {name!r} is taken in this folder (a campaign, "
                      f"{toml_path.name} or data/{table_path.name}); choose another")
    staged = folder.root / "data" / f".{name}-{secrets.token_hex(4)}.csv"
    staged.parent.mkdir(exist_ok=True)
    with staged.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.columns)
        writer.writerows(table.rows)
    checked = {**config, "space": {**config["space"], "path": f"data/{staged.name}"}}
    try:
        campaign = Campaign.from_dict(checked, base_dir=folder.root)
        build_pool(campaign.space, campaign.scratch_dir)
    except MatloopError as exc:
        staged.unlink()
        raise Refused(422, str(exc)) from None
    staged.rename(table_path)
    sections = [tomli_w.dumps({key: config[key]}) for key in ("campaign", "space")]
    sections += ["[[targets]]\n" + tomli_w.dumps(target) for target in config["targets"]]
    sections += [tomli_w.dumps({key: config[key]}) for key in ("oracle", "loop")
                 if config[key]]
    toml_path.write_text(f"# written by `matloop serve` from {table.filename}: a campaign\n"
                         "# file like any other (edit it, or use it from the command line)\n\n"
                         + "\n".join(sections))
    return name


def _rows(sheet: Any) -> list[list[str]]:
    return [list(row) for row in sheet.rows if any(cell.strip() for cell in row)]
