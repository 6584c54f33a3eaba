"""Wire faults: how a stream's bytes reach the socket, and the intermediaries on the way.

A scenario (``wire:``) or the settings (for every stream without its own) may ask for framing the
docs do not use (CRLF or CR line endings, a BOM, raw UTF-8, ``id:`` and ``retry:`` fields,
keep-alive comments, an oversized line), for writes cut where no mock server cuts them (inside a
UTF-8 character, between ``\\r`` and ``\\n``, across frames), or for what a proxy, load balancer
or CDN does to a stream (buffer it whole, cut it when idle, time out before the first byte, end
the chunked body without its terminator).

``options`` is the format, ``plan`` the pure function from a Script to its writes (which
``streaming.EventStream`` sends), ``gateway`` the answers an intermediary gives instead of VIVI.
The wire knows Scripts (``vivi_emulator.script``) and the encoder, nothing of the scenarios: the
shipped kit by name is ``scenarios.named_wire``, the conformance kit ``cli.wire_kit``.
Without ``wire`` none of it runs: the default stream is the docs' framing, byte for byte.
"""

from __future__ import annotations

from vivi_emulator.wire.options import WireOptions
from vivi_emulator.wire.plan import Plan, Wire, plan, with_wire

__all__ = ["Plan", "Wire", "WireOptions", "plan", "with_wire"]
