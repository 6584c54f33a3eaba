"""The VIVI surface's names: its key header, and the one parser of its paths,
``/channelsApi/{channelId}/{operation}``.

Used wherever a path must be read without the router (the hot-path shortcut, the access log,
the recorder), so they cannot disagree about what a channel or an operation is.
"""

from __future__ import annotations

from typing import NamedTuple

API_KEY_HEADER = "vivi-api-key"
PREFIX = "/channelsApi/"
# Where the control API, and the emulator's own health check, are mounted.
CONTROL_PREFIX = "/_emulator"
MESSAGE_OPERATIONS = frozenset({"stream", "invoke", "batch"})


class ApiPath(NamedTuple):
    channel: str
    # The rest of the path after the channel: "stream", "invoke", "batch", "files",
    # "files/<id>/<name>", or "" when nothing follows the channel.
    operation: str


def parse_api_path(path: str) -> ApiPath | None:
    """The channel and operation of a VIVI surface path; None for any other path."""
    if not path.startswith(PREFIX):
        return None
    channel, _, operation = path[len(PREFIX) :].partition("/")
    if not channel:
        return None
    return ApiPath(channel, operation)


def channel_of_path(path: str) -> str | None:
    parsed = parse_api_path(path)
    return parsed.channel if parsed is not None else None
