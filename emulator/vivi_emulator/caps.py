"""The caps on every wait and every number that reaches the wire: one home, one table
(README "Bounds", SECURITY.md).

A scripted wait (a delay, a stall, a pause between split writes, a keep-alive interval, an idle
or gateway timeout) is at most ``MAX_WAIT_SECONDS``, whether it is configured in a fixture, the
settings, the control API or a wire option: a number such as ``1e308`` (or ``1e400``, which
reads as infinity) is refused where it is given, with a 422 or a start-up error naming the field.
What a wait becomes after ``time_scale`` (up to ``MAX_TIME_SCALE``) or a distribution's long
tail is cut to the same cap where the script is built, so no request ever waits longer.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# Ten minutes: longer than any gateway's timeout (Cloudflare's 100 s, an AWS ALB's 60 s by
# default, at most 4,000 s) a test would script, and short enough that a typo never parks a
# request for hours.
MAX_WAIT_SECONDS = 600.0
MAX_WAIT_MS = MAX_WAIT_SECONDS * 1000
# time_scale multiplies every delay: 100 makes a 1 s reply take 100 s, well past any use.
MAX_TIME_SCALE = 100.0
# Byte counts a wire option writes or counts (buffer sizes, cut points, split pieces).
MAX_WIRE_BYTES = 64 * 1024 * 1024
# Event counts (``after_events``) and other counters: far past a reply's 50,000 events.
MAX_COUNT = 1_000_000
# How long the rest of a refused request's body is read (drain.py) before answering anyway.
DRAIN_SECONDS = 10.0
# Connections one worker serves at once: granian's backpressure is a machine-sized integer, and
# no machine holds more open streams than this.
MAX_CONNECTIONS = 1_000_000
# How long an uploaded file or an idle thread may be kept (a Redis TTL): 30 days.
MAX_TTL_SECONDS = 30 * 86_400
# Retry-After, in seconds, that chaos may send: one day.
MAX_RETRY_AFTER_SECONDS = 86_400

WaitMs = Annotated[float, Field(ge=0, le=MAX_WAIT_MS, allow_inf_nan=False)]
WaitSeconds = Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS, allow_inf_nan=False)]
PositiveWaitMs = Annotated[float, Field(gt=0, le=MAX_WAIT_MS, allow_inf_nan=False)]
PositiveWaitSeconds = Annotated[float, Field(gt=0, le=MAX_WAIT_SECONDS, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
WireBytes = Annotated[int, Field(ge=0, le=MAX_WIRE_BYTES)]


def capped_seconds(seconds: float) -> float:
    """A wait as it is slept: never negative, never past ``MAX_WAIT_SECONDS``."""
    if not seconds > 0:  # also NaN
        return 0.0
    return min(seconds, MAX_WAIT_SECONDS)
