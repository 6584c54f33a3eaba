"""What an intermediary in front of VIVI answers instead of it: a gateway timing out.

A 524 (Cloudflare: no first byte from the origin within 100 s) or a 504 (an AWS load balancer
whose target stayed silent for its idle timeout), each after its wait, with the HTML page the
intermediary writes rather than VIVI's JSON error: a client that parses every error body as JSON
meets that here first. The same on /stream, /invoke and /batch (docs/decisions.md, "wire").
"""

from __future__ import annotations

from vivi_emulator.caps import capped_seconds
from vivi_emulator.errors import ApiError
from vivi_emulator.script import Script

_PAGES = {
    524: b"<!DOCTYPE html>\n<html><head><title>524: A timeout occurred</title></head>\n"
    b"<body><h1>A timeout occurred</h1><p>Error code 524</p>\n"
    b"<p>The origin web server timed out responding to this request.</p></body></html>\n",
    504: b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n",
}
_SERVERS = {524: "cloudflare", 504: "awselb/2.0"}


class GatewayTimeout(ApiError):
    """A scripted intermediary's timeout: its status and HTML page, never VIVI's JSON."""

    media_type = "text/html; charset=utf-8"

    def __init__(self, status: int, seconds: float) -> None:
        super().__init__(
            f"scripted gateway timeout: {status} after {seconds:g} s without a first byte",
            headers={"server": _SERVERS[status]},
        )
        self.status_code = status

    def content(self) -> bytes:
        return _PAGES[self.status_code]


def gateway_failure(script: Script, streaming: bool) -> tuple[float, GatewayTimeout] | None:
    """The wait and the timeout an intermediary answers with instead of ``script``, if any
    (the handlers wait, watching for the client to hang up, then raise it).

    ``gateway-timeout``: always (the origin is scripted to send nothing in time). ``idle-cut`` on
    /invoke and /batch: a 504 when the reply takes the idle time or longer, as a load balancer
    answers when its target is silent; a stream's headers leave at once, so it is cut instead.
    """
    if script.wire is None:
        return None
    options, scale = script.wire.options, script.wire.time_scale
    if options.preset == "gateway-timeout":
        seconds = capped_seconds(options.gateway_seconds * scale)
        return seconds, GatewayTimeout(options.gateway_status, seconds)
    if options.preset == "idle-cut" and not streaming:
        idle = capped_seconds(options.idle_limit * scale)
        if script.duration >= idle:
            return idle, GatewayTimeout(504, idle)
    return None
