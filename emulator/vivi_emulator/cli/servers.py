"""Running the app on an ASGI server: granian (the default) or uvicorn, one or more workers."""

from __future__ import annotations

import errno
import os
import signal
import socket
from enum import StrEnum

from vivi_emulator.service import Emulator
from vivi_emulator.settings import RESOLVED_ENV, Settings, dump_resolved

FACTORY = "vivi_emulator.app:create_app_from_env"


class Server(StrEnum):
    """The servers the emulator runs on (``settings.ServerName``): the CLI's choices. granian
    serves the app over ASGI, or over RSGI, its native interface (``granian-rsgi``)."""

    GRANIAN = "granian"
    GRANIAN_RSGI = "granian-rsgi"
    UVICORN = "uvicorn"


class PortInUse(Exception):
    pass


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on.

    granian binds with SO_REUSEPORT, so a second emulator on the same port would start and the
    kernel would share connections between the two at random: flaky tests with no
    explanation. A plain bind (no SO_REUSEPORT) fails if anything holds the port.
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR only lets us bind over connections in TIME_WAIT, as servers do.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {port} on {host} is already in use (another emulator or server?): "
                    "stop it, or choose another with --port"
                ) from None
            raise


def run_uvicorn(settings: Settings, log_level: str, emulator: Emulator) -> None:
    import uvicorn

    from vivi_emulator.app import create_app

    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again for the
    # handler that was there before it. A no-op handler there makes a requested stop what it is
    # for a service (and for `docker stop`): a clean exit with status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    common = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,  # the emulator logs its own line, without headers
        "log_level": log_level,
        "timeout_graceful_shutdown": 3,
        "limit_concurrency": settings.max_connections * settings.workers,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings, emulator), **common)  # type: ignore[arg-type]
        return
    # Worker processes import the app: they read the settings from the environment.
    os.environ[RESOLVED_ENV] = dump_resolved(settings)
    uvicorn.run(FACTORY, factory=True, workers=settings.workers, **common)  # type: ignore[arg-type]


def run_granian(settings: Settings, log_level: str, _: Emulator) -> None:
    # granian imports the app in its worker processes, each of which builds its own Emulator
    # from the settings handed over in the environment (secrets intact, never on argv).
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[RESOLVED_ENV] = dump_resolved(settings)
    Granian(
        FACTORY,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI if settings.server == "granian-rsgi" else Interfaces.ASGI,
        workers=settings.workers,
        # granian's default caps a worker at backlog / workers (1,024) connections at once;
        # each long-lived stream holds one.
        backlog=max(1024, min(settings.max_connections * settings.workers, 65535)),
        backpressure=settings.max_connections,
        log_access=False,
        log_level=log_level,  # type: ignore[arg-type]
    ).serve()
