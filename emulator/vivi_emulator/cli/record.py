"""``vivi-emulator record``: a recording proxy in front of a real VIVI deployment.

Light to import: the proxy (httpx, uvicorn) loads when the command runs, and nothing here
loads schemathesis (a test keeps it so).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from vivi_emulator.cli.params import LogLevel, options_command


@dataclass(frozen=True, kw_only=True)
class RecordArgs:
    """The command's options, as given."""

    upstream: Annotated[
        str | None,
        typer.Option(
            help="Base URL of the real VIVI deployment: https://api-prod-<deployment>.vivi.bot.",
            metavar="URL",
            show_default="none: give it, or --from-har",
        ),
    ] = None
    from_har: Annotated[
        Path | None,
        typer.Option(
            help="Instead of a proxy: turn a HAR file captured against the real VIVI (a "
            "browser's network panel) into fixtures in --out.",
            dir_okay=False,
            metavar="FILE",
            show_default="none: a proxy",
        ),
    ] = None
    host: Annotated[str, typer.Option(help="Address the proxy listens on.", metavar="ADDRESS")] = (
        "127.0.0.1"
    )
    port: Annotated[int, typer.Option(help="Port the proxy listens on.", metavar="PORT")] = 8100
    out: Annotated[
        Path,
        typer.Option(help="Folder for the recording files.", file_okay=False, metavar="FOLDER"),
    ] = Path("recordings")
    timeout: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for the upstream between two reads.", min=0.1, metavar="SECONDS"
        ),
    ] = 300.0
    log_level: Annotated[LogLevel, typer.Option(help="How much to log.")] = LogLevel.INFO


@options_command(RecordArgs)
def record(args: RecordArgs) -> None:
    """A recording proxy: point a client at it, and what the real API answers becomes fixtures.

    Every request goes to the upstream unchanged; the answer streams back as it arrives. The
    message operations are written as scenarios (`serve --fixtures <out>` replays them; `contract
    --compare <out>` checks them). The API key, credential headers and every value sent under a
    credential's name are never written. Request bodies have the emulator's limits (the settings'
    `limits`, from VIVI_EMULATOR_CONFIG or the environment). With --from-har, a HAR file captured
    against the real API is turned into the same fixtures.

    Example: `vivi-emulator record --upstream https://api-prod-acme.vivi.bot --out recordings`
    """
    if (args.upstream is None) == (args.from_har is None):
        typer.echo("vivi-emulator record: give --upstream (a proxy) or --from-har FILE", err=True)
        raise typer.Exit(2)
    if args.from_har is not None:
        _from_har(args.from_har, args.out)
        return
    assert args.upstream is not None
    _proxy(args, args.upstream)


def _from_har(har: Path, out: Path) -> None:
    from vivi_emulator.record.from_har import HarError, record_from_har

    try:
        path, count = record_from_har(har, out)
    except HarError as exc:
        typer.echo(f"vivi-emulator record: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"vivi-emulator record: {count} scenarios from {har} in {path}\n"
        f"  replay: vivi-emulator serve --fixtures {out}"
    )


def _proxy(args: RecordArgs, upstream: str) -> None:
    import uvicorn

    from vivi_emulator.record.proxy import RecordingProxy, safe_upstream
    from vivi_emulator.settings import ConfigError, load_settings

    parts = urlsplit(upstream)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        typer.echo("vivi-emulator record: --upstream must be an http(s) base URL", err=True)
        raise typer.Exit(2)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        limits = load_settings().limits
    except ConfigError as exc:
        typer.echo(f"vivi-emulator record: {exc}", err=True)
        raise typer.Exit(2) from None
    proxy = RecordingProxy(upstream, args.out, timeout=args.timeout, limits=limits)
    typer.echo(
        f"vivi-emulator record: http://{args.host}:{args.port} -> {safe_upstream(upstream)}\n"
        f"  recording into {proxy.recording.path} (written after every answer)\n"
        f"  replay: vivi-emulator serve --fixtures {args.out}\n"
        f"  drift:  vivi-emulator contract --compare {proxy.recording.path}"
    )
    sys.stdout.flush()
    uvicorn.run(
        proxy,
        host=args.host,
        port=args.port,
        access_log=False,  # headers hold the key; the proxy logs its own lines
        log_level=args.log_level,
        timeout_graceful_shutdown=3,
    )
