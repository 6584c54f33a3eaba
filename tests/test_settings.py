from __future__ import annotations

from pathlib import Path

import pytest

from vivi_emulator.settings import (
    ConfigError,
    Settings,
    dump_resolved,
    load_resolved,
    load_settings,
    parse_channels,
)


def test_embedded_defaults() -> None:
    settings = load_settings(environ={})
    assert settings.uses_default_channel
    assert [(c.id, c.key.get_secret_value()) for c in settings.channels] == [
        ("demo-channel", "demo-key")
    ]
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_keys_never_show_in_repr() -> None:
    settings = load_settings(environ={"VIVI_EMULATOR_CHANNELS": "mine=s3cr3t-value"})
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())


def test_env_channels_and_limits() -> None:
    settings = load_settings(
        environ={
            "VIVI_EMULATOR_CHANNELS": "one=k1, two=k2",
            "VIVI_EMULATOR_PORT": "9001",
            "VIVI_EMULATOR_MAX_BODY_BYTES": "2048",
        }
    )
    assert [c.id for c in settings.channels] == ["one", "two"]
    assert settings.port == 9001
    assert settings.limits.max_body_bytes == 2048
    assert not settings.uses_default_channel


def test_yaml_file_then_env_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text(
        "channels:\n  - {id: filed, key: file-key}\nport: 7000\nlimits:\n  max_files: 3\n"
    )
    settings = load_settings(
        config, environ={"VIVI_EMULATOR_PORT": "7100"}, overrides={"host": "0.0.0.0"}
    )
    assert [c.id for c in settings.channels] == ["filed"]
    assert settings.port == 7100
    assert settings.host == "0.0.0.0"
    assert settings.limits.max_files == 3
    assert settings.limits.max_body_bytes == 1_048_576


def test_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "emulator.toml"
    config.write_text('[[channels]]\nid = "t"\nkey = "tk"\n[limits]\nmax_batch_items = 5\n')
    settings = load_settings(config, environ={})
    assert settings.channels[0].id == "t"
    assert settings.limits.max_batch_items == 5


def test_config_file_named_by_env(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("port: 7321\n")
    assert load_settings(environ={"VIVI_EMULATOR_CONFIG": str(config)}).port == 7321


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: not-a-number\n", "port"),
        ("limits: {max_files: 0}\n", "limits.max_files"),
        ("chanels: []\n", "chanels"),
        ("- a list\n", "mapping"),
        ("port: [unclosed\n", "not valid"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_bad_channel_spec_names_the_channel_not_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_channels("good=k,broken-s3cr3t")
    assert "broken-s3cr3t" in str(raised.value) or "no channel" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        parse_channels("chan=")
    assert "chan" in str(raised.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_resolved_settings_round_trip() -> None:
    settings = load_settings(
        environ={"VIVI_EMULATOR_CHANNELS": "x=secret-x"}, overrides={"port": 1234}
    )
    env = {"VIVI_EMULATOR__RESOLVED_SETTINGS": dump_resolved(settings)}
    again = load_resolved(env)
    assert again == settings
    assert again.channels[0].key.get_secret_value() == "secret-x"
    assert load_resolved({}) == Settings()


def test_time_scale_is_a_setting() -> None:
    assert load_settings(environ={"VIVI_EMULATOR_TIME_SCALE": "0.5"}).time_scale == 0.5
    assert load_settings(environ={}, overrides={"time_scale": 0}).time_scale == 0  # no delays
    with pytest.raises(ConfigError, match="time_scale"):
        load_settings(environ={}, overrides={"time_scale": -1})
