"""Reading campaign files (TOML or YAML) into a validated ``Campaign``.

Every problem becomes a ``ConfigError`` that names the file, the key path and, where it
can be found, the line: ``crossed.toml:14: loop.budget: Input should be a valid integer``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from matloop.campaigns.schema import Campaign
from matloop.errors import ConfigError

Loc = tuple[str | int, ...]


def load(path: str | Path, model: type[Campaign] = Campaign) -> Campaign:
    """Read and validate a campaign file; raises ``ConfigError`` naming field and line.
    ``model``: the class to validate into (a subclass of ``Campaign``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such campaign file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {exc.object[exc.start]:#04x}); "
                          "save the file as UTF-8") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data, find_line = _parse_toml(path, text), _toml_line_finder(text)
        elif suffix in (".yaml", ".yml"):
            data, find_line = _parse_yaml(path, text)
        else:
            raise ConfigError(f"{path}: campaign files end in .toml, .yaml or .yml")
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a campaign file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a campaign file is a table of sections")
    try:
        campaign = model.model_validate(data, context={"base": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, find_line)) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a campaign file") from None
    return campaign.model_copy(update={"source": path.resolve()})


def validate(data: dict[str, Any], base: Path, model: type[Campaign] = Campaign,
             pool: Any = None) -> Campaign:
    """Validate a campaign given as a dict (relative paths from ``base``; ``pool``, a
    DataFrame, as the table space's rows); ``ConfigError`` names every bad field."""
    try:
        campaign = model.model_validate(data, context={"base": base, "pool": pool})
    except ValidationError as exc:
        raise ConfigError(_describe(Path("campaign"), exc, lambda loc: None)) from None
    return campaign.model_copy(update={"base": base})


def _describe(path: Path, exc: ValidationError, find_line: Any) -> str:
    problems = []
    for error in exc.errors():
        loc = _clean_loc(error["loc"])
        if error["type"] == "union_tag_invalid":  # point at the 'kind' line, not the header
            loc = (*loc, str(error.get("ctx", {}).get("discriminator", "kind")).strip("'"))
        where = ".".join(str(part) for part in loc) or "(file)"
        line = find_line(loc)
        prefix = f"{path}:{line}" if line else str(path)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = ("unknown key (check the spelling; the campaign file reference in the "
                       "docs lists the allowed keys)")
        elif error["type"] == "literal_error":
            message = message.replace("Input should be", "must be")
        elif error["type"] == "union_tag_invalid":
            message = message.replace("Input tag", "kind")
        problems.append(f"{prefix}: {where}: {message}")
    return "; ".join(problems)


def _clean_loc(loc: Loc) -> Loc:
    """Drop pydantic's union tags ('table', 'compositions', ...) from the key path."""
    cleaned: list[str | int] = []
    for index, part in enumerate(loc):
        if index > 0 and loc[index - 1] in ("space", "oracle") and isinstance(part, str) \
                and index + 1 < len(loc):
            continue
        cleaned.append(part)
    return tuple(cleaned)


FIELD = re.compile(r"^((?:campaign|space|targets|oracle|surrogate|executor|loop)"
                   r"(?:\.[A-Za-z0-9_]+)*): ")


def located(source: Path | None, error: ConfigError) -> ConfigError:
    """``error`` with the campaign file and line of the field its message starts with
    (``space.inputs: ...`` -> ``camp.toml:9: space.inputs: ...``), for problems found
    after the file was read (a column missing from the CSV, a unit pint does not know);
    unchanged without a file, a field or a line."""
    match = FIELD.match(str(error))
    if source is None or match is None or source.suffix.lower() != ".toml":
        return error
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return error
    loc: Loc = tuple(int(part) if part.isdigit() else part
                     for part in match.group(1).split("."))
    line = _toml_line_finder(text)(loc)
    return error if line is None else ConfigError(f"{source}:{line}: {error}")


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+)", str(exc))
        line = f":{match.group(1)}" if match else ""
        raise ConfigError(f"{path}{line}: not valid TOML: {exc}") from None


def _toml_line_finder(text: str) -> Any:
    """A function loc -> 1-based line of that key in a TOML text (None when not found)."""
    lines = text.splitlines()

    def find(loc: Loc) -> int | None:
        if not loc:
            return None
        if len(loc) >= 3 and all(isinstance(part, str) for part in loc[:3]):
            inner = find((f"{loc[0]}.{loc[1]}", *loc[2:]))  # a [space.parameters] table
            if inner is not None:
                return inner
        section, rest = str(loc[0]), list(loc[1:])
        index = rest.pop(0) if rest and isinstance(rest[0], int) else None
        key = next((str(part) for part in rest if isinstance(part, str)), None)
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(section)}\s*\]\]?\s*(#.*)?$")
        seen, start = -1, None
        for number, line in enumerate(lines):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    start = number
                    break
        if start is None:
            return None
        if key is None:
            return start + 1
        assignment = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start + 1, len(lines)):
            if lines[number].lstrip().startswith("["):
                break
            if assignment.match(lines[number]):
                return number + 1
        return start + 1

    return find


def _parse_yaml(path: Path, text: str) -> tuple[Any, Any]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {exc}") from None

    def find(loc: Loc) -> int | None:
        current, line = node, None
        for part in loc:
            if isinstance(current, yaml.MappingNode):
                match = next((v for k, v in current.value if k.value == part), None)
                if match is None:
                    key_node = next((k for k, _ in current.value if k.value == part), None)
                    return (key_node.start_mark.line + 1) if key_node else line
                current = match
            elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) \
                    and part < len(current.value):
                current = current.value[part]
            else:
                break
            line = current.start_mark.line + 1
        return line

    return data, find
