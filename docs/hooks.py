"""MkDocs hook: the generated parts of the reference, rebuilt on every build.

Two pages hold a marker comment that this hook replaces with text generated from the
code, so the reference cannot drift from the program:

- ``<!-- matloop:campaign-schema -->`` (docs/reference/campaign-file.md): one table per
  section of the campaign file (field, type, default, description), read from the
  pydantic models of ``matloop.campaigns.schema`` (``Campaign.model_fields``).
- ``<!-- matloop:cli -->`` (docs/reference/cli.md): the ``--help`` text of ``matloop``
  and of each of its commands, from the Typer app ``matloop.cli.main:app``.

Importing these modules is cheap (no torch). Listed under ``hooks:`` in mkdocs.yml.
"""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

if TYPE_CHECKING:
    from pydantic import BaseModel

    Model = type[BaseModel]

SCHEMA_MARKER = "<!-- matloop:campaign-schema -->"
CLI_MARKER = "<!-- matloop:cli -->"
HELP_WIDTH = 88


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if SCHEMA_MARKER in markdown:
        markdown = markdown.replace(SCHEMA_MARKER, campaign_schema_markdown())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_markdown())
    return markdown


# --- the campaign file ---------------------------------------------------------------


def campaign_schema_markdown() -> str:
    """One section per top-level key of ``Campaign``, one table per section model."""
    from matloop.campaigns.schema import Campaign

    out: list[str] = []
    for name, info in Campaign.model_fields.items():
        if info.exclude:  # e.g. ``source``: set by the loader, not part of the file
            continue
        models, is_list = _models_in(info.annotation)
        header = f"[[{name}]]" if is_list else f"[{name}]"
        required = "required" if info.is_required() else "optional"
        out.append(f"## `{header}`\n")
        if not models:  # a plain value at the top level (none today)
            out.append(_table([(name, info)]))
            continue
        out.append(f"*{required}{'; one or more entries' if is_list else ''}*\n")
        if len(models) == 1:
            out.append(_section(models[0]))
            for field, nested in models[0].model_fields.items():  # e.g. [[campaign.related]]
                inner, inner_list = _models_in(nested.annotation)
                if len(inner) == 1:
                    brackets = ("[[", "]]") if inner_list else ("[", "]")
                    out.append(f"### `{brackets[0]}{name}.{field}{brackets[1]}`\n")
                    out.append(_section(inner[0]))
            continue
        # a discriminated union: the fields every kind shares, then each kind
        discriminator = _discriminator(models)
        shared = _shared_fields(models, discriminator)
        kinds = ", ".join(f'`"{_kind_of(m, discriminator)}"`' for m in models)
        out.append(f"`{discriminator}` selects one of {kinds}.\n")
        if shared:
            out.append(f"### Every `{discriminator}`\n")
            out.append(_table([(n, models[0].model_fields[n]) for n in shared]))
        for model in models:
            kind = _kind_of(model, discriminator)
            out.append(f"### `{discriminator} = \"{kind}\"`\n")
            out.append(_section(model, skip=set(shared) | {discriminator}))
    return "\n".join(out)


def _section(model: Model, skip: set[str] | None = None) -> str:
    doc = _own_doc(model)
    rows = [(n, f) for n, f in model.model_fields.items()
            if not f.exclude and n not in (skip or set())]
    parts = []
    if doc:
        parts.append(doc + "\n")
    parts.append(_table(rows) if rows else "*(no other fields)*\n")
    return "\n".join(parts)


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, info in rows:
        lines.append(f"| `{name}` | {_cell(_type_text(info))} | {_cell(_default_text(info))} "
                     f"| {_cell(info.description or '')} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _own_doc(model: Model) -> str:
    import inspect

    doc = model.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if doc else ""


def _models_in(annotation: Any) -> tuple[list[Model], bool]:
    """The pydantic models an annotation holds (a model, a union of them, a list of one)."""
    from pydantic import BaseModel

    is_list = False
    annotation = _strip(annotation)
    if get_origin(annotation) in (list, tuple):
        is_list = True
        annotation = _strip(get_args(annotation)[0])
    members = _union_members(annotation)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    return models, is_list


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [_strip(a) for a in get_args(annotation)]
    return [annotation]


def _discriminator(models: list[Model]) -> str:
    """The field whose single-value ``Literal`` tells the members apart (``kind``)."""
    for name in models[0].model_fields:
        if all(name in m.model_fields and _literal_values(m.model_fields[name].annotation)
               for m in models):
            return name
    return "kind"


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    annotation = _strip(annotation)
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _kind_of(model: Model, discriminator: str) -> str:
    values = _literal_values(model.model_fields[discriminator].annotation)
    return str(values[0]) if values else model.__name__


def _shared_fields(models: list[Model], discriminator: str) -> list[str]:
    first = models[0].model_fields
    return [name for name, info in first.items()
            if name != discriminator and not info.exclude
            and all(name in m.model_fields and repr(m.model_fields[name]) == repr(info)
                    for m in models[1:])]


# types, constraints, defaults in TOML words

_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean",
          Path: "path", PurePath: "path", type(None): "unset"}


