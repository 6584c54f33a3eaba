"""``vivi-emulator journal``: read a running emulator's journal, as JSON or as a HAR 1.2 file.

The admin token (needed when the emulator listens on a non-loopback address) comes from the
environment, ``VIVI_EMULATOR_ADMIN_TOKEN``, never from an option: a command line is visible to
every user of the machine (``ps``) and kept in shell histories.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from vivi_emulator.cli.params import options_command

TOKEN_ENV = "VIVI_EMULATOR_ADMIN_TOKEN"  # noqa: S105 (the variable's name, not a token)
URL_ENV = "VIVI_EMULATOR_URL"
DEFAULT_URL = "http://127.0.0.1:8000"


def _fetch(url: str, path: str, params: dict[str, str | int]) -> bytes:
    # Imported here, not at the top: `serve` starts faster without them (issue 22).
    import httpx

    from vivi_emulator.control.access import ADMIN_HEADER

    token = os.environ.get(TOKEN_ENV)
    headers = {ADMIN_HEADER: token} if token else {}
    try:
        response = httpx.get(url.rstrip("/") + path, params=params, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        typer.echo(f"vivi-emulator journal: cannot reach the emulator at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code in (401, 403):
        typer.echo(
            f"vivi-emulator journal: the emulator at {url} refused its control API "
            f"({response.status_code}); set {TOKEN_ENV} to its admin token",
            err=True,
        )
        raise typer.Exit(1)
    if not response.is_success:
        typer.echo(
            f"vivi-emulator journal: the emulator at {url} answered {response.status_code}: "
            f"{response.text[:500]}",
            err=True,
        )
        raise typer.Exit(1)
    return response.content


@dataclass(frozen=True)
class JournalArgs:
    url: Annotated[
        str, typer.Option(envvar=URL_ENV, help="The emulator's base URL.", metavar="URL")
    ] = DEFAULT_URL
    har: Annotated[
        Path | None,
        typer.Option(
            help="Write the journal as a HAR 1.2 file here ('-': standard output).",
            metavar="FILE",
            show_default="JSON on standard output",
        ),
    ] = None
    channel: Annotated[
        str | None,
        typer.Option(help="Only this channel's requests.", metavar="ID", show_default="all"),
    ] = None
    thread: Annotated[
        str | None,
        typer.Option(help="Only this thread's requests.", metavar="ID", show_default="all"),
    ] = None
    path: Annotated[
        str | None,
        typer.Option(help="Only this path (or its last part).", metavar="PATH", show_default="all"),
    ] = None
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="The newest N.", metavar="N")] = 1000


@options_command(JournalArgs)
def journal(args: JournalArgs) -> None:
    """Read a running emulator's journal: JSON on standard output, or a HAR file (--har).

    The admin token, when the emulator needs one, is read from VIVI_EMULATOR_ADMIN_TOKEN.

    Example: `vivi-emulator journal --channel demo-channel --har journal.har`
    """
    params: dict[str, str | int] = {"limit": args.limit}
    for name, value in (("channel", args.channel), ("thread", args.thread), ("path", args.path)):
        if value is not None:
            params[name] = value
    if args.har is None:
        sys.stdout.buffer.write(_fetch(args.url, "/_emulator/journal", params) + b"\n")
        return
    data = _fetch(args.url, "/_emulator/journal.har", params)
    if str(args.har) == "-":
        sys.stdout.buffer.write(data + b"\n")
        return
    args.har.write_bytes(data)
    typer.echo(f"vivi-emulator journal: wrote {args.har} ({len(data)} bytes)", err=True)
