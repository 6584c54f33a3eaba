"""``vivi-emulator wire-test``: play every wire option and preset against a client, in turn.

It serves the emulator (a ``serve`` process of its own) and forces each kit scenario in turn
through the control API, so the client needs no change: it calls its usual URL. With
``--client`` it runs the client once per scenario and judges what it printed and how it exited;
without, it waits for Enter between scenarios while you drive your client (an app, a browser).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated

import typer

from vivi_emulator.cli.params import options_command
from vivi_emulator.cli.servers import Server
from vivi_emulator.cli.wire_kit import Case, Client, Result, cases, listing, run_kit
from vivi_emulator.settings import DEFAULT_API_KEY, DEFAULT_CHANNEL_ID


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _emulator(port: int, server: Server, time_scale: float) -> Iterator[str]:
    """A ``serve`` process on loopback, healthy; stopped (SIGTERM) on the way out."""
    base = f"http://127.0.0.1:{port}"
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--server", server]
    args += ["--time-scale", str(time_scale), "--no-reload", "--no-access-log"]
    # Its output goes to a file, read only if it fails to start: a pipe nobody reads could fill.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, no shell
            [sys.executable, "-m", "vivi_emulator", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(process, base, log)
            yield base
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], base: str, log: IO[str]) -> None:
    import httpx  # here, not at the top: `serve` starts faster without it (issue 22)

    deadline = time.monotonic() + 30
    while process.poll() is None:
        try:
            if httpx.get(f"{base}/_emulator/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise typer.BadParameter("the emulator did not answer within 30 s")
        time.sleep(0.1)
    log.seek(0)
    raise typer.BadParameter(f"the emulator did not start:\n{log.read()}")


def _forcer(base: str) -> Callable[[str | None], None]:
    def force(name: str | None) -> None:
        import httpx

        response = httpx.put(f"{base}/_emulator/forced", json={"scenario": name}, timeout=10)
        response.raise_for_status()

    return force


def _row(result: Result) -> str:
    mark = "PASS" if result.verdict.ok else "FAIL"
    return f"{result.case.number:>2}. {mark}  {result.case.name}: {result.verdict.why}"


def _markdown(results: list[Result], command: str) -> str:
    lines = [
        f"# wire-test: `{command}`",
        "",
        "| # | scenario | a correct client | verdict |",
        "|---|---|---|---|",
    ]
    for r in results:
        verdict = ("pass" if r.verdict.ok else "**fail**") + f": {r.verdict.why}"
        lines.append(f"| {r.case.number} | `{r.case.name}` | {r.case.correct} | {verdict} |")
    return "\n".join(lines) + "\n"


def _interactive(kit: list[Case], base: str) -> None:
    force = _forcer(base)
    try:
        for position, case in enumerate(kit, 1):
            force(case.name)
            typer.echo(f"\n[{position}/{len(kit)}] {case.number}. {case.name} is on: ", nl=False)
            typer.echo(case.description)
            typer.echo(f"  a correct client {case.correct}; the reply is: {case.reply}")
            typer.echo("  run your client now; press Enter for the next (q: quit)", nl=False)
            sys.stdout.flush()
            answer = sys.stdin.readline()
            if not answer or answer.strip().lower() == "q":
                break
    finally:
        force(None)
    typer.echo("\ndone")


@dataclass(frozen=True, kw_only=True)
class WireTestArgs:
    """The command's options, as given."""

    client: Annotated[
        str | None,
        typer.Option(
            help="Run this command once per scenario and judge it (no shell; it gets "
            "VIVI_BASE_URL, VIVI_CHANNEL_ID, VIVI_API_KEY).",
            metavar="COMMAND",
            show_default="interactive: you drive your client, Enter for the next",
        ),
    ] = None
    list_only: Annotated[
        bool, typer.Option("--list", help="Print the numbered kit and what each should produce.")
    ] = False
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these scenarios (repeatable).", metavar="NAME", show_default="all 20"
        ),
    ] = None
    port: Annotated[
        int | None,
        typer.Option(
            help="Port of the emulator it starts.",
            metavar="PORT",
            show_default="8000; a free one with --client",
        ),
    ] = None
    server: Annotated[Server, typer.Option(help="ASGI server.")] = Server.GRANIAN
    time_scale: Annotated[
        float,
        typer.Option(
            help="Multiply every scripted time (0.1: idle-cut after 6 s, 524 after 10 s; "
            "1: real times).",
            min=0.0,
            metavar="FACTOR",
        ),
    ] = 0.1
    timeout: Annotated[
        float, typer.Option(help="Seconds a client run may take.", metavar="SECONDS")
    ] = 60.0
    report: Annotated[
        Path | None,
        typer.Option(help="Write the verdicts as Markdown.", metavar="FILE", show_default="none"),
    ] = None


@options_command(WireTestArgs)
def wire_test(args: WireTestArgs) -> None:
    """Check an SSE client against every wire fault and intermediary (docs/wire.md).

    Example: `vivi-emulator wire-test --client "node my_client.mjs" --report wire.md`
    """
    try:
        kit = cases(args.only or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from None
    if args.list_only:
        typer.echo(listing(kit))
        return
    chosen = args.port if args.port is not None else (_free_port() if args.client else 8000)
    with _emulator(chosen, args.server, args.time_scale) as base:
        typer.echo(f"vivi-emulator wire-test on {base} (time scale {args.time_scale:g})")
        typer.echo(f"  channel {DEFAULT_CHANNEL_ID}  key {DEFAULT_API_KEY}")
        if args.client is None:
            typer.echo(listing(kit))
            _interactive(kit, base)
            return
        env = {
            "VIVI_BASE_URL": base,
            "VIVI_CHANNEL_ID": DEFAULT_CHANNEL_ID,
            "VIVI_API_KEY": DEFAULT_API_KEY,
        }
        under_test = Client(args.client, env, args.timeout)
        results = run_kit(kit, under_test, _forcer(base), lambda r: typer.echo(_row(r)))
    passed = sum(r.verdict.ok for r in results)
    typer.echo(f"{passed} of {len(results)} passed")
    if args.report is not None:
        args.report.write_text(_markdown(results, args.client), encoding="utf-8")
    if passed != len(results):
        raise typer.Exit(1)