def _type_text(info: Any) -> str:
    text = _annotation_text(info.annotation)
    constraints = _constraints(info.metadata)
    return f"{text} ({', '.join(constraints)})" if constraints else text


def _annotation_text(annotation: Any) -> str:
    extra: list[str] = []
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        extra = _constraints(metadata)
        for item in metadata:  # Field(...) inside Annotated carries its own metadata
            extra += _constraints(getattr(item, "metadata", []))
        text = _annotation_text(base)
        return f"{text} ({', '.join(extra)})" if extra else text
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(f'`{_toml(a)}`' for a in args)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        return " or ".join(_annotation_text(a) for a in members)  # None: the default says
    if origin in (list, set, frozenset):
        return f"list of {_plural(_annotation_text(args[0]))}"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_plural(_annotation_text(args[0]))}"
        return "[" + ", ".join(_annotation_text(a) for a in args) + "]"
    if origin is dict:
        key, value = args
        if value is Any:
            return "table"
        return f"table ({_annotation_text(key)} → {_annotation_text(value)})"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(f"`{_toml(m.value)}`" for m in annotation)
    if annotation in _NAMES:
        return _NAMES[annotation]
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _plural(text: str) -> str:
    first, _, rest = text.partition(" ")
    if first in _NAMES.values():
        return f"{first}s {rest}".rstrip()
    return text


def _constraints(metadata: typing.Iterable[Any]) -> list[str]:
    words = []
    for item in metadata:
        for attr, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(item, attr, None)
            if value is not None and type(item).__name__ in (attr.capitalize(),
                                                             "Interval"):
                words.append(f"{symbol} {_toml(value)}")
        if type(item).__name__ == "MinLen":
            words.append(f"at least {item.min_length}")
        elif type(item).__name__ == "MaxLen":
            words.append(f"at most {item.max_length}")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            words.append(f"matching `{pattern}`")
    return words


def _default_text(info: Any) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return "(the section's defaults)"
    return f"`{_toml(value)}`"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, PurePath):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, enum.Enum):
        return _toml(value.value)
    return str(value)


# --- the command line ----------------------------------------------------------------


def cli_markdown() -> str:
    """``matloop --help`` and ``matloop COMMAND --help`` as plain text, one block each."""
    import typer.main

    from matloop.cli.main import app

    root = typer.main.get_command(app)
    # the command's own click ``Context`` class: Typer >= 0.29 ships its own copy of click
    context = root.context_class(root, info_name="matloop", terminal_width=HELP_WIDTH,
                                 max_content_width=HELP_WIDTH)
    out = ["### `matloop`\n", _help_block(root, context)]
    for name in root.list_commands(context):  # type: ignore[attr-defined]
        command = root.get_command(context, name)  # type: ignore[attr-defined]
        if command is None or command.hidden:
            continue
        sub = command.context_class(command, info_name=name, parent=context,
                                    terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH)
        out.append(f"### `matloop {name}`\n")
        out.append(_help_block(command, sub))
    return "\n".join(out)


def _help_block(command: Any, context: Any) -> str:
    # Typer renders help with rich (to the terminal) unless its markup mode is None;
    # plain click help is what a page needs
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    text = command.get_help(context).rstrip()
    return f"```text\n{text}\n```\n"
