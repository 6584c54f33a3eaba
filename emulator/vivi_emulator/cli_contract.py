"""``vivi-emulator contract`` and ``vivi-emulator record``: contract runs and recordings.

``contract`` runs schemathesis with the project's contract against the in-process emulator (the
default), any base URL (``--url``, the real VIVI API included), or recorded answers
(``--compare``), and writes a terminal summary, a Markdown report and a JUnit XML file. Its exit
status is 0 only when the target conforms.

``record`` is a proxy in front of a real deployment that writes what it sees as fixture
scenarios (emulator/recorder.py).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from pydantic import SecretStr

from vivi_emulator.settings import DEFAULT_API_KEY, DEFAULT_CHANNEL_ID, Channel, Settings

if TYPE_CHECKING:  # schemathesis is imported when a contract run starts, not with the CLI
    from vivi_emulator.conformance import Conformance
    from vivi_emulator.contract_report import RunInfo

# The phases of vivi_emulator.conformance (a test keeps the two in step).
PHASES = ("examples", "coverage", "fuzzing", "stateful")

# Against a real service: at most this many requests a second unless told otherwise, and
# generated files no larger than this.
DEFAULT_RATE_LIMIT = "5/s"
DEFAULT_MAX_UPLOAD_BYTES = 4096
MARKDOWN_NAME = "contract-report.md"
JUNIT_NAME = "contract-junit.xml"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"vivi-emulator contract: {message}", err=True)
    return typer.Exit(2)


def _rate_limit(value: str | None, remote: bool) -> str | None:
    if value is None:
        return DEFAULT_RATE_LIMIT if remote else None
    if value.strip().lower() in {"", "0", "none", "off"}:
        return None
    return value


def contract(
    url: Annotated[
        str | None,
        typer.Option(
            help="Base URL of the target (the real API: https://api-prod-<deployment>.vivi.bot). "
            "Default: the emulator in-process, no network."
        ),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(help="The channel id to test.", envvar="VIVI_CHANNEL_ID"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="The channel's API key; better given as VIVI_API_KEY, so it never appears on a "
            "command line. Removed from every report.",
            envvar="VIVI_API_KEY",
            show_default=False,
        ),
    ] = None,
    compare: Annotated[
        list[Path] | None,
        typer.Option(
            help="Check recorded answers (files or folders written by `record`) against the "
            "contract, without sending anything. Repeatable.",
        ),
    ] = None,
    max_examples: Annotated[
        int, typer.Option(help="Examples generated per operation and phase.", min=1)
    ] = 10,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            help=f"At most this many requests, e.g. 5/s or 100/m; 'none' for no limit. "
            f"Default: {DEFAULT_RATE_LIMIT} with --url, none in-process.",
        ),
    ] = None,
    operation: Annotated[
        list[str] | None,
        typer.Option(help="Test only this operation id (repeatable), e.g. streamMessage."),
    ] = None,
    exclude_operation: Annotated[
        list[str] | None,
        typer.Option(help="Do not test this operation id (repeatable)."),
    ] = None,
    phase: Annotated[
        list[str] | None,
        typer.Option(help=f"Run only this phase (repeatable): {', '.join(PHASES)}. Default: all."),
    ] = None,
    max_events: Annotated[
        int, typer.Option(help="Read at most this many events of one stream.", min=1)
    ] = 1000,
    stream_timeout: Annotated[
        float,
        typer.Option(help="Seconds for one request, reading its whole stream included.", min=0.1),
    ] = 30.0,
    max_time: Annotated[
        int | None, typer.Option(help="Stop the whole run after this many seconds.", min=1)
    ] = None,
    max_upload_bytes: Annotated[
        int | None,
        typer.Option(
            help=f"Cut every generated file to this size. Default: {DEFAULT_MAX_UPLOAD_BYTES} "
            "with --url (no large uploads to a real service unless asked), no limit in-process.",
            min=0,
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the generated examples.")] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Folder for {MARKDOWN_NAME} and {JUNIT_NAME} (created if needed).",
            file_okay=False,
        ),
    ] = Path("contract-report"),
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Colours in the summary. Default: when the output is a terminal and NO_COLOR "
            "is not set.",
            show_default=False,
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="One line per operation and phase as the run goes (stderr).")
    ] = True,
) -> None:
    """Check a target against the contract; exit status 0 only when it conforms.

    Findings are sorted by the contract parts they touch: `documented` (the API broke its docs)
    or `inferred` (our guess was wrong: the contract must change). See docs/contract-testing.md.
    """
    from vivi_emulator.conformance import check_conformance, redactor
    from vivi_emulator.contract_report import RunInfo, passed

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    if compare and url:
        raise _fail("give --url or --compare, not both")
    secret = api_key or ""
    redact = redactor(secret) if secret else (lambda text: text)
    options: dict[str, str] = {}
    if compare:
        from vivi_emulator.drift import compare_recordings

        info = RunInfo(
            target=", ".join(str(p) for p in compare),
            mode="compare",
            started_at=started_at,
            redact=redact,
        )
        result = compare_recordings(compare)
    else:
        remote = url is not None
        if remote:
            assert url is not None
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise _fail(f"--url must be an http(s) base URL, got {redact(url)!r}")
            if parts.username or parts.password:
                raise _fail("--url must not hold a user or password")
            if not channel:
                raise _fail("give the channel id: --channel or VIVI_CHANNEL_ID")
            if not secret:
                raise _fail("give the API key: VIVI_API_KEY (or --api-key)")
        limit = _rate_limit(rate_limit, remote)
        upload_cap = max_upload_bytes
        if upload_cap is None and remote:
            upload_cap = DEFAULT_MAX_UPLOAD_BYTES
        channel_id = channel or DEFAULT_CHANNEL_ID
        key = secret or DEFAULT_API_KEY
        options = {
            "max examples": str(max_examples),
            "phases": ", ".join(phase or PHASES),
            "rate limit": limit or "none",
            "max events per stream": str(max_events),
            "seconds per request": f"{stream_timeout:g}",
            "max run time": f"{max_time} s" if max_time else "none",
            "max upload bytes": str(upload_cap) if upload_cap is not None else "no limit",
        }
        if operation:
            options["operations"] = ", ".join(operation)
        if exclude_operation:
            options["excluded operations"] = ", ".join(exclude_operation)
        if seed is not None:
            options["seed"] = str(seed)
        info = RunInfo(
            target=url or "the emulator, in-process",
            channel=channel_id,
            options=options,
            started_at=started_at,
            redact=redact,
        )
        app = None
        if not remote:
            from vivi_emulator.app import create_app

            channels = (Channel(id=channel_id, key=SecretStr(key)),)
            app = create_app(Settings(channels=channels, access_log=False, reload_fixtures=False))

        def show(line: str) -> None:
            typer.echo(redact(line), err=True)

        try:
            result = check_conformance(
                app=app,
                base_url=url,
                channel_id=channel_id,
                api_key=key,
                max_examples=max_examples,
                seed=seed,
                phases=phase,
                rate_limit=limit,
                max_stream_events=max_events,
                request_timeout=stream_timeout,
                operations=operation,
                exclude_operations=exclude_operation,
                max_upload_bytes=upload_cap,
                max_time=max_time,
                progress=show if progress else None,
            )
        except ValueError as exc:
            raise _fail(redact(str(exc))) from None
    _report(result, info, report_dir, color)
    raise typer.Exit(0 if passed(result) else 1)


def _report(result: Conformance, info: RunInfo, folder: Path | None, color: bool | None) -> None:
    from vivi_emulator.contract_report import junit_xml, markdown, stdout_color, terminal_summary

    written = []
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKDOWN_NAME).write_text(markdown(result, info), encoding="utf-8")
        (folder / JUNIT_NAME).write_text(junit_xml(result, info), encoding="utf-8")
        written = [folder / MARKDOWN_NAME, folder / JUNIT_NAME]
    use = stdout_color(color)
    typer.echo(terminal_summary(result, info, color=use), color=use)
    if written:
        typer.echo(f"\nreports: {', '.join(str(p) for p in written)}")


def record(
    upstream: Annotated[
        str,
        typer.Option(
            help="Base URL of the real VIVI deployment: https://api-prod-<deployment>.vivi.bot."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address the proxy listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the proxy listens on.")] = 8100,
    out: Annotated[
        Path,
        typer.Option(help="Folder for the recording files.", file_okay=False),
    ] = Path("recordings"),
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the upstream between two reads.", min=0.1)
    ] = 300.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """A recording proxy: point a client at it, and what the real API answers becomes fixtures.

    Every request goes to the upstream unchanged; the answer streams back as it arrives. The
    message operations are written as scenarios (`serve --fixtures <out>` replays them; `contract
    --compare <out>` checks them). The API key and credential headers are never written.
    """
    import uvicorn

    from vivi_emulator.recorder import RecordingProxy, safe_upstream

    parts = urlsplit(upstream)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        typer.echo("vivi-emulator record: --upstream must be an http(s) base URL", err=True)
        raise typer.Exit(2)
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    proxy = RecordingProxy(upstream, out, timeout=timeout)
    typer.echo(
        f"vivi-emulator record: http://{host}:{port} -> {safe_upstream(upstream)}\n"
        f"  recording into {proxy.recording.path} (written after every answer)\n"
        f"  replay: vivi-emulator serve --fixtures {out}\n"
        f"  drift:  vivi-emulator contract --compare {proxy.recording.path}"
    )
    sys.stdout.flush()
    uvicorn.run(
        proxy,
        host=host,
        port=port,
        access_log=False,  # headers hold the key; the proxy logs its own lines
        log_level=log_level,
        timeout_graceful_shutdown=3,
    )
