"""Helpers of scripts/image-smoke: the HTTP side of the image's smoke test, and a few host look-ups
(the Debian mirror: apt_mirror.py).

Standard library only (it runs on the CI host's python3, outside any virtualenv).

    smoke.py mirror [--suite bookworm]        the Debian mirror apt uses on this host
    smoke.py free-port                        a free TCP port on 127.0.0.1
    smoke.py start --port P -- CMD...         run CMD (podman run/start), time it to the first 200
    smoke.py stream --port P                  /stream with the default key: 200 and the event lines
    smoke.py wrong-key --port P               /stream with a wrong key: 401 and a JSON detail
    smoke.py stop --port P -- CMD...          open a stream, run CMD (podman stop) while it is in
                                              flight, time CMD and check how the stream ended

--channel and --key choose the channel and key (default: the embedded demo ones), --scenario sends
the `x-vivi-scenario` header, --expect-text is the exact text a stream must carry, --bad-key the
key that wrong-key sends (default: a random one).

Each command prints one line of facts as `key=value` pairs for the shell script to show, and exits
non-zero with a message on stderr when a check fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

from apt_mirror import mirror

HEALTH_PATH = "/_emulator/health"
DEFAULT_CHANNEL = "demo-channel"
DEFAULT_KEY = "demo-key"


class CheckFailed(Exception):
    pass


def cmd_mirror(args: argparse.Namespace) -> None:
    """The mirror that serves `suite` to apt here (the only Debian registry reachable)."""
    print(mirror(args.suite))


def cmd_free_port(args: argparse.Namespace) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1])


# ----------------------------------------------------------------------------------------------
# HTTP


def _connection(port: int, timeout: float) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def _health_ok(port: int) -> bool:
    conn = _connection(port, 1.0)
    try:
        conn.request("GET", HEALTH_PATH)
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    if resp.status != 200:
        return False
    try:
        return bool(json.loads(body).get("status") == "ok")
    except (ValueError, AttributeError):
        return False


MESSAGE = "hello"


def _open_stream(
    port: int, key: str, channel: str, timeout: float, scenario: str | None = None
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = _connection(port, timeout)
    body = json.dumps({"message": MESSAGE, "threadId": str(uuid.uuid4())})
    headers = {
        "vivi-api-key": key,
        "content-type": "application/json",
        "accept": "text/event-stream",
    }
    if scenario:
        headers["x-vivi-scenario"] = scenario
    conn.request("POST", f"/channelsApi/{channel}/stream", body=body, headers=headers)
    return conn, conn.getresponse()


def _events(resp: http.client.HTTPResponse) -> Iterator[dict[str, object]]:
    """The `data:` events of an event stream, in order; fails on anything that is not SSE."""
    while True:
        raw = resp.readline()
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line or line.startswith(":"):
            continue  # event separator or SSE comment (keep-alive)
        if not line.startswith("data:"):
            raise CheckFailed(f"stream line is not a data line: {line!r}")
        payload = line[len("data:") :].strip()
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise CheckFailed(f"stream data is not JSON: {payload!r}") from exc
        if not isinstance(event, dict) or not isinstance(event.get("message"), str):
            raise CheckFailed(f"stream event has no string message: {payload!r}")
        yield event


def _check_events(events: list[dict[str, object]]) -> str:
    """Checks start, stream..., end; returns the streamed text."""
    names = [e.get("event") for e in events]
    if len(events) < 3:
        raise CheckFailed(f"expected start, stream..., end; got events {names}")
    if events[0] != {"message": "", "event": "on_chat_model_start"}:
        raise CheckFailed(f"first event is not an empty on_chat_model_start: {events[0]}")
    if events[-1] != {"message": "", "event": "on_chat_model_end"}:
        raise CheckFailed(f"last event is not an empty on_chat_model_end: {events[-1]}")
    middle = events[1:-1]
    if any(e.get("event") != "on_chat_model_stream" for e in middle):
        raise CheckFailed(f"events between start and end are not all on_chat_model_stream: {names}")
    text = "".join(str(e["message"]) for e in middle)
    if not text.strip():
        raise CheckFailed("the on_chat_model_stream events carry no text")
    return text


def cmd_start(args: argparse.Namespace) -> None:
    """Runs the command that starts the container and times it to the first 200 from health."""
    deadline_s = args.timeout
    t0 = time.monotonic()
    # The command is the caller's own (scripts/image-smoke: podman run/start), run without a shell.
    proc = subprocess.Popen(args.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    first_ok: float | None = None
    while time.monotonic() - t0 < deadline_s:
        if _health_ok(args.port):
            first_ok = time.monotonic()
            break
        if proc.poll() is not None and proc.returncode != 0:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise CheckFailed(f"{' '.join(args.command)} exited {proc.returncode}: {err.strip()}")
        time.sleep(0.01)
    _, err_b = proc.communicate(timeout=60)
    if proc.returncode != 0:
        err = err_b.decode(errors="replace").strip()
        raise CheckFailed(f"{' '.join(args.command)} exited {proc.returncode}: {err}")
    if first_ok is None:
        raise CheckFailed(f"no 200 from {HEALTH_PATH} on port {args.port} within {deadline_s} s")
    print(f"start_seconds={first_ok - t0:.3f}")


def cmd_stream(args: argparse.Namespace) -> None:
    conn, resp = _open_stream(args.port, args.key, args.channel, 30, args.scenario)
    try:
        if resp.status != 200:
            raise CheckFailed(
                f"/stream with key {args.key!r} answered {resp.status}: {resp.read()[:300]!r}"
            )
        ctype = resp.getheader("content-type", "")
        if not ctype.startswith("text/event-stream"):
            raise CheckFailed(f"/stream content-type is {ctype!r}, not text/event-stream")
        events = list(_events(resp))
    finally:
        conn.close()
    text = _check_events(events)
    if args.expect_text is not None and text != args.expect_text:
        raise CheckFailed(f"streamed text is {text!r}, expected {args.expect_text!r}")
    print(f"status=200 events={len(events)} text_chars={len(text)}")


def cmd_wrong_key(args: argparse.Namespace) -> None:
    bad_key = args.bad_key or "wrong-" + uuid.uuid4().hex[:8]
    conn, resp = _open_stream(args.port, bad_key, args.channel, 30)
    try:
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 401:
        raise CheckFailed(
            f"/stream with a wrong key answered {resp.status}, not 401: {body[:300]!r}"
        )
    try:
        detail = json.loads(body)["detail"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(f"401 body is not JSON with a detail: {body[:300]!r}") from exc
    print(f"status=401 detail={json.dumps(detail)[:80]}")


def cmd_stop(args: argparse.Namespace) -> None:
    """Opens a stream, stops the container while it is in flight, times the stop.

    The stream must end (finish or be closed by the server), never hang. Whether it finished
    with on_chat_model_end or was cut short is reported; a default stream may well have finished
    before the stop arrives, which is reported too."""
    conn, resp = _open_stream(args.port, args.key, args.channel, args.timeout, args.scenario)
    if resp.status != 200:
        raise CheckFailed(f"/stream answered {resp.status} before the stop")
    events: list[dict[str, object]] = []
    failure: list[BaseException] = []
    first = threading.Event()
    ended_at: list[float] = []

    def read() -> None:
        try:
            for event in _events(resp):
                events.append(event)
                first.set()
        except (OSError, http.client.HTTPException, CheckFailed) as exc:
            failure.append(exc)
        finally:
            ended_at.append(time.monotonic())
            first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    first.wait(args.timeout)
    in_flight = not ended_at
    t0 = time.monotonic()
    proc = subprocess.run(args.command, capture_output=True, timeout=120, check=False)  # noqa: S603
    stop_s = time.monotonic() - t0
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise CheckFailed(f"{' '.join(args.command)} exited {proc.returncode}: {err}")
    reader.join(args.timeout)
    conn.close()
    if reader.is_alive():
        raise CheckFailed("the in-flight stream did not end after the container stopped")
    if events and events[-1].get("event") == "on_chat_model_end":
        how = "complete"
    elif failure:
        how = f"cut ({type(failure[0]).__name__})"
    else:
        how = "closed early"
    print(
        f"stop_seconds={stop_s:.3f} stream_in_flight_at_stop={'yes' if in_flight else 'no'} "
        f"stream_end={how.replace(' ', '_')} events={len(events)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("mirror")
    p.add_argument("--suite", default="bookworm")
    p.set_defaults(func=cmd_mirror)

    p = sub.add_parser("free-port")
    p.set_defaults(func=cmd_free_port)

    for name, func in (
        ("start", cmd_start),
        ("stream", cmd_stream),
        ("wrong-key", cmd_wrong_key),
        ("stop", cmd_stop),
    ):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--channel", default=DEFAULT_CHANNEL)
        p.add_argument("--key", default=DEFAULT_KEY)
        p.add_argument("--timeout", type=float, default=30.0)
        p.add_argument("--scenario")
        p.add_argument("--expect-text")
        p.add_argument("--bad-key")
        if name in ("start", "stop"):
            p.add_argument("command", nargs="+")
        p.set_defaults(func=func)

    args = parser.parse_args()
    try:
        args.func(args)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (OSError, http.client.HTTPException, subprocess.SubprocessError) as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
