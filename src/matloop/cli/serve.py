"""``matloop serve``: the web page and JSON API over a folder of campaigns."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def serve_command(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="folder of campaign files (*.toml)")
                      ] = Path("."),
    host: Annotated[str, typer.Option(help="address to listen on; another than loopback "
                                      "needs a token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    token: Annotated[str | None, typer.Option(
        help="required on every request (default: the MATLOOP_SERVE_TOKEN environment "
        "variable); open the page once with ?token=...", show_default=False)] = None,
) -> None:
    """Serve a web page and a JSON API for every campaign in FOLDER."""
    import uvicorn

    from matloop.web.app import TOKEN_VARIABLE, check_host, create_app

    token = token or os.environ.get(TOKEN_VARIABLE) or None
    check_host(host, token)
    application = create_app(folder, token)
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    typer.echo(f"serving the campaigns in {folder.resolve()} at {where}"
               + (" (open it once with ?token=...)" if token else ""), err=True)
    uvicorn.run(application, host=host, port=port, log_level="warning")
