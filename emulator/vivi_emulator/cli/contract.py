"""``vivi-emulator contract``: check a target against the contract, and report.

The target is the in-process emulator (the default), any base URL (``--url``, the real VIVI API
included), or recorded answers (``--compare``). The command writes a terminal summary, a Markdown
report and a JUnit XML file; its exit status is 0 only when the target conforms.

schemathesis is imported when a run starts, not with the command line.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from vivi_emulator.cli.params import options_command
from vivi_emulator.contract.options import PHASES, RunOptions
from vivi_emulator.redaction import Redactor
from vivi_emulator.settings import DEFAULT_API_KEY, DEFAULT_CHANNEL_ID

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from vivi_emulator.contract.report import RunInfo
    from vivi_emulator.contract.result import Conformance

# Against a real service: at most this many requests a second unless told otherwise, and
# generated files no larger than this.
DEFAULT_RATE_LIMIT = "5/s"
# What schemathesis' limiter reads: a whole count per second, minute, hour or day.
_RATE = re.compile(r"[1-9][0-9]*/[smhd]")
DEFAULT_MAX_UPLOAD_BYTES = 4096
MARKDOWN_NAME = "contract-report.md"
JUNIT_NAME = "contract-junit.xml"


# --help's groups of options.
_TARGET = "Target"
_SCOPE = "What to check"
_LIMITS = "Limits (for a real service)"
_OUTPUT = "Output"


@dataclass(frozen=True, kw_only=True)
class ContractArgs:
    """The command's options, as given (the key never in a repr)."""

    url: Annotated[
        str | None,
        typer.Option(
            help="Base URL of the target (the real API: https://api-prod-<deployment>.vivi.bot).",
            metavar="URL",
            show_default="the emulator in-process, no network",
            rich_help_panel=_TARGET,
        ),
    ] = None
    channel: Annotated[
        str | None,
        typer.Option(
            help="The channel id to test.",
            envvar="VIVI_CHANNEL_ID",
            metavar="ID",
            show_default=DEFAULT_CHANNEL_ID,
            rich_help_panel=_TARGET,
        ),
    ] = None
    api_key: Annotated[
        str | None,
        typer.Option(
            help="The channel's API key; better given as VIVI_API_KEY, so it never appears on a "
            "command line. Removed from every report.",
            envvar="VIVI_API_KEY",
            metavar="KEY",
            show_default="none; the emulator's own key in-process",
            rich_help_panel=_TARGET,
        ),
    ] = field(default=None, repr=False)
    compare: Annotated[
        list[Path] | None,
        typer.Option(
            help="Check recorded answers (files or folders written by `record`) against the "
            "contract, without sending anything. Repeatable.",
            metavar="PATH",
            show_default="none: requests are sent",
            rich_help_panel=_TARGET,
        ),
    ] = None
    operation: Annotated[
        list[str] | None,
        typer.Option(
            help="Test only this operation id (repeatable), e.g. streamMessage.",
            metavar="ID",
            show_default="all",
            rich_help_panel=_SCOPE,
        ),
    ] = None
    exclude_operation: Annotated[
        list[str] | None,
        typer.Option(
            help="Do not test this operation id (repeatable).",
            metavar="ID",
            show_default="none",
            rich_help_panel=_SCOPE,
        ),
    ] = None
    phase: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Run only this phase (repeatable): {', '.join(PHASES)}.",
            metavar="PHASE",
            show_default="all",
            rich_help_panel=_SCOPE,
        ),
    ] = None
    max_examples: Annotated[
        int,
        typer.Option(
            help="Examples generated per operation and phase.",
            min=1,
            metavar="N",
            rich_help_panel=_SCOPE,
        ),
    ] = 10
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the generated examples (the same seed, the same requests).",
            metavar="N",
            show_default="random",
            rich_help_panel=_SCOPE,
        ),
    ] = None
    rate_limit: Annotated[
        str | None,
        typer.Option(
            help="At most this many requests, e.g. 5/s or 100/m; 'none' for no limit.",
            metavar="N/s|N/m|none",
            show_default=f"{DEFAULT_RATE_LIMIT} with --url, none in-process",
            rich_help_panel=_LIMITS,
        ),
    ] = None
    max_events: Annotated[
        int,
        typer.Option(
            help="Read at most this many events of one stream.",
            min=1,
            metavar="N",
            rich_help_panel=_LIMITS,
        ),
    ] = 1000
    max_stream_bytes: Annotated[
        int,
        typer.Option(
            help="Read at most this many bytes of one stream.",
            min=1,
            metavar="BYTES",
            rich_help_panel=_LIMITS,
        ),
    ] = 16 * 1024 * 1024
    stream_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds for one request, reading its whole stream included.",
            min=0.1,
            metavar="SECONDS",
            rich_help_panel=_LIMITS,
        ),
    ] = 30.0
    max_time: Annotated[
        int | None,
        typer.Option(
            help="Stop the whole run after this many seconds.",
            min=1,
            metavar="SECONDS",
            show_default="no limit",
            rich_help_panel=_LIMITS,
        ),
    ] = None
    max_upload_bytes: Annotated[
        int | None,
        typer.Option(
            help="Cut every generated file to this size (no large uploads to a real service "
            "unless asked).",
            min=0,
            metavar="BYTES",
            show_default=f"{DEFAULT_MAX_UPLOAD_BYTES} with --url, no limit in-process",
            rich_help_panel=_LIMITS,
        ),
    ] = None
    report_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Folder for {MARKDOWN_NAME} and {JUNIT_NAME} (created if needed).",
            file_okay=False,
            metavar="FOLDER",
            rich_help_panel=_OUTPUT,
        ),
    ] = Path("contract-report")
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Colours in the summary.",
            show_default="when the output is a terminal and NO_COLOR is not set",
            rich_help_panel=_OUTPUT,
        ),
    ] = None
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Every finding with its message and contract part, every warning, and the "
            "progress lines. Default: the verdict and one line per finding.",
            rich_help_panel=_OUTPUT,
        ),
    ] = False
    progress: Annotated[
        bool | None,
        typer.Option(
            help="One line per operation and phase as the run goes (stderr).",
            show_default="with -v",
            rich_help_panel=_OUTPUT,
        ),
    ] = None


