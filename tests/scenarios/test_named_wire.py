"""The shipped wire scenarios by name: the options chaos and the kit put on a Script."""

from __future__ import annotations

import pytest

from vivi_emulator.scenarios.named_wire import apply_named, named_wire, wire_names
from vivi_emulator.wire import WireOptions, plan

from tests.support import reply_script


def test_named_options_are_the_kit_scenarios_for_chaos() -> None:
    assert named_wire("crlf") == WireOptions(line_ending="crlf")
    assert named_wire("wire-crlf") == named_wire("crlf")
    assert named_wire("idle-cut") == WireOptions(preset="idle-cut")
    assert "baseline" not in wire_names()
    assert len(wire_names()) == 19
    with pytest.raises(ValueError, match="unknown wire option or preset 'nope'; known: crlf"):
        named_wire("nope")
    script = apply_named(reply_script("hi"), "bom", time_scale=0.5, seed=3)
    assert script.wire is not None
    assert (script.wire.time_scale, script.wire.seed) == (0.5, 3)
    assert plan(script).writes[0][1].startswith(b"\xef\xbb\xbfdata: ")
