"""``vivi-emulator serve``: load the settings and the fixtures, print the banner, run a server."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from vivi_emulator import __version__, metrics
from vivi_emulator.access_log import configure_logging
from vivi_emulator.cli.params import LogLevel, options_command
from vivi_emulator.cli.servers import (
    PortInUse,
    Server,
    check_port_free,
    run_granian,
    run_uvicorn,
)
from vivi_emulator.scenarios.loader import FixtureError, ScenarioSet
from vivi_emulator.service import Emulator
from vivi_emulator.settings import (
    DEFAULT_API_KEY,
    ConfigError,
    Settings,
    load_settings,
)
from vivi_emulator.store import StoreUnavailable, open_store
from vivi_emulator.store.redis.url import where


def _banner(settings: Settings, scenarios: ScenarioSet) -> str:
    base = f"http://{settings.host}:{settings.port}"
    lines = [f"vivi-emulator {__version__} serving on {base} ({settings.server})"]
    folders = ", ".join(str(f) for f in settings.fixtures) or "the defaults"
    lines.append(f"  scenarios {len(scenarios.scenarios)} from {folders}")
    lines.append(f"  latency   {settings.latency.describe()}")
    if settings.chaos is not None and settings.chaos.active:
        lines.append(f"  chaos     {settings.chaos.describe()}")
    if settings.state == "memory":
        lines.append(f"  state     in memory ({settings.workers} worker)")
    else:
        lines.append(f"  state     {where(settings.state)} ({settings.workers} workers share it)")
    for channel in settings.channels:
        if settings.uses_default_channel:
            # The one key ever printed: the embedded, public demo key.
            lines.append(f"  channel {channel.id}  key {DEFAULT_API_KEY}  (embedded default)")
        else:
            lines.append(f"  channel {channel.id}  key (configured, not shown)")
    lines += [
        f"  playground {base}/   API docs {base}/docs",
        f"  contract  {base}/openapi.json",
        f"  health    {base}/_emulator/health",
    ]
    if settings.uses_default_channel:
        lines.append(
            f"  try: curl -N {base}/channelsApi/demo-channel/stream -H 'vivi-api-key: demo-key' "
            "-H 'Content-Type: application/json' "
            """-d '{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'"""
        )
    return "\n".join(lines)


# --help's groups of options.
_WHERE = "Where it listens"
_REPLIES = "Replies"
_SCALE = "Server, state and workers"
_RUN = "Settings file and logs"


def _default(name: str) -> str:
    """A setting's default as --help shows it (the option's own default is None: not given)."""
    return str(Settings.model_fields[name].default)


@dataclass(frozen=True, kw_only=True)
class ServeArgs:
    """The command's options, as given; None: as the settings file, the environment or the
    defaults say."""

    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (0.0.0.0: every interface, as in a container).",
            metavar="ADDRESS",
            show_default=_default("host"),
            rich_help_panel=_WHERE,
        ),
    ] = None
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on.",
            metavar="PORT",
            show_default=_default("port"),
            rich_help_panel=_WHERE,
        ),
    ] = None
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Base of uploaded files' URLs, when clients reach the emulator through a proxy.",
            metavar="URL",
            show_default="the URL as called",
            rich_help_panel=_WHERE,
        ),
    ] = None
    fixtures: Annotated[
        list[Path] | None,
        typer.Option(
            help="A folder of scenario files (repeatable); its scenarios override the defaults "
            "by name.",
            file_okay=False,
            metavar="FOLDER",
            show_default="the built-in scenarios only",
            rich_help_panel=_REPLIES,
        ),
    ] = None
    reload: Annotated[
        bool,
        typer.Option(help="Reload fixtures when a file changes.", rich_help_panel=_REPLIES),
    ] = True
    latency: Annotated[
        str | None,
        typer.Option(
            help="How replies are paced: realistic (an agent on a hosted model), none (at once), "
            "or a profile file (`vivi-emulator fixtures fit-latency` writes one).",
            metavar="realistic|none|FILE",
            show_default="realistic",
            rich_help_panel=_REPLIES,
        ),
    ] = None
    time_scale: Annotated[
        float | None,
        typer.Option(
            help="Multiply every delay (0.5: replay twice as fast; 0: no delays at all).",
            min=0.0,
            metavar="FACTOR",
            show_default=_default("time_scale"),
            rich_help_panel=_REPLIES,
        ),
    ] = None
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the random delays and chaos: the same seed repeats a run exactly.",
            metavar="N",
            show_default="0",
            rich_help_panel=_REPLIES,
        ),
    ] = None
    server: Annotated[
        Server | None,
        typer.Option(
            help="Server (granian-rsgi: granian's native interface).",
            show_default=_default("server"),
            rich_help_panel=_SCALE,
        ),
    ] = None
    state: Annotated[
        str | None,
        typer.Option(
            help="Where state lives: memory, or a Redis URL shared by every worker and replica "
            "(a password is better given in VIVI_EMULATOR_STATE).",
            metavar="memory|redis://HOST:PORT/DB",
            show_default=_default("state"),
            rich_help_panel=_SCALE,
        ),
    ] = None
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (more than one needs --state redis://...).",
            metavar="N",
            show_default=_default("workers"),
            rich_help_panel=_SCALE,
        ),
    ] = None
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Connections one worker serves at once (each open stream holds one).",
            metavar="N",
            show_default=_default("max_connections"),
            rich_help_panel=_SCALE,
        ),
    ] = None
    config: Annotated[
        Path | None,
        typer.Option(
            help="A YAML or TOML settings file (every setting, channels and keys included).",
            envvar="VIVI_EMULATOR_CONFIG",
            metavar="FILE",
            show_default="none",
            rich_help_panel=_RUN,
        ),
    ] = None
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request.", rich_help_panel=_RUN)
    ] = True
    log_level: Annotated[LogLevel, typer.Option(help="How much to log.", rich_help_panel=_RUN)] = (
        LogLevel.INFO
    )

    def overrides(self) -> dict[str, Any]:
        """The settings these options give (None: not given)."""
        return {
            "host": self.host,
            "port": self.port,
            "server": self.server.value if self.server is not None else None,
            "public_url": self.public_url,
            "seed": self.seed,
            "time_scale": self.time_scale,
            "latency": self.latency,
            "fixtures": self.fixtures or None,
            "access_log": None if self.access_log else False,
            "reload_fixtures": None if self.reload else False,
            "state": self.state,
            "workers": self.workers,
            "max_connections": self.max_connections,
        }


@options_command(ServeArgs)
def serve(args: ServeArgs) -> None:
    """Serve the emulator (defaults: 127.0.0.1:8000, channel demo-channel, key demo-key).

    Each option can also come from the settings file (--config) or the environment
    (VIVI_EMULATOR_PORT, VIVI_EMULATOR_STATE, ...); an option given here wins.

    Example: `vivi-emulator serve --port 8080 --latency none --fixtures my-scenarios/`
    """
    configure_logging(args.log_level)
    try:
        settings = load_settings(
            args.config,
            overrides=args.overrides(),
            # serve types like an agent unless told otherwise (README, "Latency"); the pytest
            # plugin and contract keep the settings' own default, none.
            defaults={"latency": "realistic"},
        )
        _check_listen(settings)
        _check_state(settings)
        # Load the fixtures once here, so a broken file stops the start with its reasons
        # instead of failing inside a server's worker.
        emulator = Emulator(settings)
    except ConfigError as exc:
        typer.echo(f"vivi-emulator: {exc}", err=True)
        raise typer.Exit(2) from None
    except FixtureError as exc:
        typer.echo(f"vivi-emulator: the fixtures do not load:\n{exc}", err=True)
        raise typer.Exit(2) from None
    except (PortInUse, StoreUnavailable) as exc:
        typer.echo(f"vivi-emulator: {exc}", err=True)
        raise typer.Exit(2) from None

    typer.echo(_banner(settings, emulator.scenarios))
    sys.stdout.flush()
    run = run_uvicorn if settings.server == "uvicorn" else run_granian
    with metrics.shared_by_workers(settings.workers):
        run(settings, args.log_level, emulator)


def _check_listen(settings: Settings) -> None:
    """PortInUse, or a ConfigError for an address that is not this machine's or a port that
    needs privileges: said before any worker starts, not as a server's traceback."""
    try:
        check_port_free(settings.host, settings.port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror} (--host, --port)"
        ) from None


def _check_state(settings: Settings) -> None:
    """A shared store must answer before any worker starts (StoreUnavailable if not)."""
    if settings.state == "memory":
        return
    channels = {c.id: c.key.get_secret_value() for c in settings.channels}

    async def check() -> None:
        store = open_store(settings.state, channels, Emulator.bounds_of(settings))
        try:
            await store.check()
        finally:
            await store.close()

    asyncio.run(check())