@options_command(ContractArgs)
def contract(args: ContractArgs) -> None:
    """Check a target against the contract; exit status 0 only when it conforms.

    Findings are sorted by the contract parts they touch: `documented` (the API broke its docs)
    or `inferred` (our guess was wrong: the contract must change). See docs/contract-testing.md.
    Needs the contract extra: pip install 'vivi-emulator[contract]'.

    Example: `VIVI_CHANNEL_ID=my-channel VIVI_API_KEY=... vivi-emulator contract --url
    https://api-prod-acme.vivi.bot`
    """
    from vivi_emulator.contract.report import passed

    _require_contract_extra()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    if args.compare and args.url:
        raise _fail("give --url or --compare, not both")
    redact = Redactor([args.api_key or ""])
    if args.compare:
        result, info = _compare(args.compare, redact)
    else:
        result, info = _live(args, redact)
    _report(result, replace(info, started_at=started_at), args)
    raise typer.Exit(0 if passed(result) else 1)


# The base install leaves schemathesis out (pyproject.toml, extra "contract"): it and hypothesis
# would load their pytest plugins into every test run of a project that installs the emulator.
INSTALL_HINT = "pip install 'vivi-emulator[contract]'"


def _require_contract_extra() -> None:
    """Stop with the one command that installs what a run needs, before anything else."""
    # find_spec looks without importing: the check costs nothing when schemathesis is there.
    missing = [
        name for name in ("schemathesis", "requests") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise _fail(
            f"needs {' and '.join(missing)}, which the base install leaves out; install the "
            f"contract extra: {INSTALL_HINT} (from a clone: pip install '.[contract]')"
        )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"vivi-emulator contract: {message}", err=True)
    return typer.Exit(2)


def _compare(paths: list[Path], redact: Redactor) -> tuple[Conformance, RunInfo]:
    from vivi_emulator.contract.compare import compare_recordings
    from vivi_emulator.contract.report import RunInfo

    info = RunInfo(target=", ".join(str(p) for p in paths), mode="compare", redact=redact)
    return compare_recordings(paths), info


