"""The wire options: what a fixture or the settings may say, and what they may not."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vivi_emulator.settings import ConfigError, load_settings
from vivi_emulator.wire import WireOptions
from vivi_emulator.wire.options import Split


def test_the_defaults_are_the_docs_framing() -> None:
    options = WireOptions()
    assert options.line_ending == "lf"
    assert not options.bom
    assert options.non_ascii == "escaped"
    assert options.split_spec is None
    assert options.coalesce_frames == 0
    assert options.preset is None


def test_split_random_is_a_word_or_an_object() -> None:
    assert WireOptions(split="random").split_spec == Split(random=True)
    assert WireOptions.model_validate({"split": {"random": True, "gap_ms": 5}}).split_spec == Split(
        random=True, gap_ms=5
    )


def test_coalesce_true_means_two_frames_a_write() -> None:
    assert WireOptions(coalesce=True).coalesce_frames == 2
    assert WireOptions.model_validate({"coalesce": {"frames": 5}}).coalesce_frames == 5


def test_gateway_defaults_follow_the_intermediary() -> None:
    cloudflare = WireOptions(preset="gateway-timeout")
    assert (cloudflare.gateway_status, cloudflare.gateway_seconds) == (524, 100.0)
    alb = WireOptions(preset="gateway-timeout", status=504)
    assert (alb.gateway_status, alb.gateway_seconds) == (504, 60.0)
    assert WireOptions(preset="idle-cut").idle_limit == 60.0


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"line_ending": "crlf\n"}, "line_ending"),
        ({"split": {}}, "exactly one of at, every, inside, random"),
        ({"split": {"at": 3, "every": 2}}, "exactly one of"),
        ({"split": {"at": 0}}, "cuts nothing"),
        ({"split": {"inside": "utf8"}}, "needs non_ascii: utf8"),
        ({"split": {"inside": "crlf"}}, "needs line_ending: crlf"),
        ({"coalesce": {"frames": 1}}, "frames"),
        ({"keepalive": {"every_ms": 0}}, "every_ms"),
        ({"keepalive": {"every_ms": 5, "comment": "a\nb"}}, "comment"),
        ({"oversize": {"bytes": 10}}, "at least"),
        ({"oversize": {"bytes": 17 * 1024 * 1024}}, "bytes"),
        ({"idle_seconds": 5}, "idle_seconds belongs to preset idle-cut"),
        ({"preset": "idle-cut", "status": 504}, "status belongs to preset gateway-timeout"),
        ({"preset": "gateway-timeout", "status": 500}, "status"),
        ({"preset": "teapot"}, "preset"),
        ({"lineending": "lf"}, "lineending"),
    ],
)
def test_bad_options_are_refused_with_the_reason(options: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        WireOptions.model_validate(options)


def test_the_setting_comes_from_the_file_or_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text("wire: {preset: idle-cut, idle_seconds: 5}\n")
    assert load_settings(config, environ={}).wire == WireOptions(preset="idle-cut", idle_seconds=5)
    from_env = load_settings(environ={"VIVI_EMULATOR_WIRE": "{line_ending: crlf, bom: true}"})
    assert from_env.wire == WireOptions(line_ending="crlf", bom=True)
    assert load_settings(environ={}).wire is None


def test_a_bad_setting_names_the_option() -> None:
    with pytest.raises(ConfigError, match=r"wire\.preset"):
        load_settings(environ={"VIVI_EMULATOR_WIRE": "{preset: nope}"})
    with pytest.raises(ConfigError, match="VIVI_EMULATOR_WIRE:1 is not valid YAML"):
        load_settings(environ={"VIVI_EMULATOR_WIRE": "{preset: [}"})
