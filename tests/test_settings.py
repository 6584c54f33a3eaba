from __future__ import annotations

import re
from pathlib import Path

import pytest

from vivi_emulator.reading import MAX_SETTINGS_FILE_BYTES
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


# Issue 21, item 4: every settings error names the setting, where it came from and what is
# allowed, on one line (a line each for several), never the value.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "port: 8001\nlatency:\n  first_event: -1000\n",
            "latency.first_event ({file}:3): Input should be greater than or equal to 0",
        ),
        (
            "latency: {first_event: 1e300}\n",
            "latency.first_event ({file}:1): Input should be less than or equal to 600000",
        ),
        ("limits:\n  max_threads: 5\n  max_files: 0\n", "limits.max_files ({file}:3)"),
        ("time_scale: .inf\n", "time_scale ({file}:1): Input should be a finite number"),
    ],
)
def test_an_invalid_setting_in_the_file_is_named_with_its_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={})
    message = str(raised.value)
    assert expected.format(file=config) in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"VIVI_EMULATOR_TIME_SCALE": "inf"}, "time_scale (VIVI_EMULATOR_TIME_SCALE)"),
        ({"VIVI_EMULATOR_MAX_FILES": "0"}, "limits.max_files (VIVI_EMULATOR_MAX_FILES)"),
        (
            {"VIVI_EMULATOR_WIRE": "{preset: gateway-timeout, timeout_seconds: 1e400}"},
            "wire.timeout_seconds (VIVI_EMULATOR_WIRE): Input should be a finite number",
        ),
        (
            {"VIVI_EMULATOR_LATENCY": "/dev/zero"},
            "latency (VIVI_EMULATOR_LATENCY): cannot read latency profile /dev/zero: "
            "not a regular file (a device)",
        ),
        ({"VIVI_EMULATOR_CHAOS": "[" * 5000}, "VIVI_EMULATOR_CHAOS:1 is not valid YAML"),
    ],
)
def test_an_invalid_setting_in_the_environment_names_the_variable(
    environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_settings(environ=environ)


def test_an_invalid_flag_is_named_as_the_flag_and_each_problem_gets_a_line() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            environ={"VIVI_EMULATOR_MAX_FILES": "0"}, overrides={"time_scale": float("inf")}
        )
    assert str(raised.value).splitlines() == [
        "invalid setting:",
        "  limits.max_files (VIVI_EMULATOR_MAX_FILES): Input should be greater than 0",
        "  time_scale (--time-scale): Input should be a finite number",
    ]


def test_the_latest_source_of_a_setting_is_named(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("port: 1\n")
    with pytest.raises(ConfigError, match=re.escape("port (VIVI_EMULATOR_PORT)")):
        load_settings(config, environ={"VIVI_EMULATOR_PORT": "x"})


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # Item 5: was a RecursionError and a traceback.
        ("deep.yaml", "a: " + "[" * 5000 + "]" * 5000, "is not valid YAML: exceeded maximum"),
        ("deep.toml", "a = " + "[" * 5000 + "]" * 5000, "is nested too deeply"),
        ("bad.yaml", "port: [unclosed\n", ":2 is not valid YAML: did not find expected"),
        ("bad.toml", "port = [\n", "is not valid TOML"),
        (
            "laughs.yaml",
            "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
                for p, n in zip("abcde", "bcdef", strict=True)
            ),
            "aliases expand the file by more than",
        ),
    ],
)
def test_a_settings_file_past_the_yaml_bounds_is_refused_on_one_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    config = tmp_path / name
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={})
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (Path("/dev/zero"), "not a regular file (a device)"),  # item 6: read without end
        (Path("/tmp"), "not a regular file (a folder)"),
    ],
)
def test_a_settings_file_that_is_not_a_regular_file_is_refused(path: Path, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"cannot read config file {path}: {expected}")):
        load_settings(path, environ={})


def test_a_settings_file_over_its_bound_or_not_utf8_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_SETTINGS_FILE_BYTES)
    with pytest.raises(ConfigError, match="over the limit"):
        load_settings(big, environ={})
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfeport: 1")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(binary, environ={})


def test_granian_is_refused_a_host_name_it_cannot_listen_on() -> None:
    with pytest.raises(ConfigError, match="granian listens on an IP address"):
        load_settings(environ={"VIVI_EMULATOR_HOST": "localhost"})
    assert load_settings(environ={"VIVI_EMULATOR_HOST": "::1"}).host == "::1"


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        ("a=K-secret,b=K-secret", "channels 'a', 'b' share one key"),
        ("a=K1-secret,a=K2-secret", "channel 'a' is given twice"),
    ],
)
def test_two_channels_may_not_share_a_key_or_an_id(channels: str, expected: str) -> None:
    """Issue 21, item 8: 'a=K,b=K' started, and made 403 against 200 ambiguous."""
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"VIVI_EMULATOR_CHANNELS": channels})
    assert expected in str(raised.value)
    assert "(VIVI_EMULATOR_CHANNELS)" in str(raised.value)
    assert "secret" not in str(raised.value)


def test_a_file_that_is_no_settings_file_gives_a_few_lines_not_one_per_line(
    tmp_path: Path,
) -> None:
    config = tmp_path / "passwd.yaml"
    config.write_text(
        "".join(f"user{i}:x:{i}:{i}::/home:/bin/sh{'x' * 300}: 1\n" for i in range(40))
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={})
    lines = str(raised.value).splitlines()
    assert len(lines) == 1 + 5 + 1
    assert lines[-1] == "  and 35 more"
    assert all(len(line) < 300 for line in lines)


def test_an_empty_admin_token_is_no_token() -> None:
    assert load_settings(environ={"VIVI_EMULATOR_ADMIN_TOKEN": ""}).admin_token is None


def test_an_empty_channel_list_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("channels (VIVI_EMULATOR_CHANNELS): give at")):
        load_settings(environ={"VIVI_EMULATOR_CHANNELS": ""})