def _live(args: ContractArgs, redact: Redactor) -> tuple[Conformance, RunInfo]:
    from vivi_emulator.contract.report import RunInfo
    from vivi_emulator.contract.run import check_conformance

    if args.url is not None:
        _check_remote(args, redact)
    try:
        options = run_options(args)
        info = RunInfo(
            target=args.url or "the emulator, in-process",
            channel=options.channel_id,
            options=described(options),
            redact=redact,
        )

        def show(line: str) -> None:
            typer.echo(redact(line), err=True)

        target = args.url if args.url is not None else _emulator(options)
        progress = args.verbose if args.progress is None else args.progress
        result = check_conformance(target, options, progress=show if progress else None)
    except ValueError as exc:
        raise _fail(redact(str(exc))) from None
    return result, info


def _check_remote(args: ContractArgs, redact: Redactor) -> None:
    assert args.url is not None
    parts = urlsplit(args.url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise _fail(f"--url must be an http(s) base URL, got {redact(args.url)!r}")
    if parts.username or parts.password:
        raise _fail("--url must not hold a user or password")
    if not args.channel:
        raise _fail("give the channel id: --channel or VIVI_CHANNEL_ID")
    if not args.api_key:
        raise _fail("give the API key: VIVI_API_KEY (or --api-key)")


def run_options(args: ContractArgs) -> RunOptions:
    """What the run may do: the options given, and the defaults that differ for a real service
    (a rate limit, small uploads)."""
    remote = args.url is not None
    rate_limit = args.rate_limit
    if rate_limit is None:
        rate_limit = DEFAULT_RATE_LIMIT if remote else None
    elif rate_limit.strip().lower() in {"", "0", "none", "off"}:
        rate_limit = None
    elif not _RATE.fullmatch(rate_limit := rate_limit.strip()):
        raise ValueError(
            f"--rate-limit must be a count per second, minute, hour or day (5/s, 100/m, "
            f"1000/h, 10000/d) or none, not {rate_limit!r}"
        )
    upload_cap = args.max_upload_bytes
    if upload_cap is None and remote:
        upload_cap = DEFAULT_MAX_UPLOAD_BYTES
    return RunOptions(
        channel_id=args.channel or DEFAULT_CHANNEL_ID,
        api_key=args.api_key or DEFAULT_API_KEY,
        max_examples=args.max_examples,
        seed=args.seed,
        phases=tuple(args.phase or PHASES),
        rate_limit=rate_limit,
        max_stream_events=args.max_events,
        max_stream_bytes=args.max_stream_bytes,
        request_timeout=args.stream_timeout,
        operations=tuple(args.operation or ()),
        exclude_operations=tuple(args.exclude_operation or ()),
        max_upload_bytes=upload_cap,
        max_time=args.max_time,
    )


def described(options: RunOptions) -> dict[str, str]:
    """The run's options, for the reports' headers."""
    table = {
        "max examples": str(options.max_examples),
        "phases": ", ".join(options.phases),
        "rate limit": options.rate_limit or "none",
        "max events per stream": str(options.max_stream_events),
        "max bytes per stream": str(options.max_stream_bytes),
        "seconds per request": f"{options.request_timeout:g}",
        "max run time": f"{options.max_time} s" if options.max_time else "none",
        "max upload bytes": (
            str(options.max_upload_bytes) if options.max_upload_bytes is not None else "no limit"
        ),
    }
    if options.operations:
        table["operations"] = ", ".join(options.operations)
    if options.exclude_operations:
        table["excluded operations"] = ", ".join(options.exclude_operations)
    if options.seed is not None:
        table["seed"] = str(options.seed)
    return table


def _emulator(options: RunOptions) -> ASGIApp:
    """The emulator, in-process, with the run's channel and key."""
    from pydantic import SecretStr

    from vivi_emulator.app import create_app
    from vivi_emulator.settings import Channel, Settings

    channels = (Channel(id=options.channel_id, key=SecretStr(options.api_key)),)
    return create_app(Settings(channels=channels, access_log=False, reload_fixtures=False))


def _report(result: Conformance, info: RunInfo, args: ContractArgs) -> None:
    from vivi_emulator.contract.report import junit_xml, markdown, stdout_color, terminal_summary

    folder = args.report_dir
    written = []
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKDOWN_NAME).write_text(markdown(result, info), encoding="utf-8")
        (folder / JUNIT_NAME).write_text(junit_xml(result, info), encoding="utf-8")
        written = [folder / MARKDOWN_NAME, folder / JUNIT_NAME]
    use = stdout_color(args.color)
    typer.echo(terminal_summary(result, info, color=use, verbose=args.verbose), color=use)
    if written:
        typer.echo(f"\nreports: {', '.join(str(p) for p in written)}")
