"""The emulator's configuration: channels and keys, limits, fixtures, seed, latency, chaos, server.

Sources, later ones winning: embedded defaults, a YAML or TOML file (``--config`` or
``VIVI_EMULATOR_CONFIG``), environment variables (``VIVI_EMULATOR_*``), command-line flags.
With no configuration at all there is one channel, ``demo-channel``, whose key is ``demo-key``.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from vivi_emulator.caps import MAX_CONNECTIONS, MAX_TIME_SCALE, MAX_TTL_SECONDS
from vivi_emulator.chaos import ChaosSettings
from vivi_emulator.errors import ValidationFailed
from vivi_emulator.ratelimit_rules import RateLimits
from vivi_emulator.reading import MAX_SETTINGS_FILE_BYTES, read_text
from vivi_emulator.scenarios.latency import NONE, LatencyProfile, resolve
from vivi_emulator.scenarios.yaml_lines import load as load_yaml
from vivi_emulator.setting_sources import (
    ENV_PREFIX,
    SIMPLE_ENV,
    Sources,
    env_name,
    file_place,
    flag_name,
)
from vivi_emulator.structured import STREAM_STATUSES, StructuredOutput, checked
from vivi_emulator.wire.options import WireOptions

DEFAULT_CHANNEL_ID = "demo-channel"
DEFAULT_API_KEY = "demo-key"  # the documented embedded default, not a secret

# Room for multipart boundaries and part headers on top of an upload's files.
MULTIPART_OVERHEAD = 64 * 1024

# granian over ASGI (the default), granian over RSGI, its native interface (faster, but it
# cannot cut a response mid-body: channels_api/rsgi.py), or uvicorn.
ServerName = Literal["granian", "granian-rsgi", "uvicorn"]
STATE_SCHEMES = ("memory", "redis")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ``none``, ``realistic`` or a profile file's path, read as a profile.
Latency = Annotated[LatencyProfile, BeforeValidator(resolve)]


def _strict(output: StructuredOutput) -> StructuredOutput:
    try:
        return checked(output)
    except ValidationFailed as exc:
        raise ValueError(exc.detail) from None


# A channel's structured-output schema, checked against VIVI's strict rules (structured.py).
Structured = Annotated[StructuredOutput, AfterValidator(_strict)]


class Channel(_Model):
    id: str = Field(min_length=1)
    # SecretStr keeps the key out of every repr, log line and error message by construction.
    key: SecretStr
    # This channel's latency profile and chaos, instead of the global ones.
    latency: Latency | None = None
    chaos: ChaosSettings | None = None
    # This channel's rate limits, instead of the global ones (ratelimits.py).
    rate_limits: RateLimits | None = None
    # Structured-output mode: {schema: <strict JSON Schema>} (structured.py).
    structured_output: Structured | None = None


class Limits(_Model):
    """Request limits and the bounds of every store (README, "Bounds")."""

    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_file_bytes: int = Field(default=10 * 1_048_576, gt=0)
    max_files: int = Field(default=10, gt=0)
    max_batch_items: int = Field(default=20, gt=0)
    file_ttl_seconds: float = Field(default=3600.0, gt=0, le=MAX_TTL_SECONDS, allow_inf_nan=False)
    # All uploaded files together, until they expire; an upload over it is a 507.
    files_quota_bytes: int = Field(default=256 * 1_048_576, gt=0)
    # Threads (conversations) kept: the least recently used go first, idle ones expire.
    max_threads: int = Field(default=10_000, gt=0)
    thread_idle_seconds: float = Field(
        default=3600.0, gt=0, le=MAX_TTL_SECONDS, allow_inf_nan=False
    )
    # One journal entry: a body or event list beyond this is cut, with a marker.
    journal_entry_bytes: int = Field(default=48 * 1024, ge=4096)
    max_queued: int = Field(default=1000, gt=0)
    # Keys ever used here that stay redacted from the journal (deleted channels' and rotated
    # ones included): the most recent this many (SECURITY.md).
    redacted_keys: int = Field(default=1000, gt=0)

    @property
    def upload_bytes(self) -> int:
        """The largest upload request: every file at its limit, and room for the multipart
        boundaries and part headers."""
        return self.max_files * self.max_file_bytes + MULTIPART_OVERHEAD

    @property
    def largest_body(self) -> int:
        """The largest request body the emulator reads on any path."""
        return max(self.max_body_bytes, self.upload_bytes)


class Settings(_Model):
    channels: tuple[Channel, ...] = (
        Channel(id=DEFAULT_CHANNEL_ID, key=SecretStr(DEFAULT_API_KEY)),
    )
    limits: Limits = Limits()
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    server: ServerName = "granian"
    # Absolute base for uploaded files' URLs; by default the URL the client called.
    public_url: str | None = None
    fixtures: tuple[Path, ...] = ()
    seed: int | None = None
    access_log: bool = True
    # Watch the fixture folders and reload on change (kept off by tests that need no watcher).
    reload_fixtures: bool = True
    # Every scripted delay is multiplied by this (0.5 replays recordings twice as fast; 0: none).
    time_scale: float = Field(default=1.0, ge=0, le=MAX_TIME_SCALE, allow_inf_nan=False)
    # How replies are paced: none, realistic or a profile file (scenarios.latency). `serve`
    # defaults to realistic; everything else (the pytest plugin, contract) to none.
    latency: Latency = NONE
    # Faults injected into a share of requests (chaos.py); None: no chaos.
    chaos: ChaosSettings | None = None
    # How many requests the journal keeps (the oldest go first).
    journal_size: int = Field(default=1000, gt=0)
    # Needed for the control endpoints when listening on a non-loopback address.
    admin_token: SecretStr | None = None
    # Host names answered besides this machine's own (guard.py: a guard against DNS rebinding).
    # A leading dot allows subdomains too (".example.test"); "*" allows any name.
    allowed_hosts: tuple[str, ...] = ()
    # Where state lives: "memory" (one process) or "redis://HOST:PORT/DB" (shared by every
    # worker and replica). May hold a password: never printed (see store.redis.url.where).
    state: str = "memory"
    # Server worker processes; more than one needs a shared state store.
    workers: int = Field(default=1, ge=1, le=64)
    # Connections one worker serves at once (granian's backpressure): long-lived streams each
    # hold one, so the default leaves room for thousands.
    max_connections: int = Field(default=10_000, ge=1, le=MAX_CONNECTIONS)
    # Wire options or an intermediary preset for every stream whose scenario has no `wire` of
    # its own, e.g. {preset: idle-cut, idle_seconds: 5} (docs/wire.md). None: the docs' framing.
    wire: WireOptions | None = None
    # Rate limits of every channel without its own (ratelimits.py); None: no limits.
    rate_limits: RateLimits | None = None
    # The x-ratelimit-* headers on answers while limits are on (VIVI documents none: inferred).
    rate_limit_headers: bool = True
    # What /stream answers on a structured-output channel (VIVI documents no status: inferred).
    structured_stream_status: int = 409

    @field_validator("structured_stream_status")
    @classmethod
    def _stream_status(cls, value: int) -> int:
        if value not in STREAM_STATUSES:
            raise ValueError(f"must be one of {', '.join(map(str, STREAM_STATUSES))}")
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: Any) -> Any:
        # An empty token (`VIVI_EMULATOR_ADMIN_TOKEN=` from an unset variable in a compose file)
        # would match an absent header and open the control API to anyone: it means no token,
        # and the control endpoints stay off on a non-loopback address.
        if value == "" or (isinstance(value, SecretStr) and not value.get_secret_value()):
            return None
        return value

    @field_validator("channels")
    @classmethod
    def _one_key_one_channel(cls, channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        if not channels:  # `VIVI_EMULATOR_CHANNELS=` from an unset variable: nothing to serve
            raise ValueError("give at least one channel ('id=key'); none was given")
        ids = [c.id for c in channels]
        if len(set(ids)) < len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"channel {', '.join(map(repr, twice))} is given twice")
        keys = [c.key.get_secret_value() for c in channels]
        if len(set(keys)) < len(keys):
            # A key tells which channel a request is for (403 against 200): one key, one
            # channel. The key itself is never named.
            sharing = [c.id for c in channels if keys.count(c.key.get_secret_value()) > 1]
            raise ValueError(
                f"channels {', '.join(map(repr, sharing))} share one key; give each channel "
                "a key of its own"
            )
        return channels

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        scheme = "memory" if value == "memory" else urlsplit(value).scheme
        if scheme not in STATE_SCHEMES or (scheme != "memory" and not urlsplit(value).hostname):
            raise ValueError("must be 'memory' or a URL such as redis://127.0.0.1:6379/0")
        return value

    @model_validator(mode="after")
    def _granian_host(self) -> Settings:
        if self.server == "granian" and not _is_ip_address(self.host):
            raise ValueError(
                f"host: granian listens on an IP address (127.0.0.1, 0.0.0.0, ::1), not a "
                f"name such as {self.host[:100]!r}; give one, or --server uvicorn"
            )
        return self

    @model_validator(mode="after")
    def _workers_share_state(self) -> Settings:
        if self.workers > 1 and self.state == "memory":
            raise ValueError(
                f"{self.workers} workers need a shared state store: the in-memory one lives in "
                "one process. Add --state redis://HOST:PORT/DB (or VIVI_EMULATOR_STATE), or "
                "run one worker"
            )
        return self

    @property
    def uses_default_channel(self) -> bool:
        return bool(self.channels == Settings.model_fields["channels"].default)


_ENV_PREFIX = ENV_PREFIX


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _read_file(path: Path) -> tuple[dict[str, Any], str]:
    """The settings of a file, and its text (for the lines of its errors)."""
    try:
        text = read_text(path, MAX_SETTINGS_FILE_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read config file {path}: it is not UTF-8 text") from None
    data = _parsed(path, text)
    if data is None:
        return {}, text
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return data, text


def _parsed(path: Path, text: str) -> Any:
    if path.suffix == ".toml":
        import tomllib  # here: only a TOML settings file needs it (start-up, issue 22)

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except RecursionError:  # tomllib's parser recurses once per level of nesting
            raise ConfigError(f"config file {path} is nested too deeply") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}{_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """``:line: is not valid YAML: why``, on one line (pyyaml's own text takes four)."""
    mark = getattr(exc, "problem_mark", None)
    line = getattr(exc, "line", None) or (mark.line + 1 if mark is not None else None)
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{f':{line}' if line else ''} is not valid YAML: {reason}"


def parse_channels(text: str) -> list[dict[str, str]]:
    """``id=key,id2=key2`` (the form of ``VIVI_EMULATOR_CHANNELS``) as channel mappings."""
    channels = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        channel_id, sep, key = item.partition("=")
        if not sep or not channel_id or not key:
            # Name the channel, never the key.
            raise ConfigError(
                f"VIVI_EMULATOR_CHANNELS: expected 'channel=key' items, got one for "
                f"{channel_id or '(no channel id)'!r}"
            )
        channels.append({"id": channel_id.strip(), "key": key.strip()})
    return channels


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    def given(suffix: str) -> str | None:
        return environ.get(_ENV_PREFIX + suffix)

    values: dict[str, Any] = {
        name: value for suffix, name in SIMPLE_ENV.items() if (value := given(suffix)) is not None
    }
    if (channels := given("CHANNELS")) is not None:
        values["channels"] = parse_channels(channels)
    # YAML flow mappings, as in the settings file: '{preset: idle-cut, idle_seconds: 5}'.
    for name in ("wire", "chaos", "rate_limits"):
        if (text := given(name.upper())) is not None:
            values[name] = _yaml_value(name.upper(), text)
    if (hosts := given("ALLOWED_HOSTS")) is not None:
        values["allowed_hosts"] = [h.strip() for h in hosts.split(",") if h.strip()]
    if (fixtures := given("FIXTURES")) is not None:
        values["fixtures"] = [p for p in fixtures.split(os.pathsep) if p]
    limits = {
        name: value for name in Limits.model_fields if (value := given(name.upper())) is not None
    }
    if limits:
        values["limits"] = limits
    return values


def _yaml_value(suffix: str, text: str) -> Any:
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{_ENV_PREFIX}{suffix}{_yaml_problem(exc)}") from None


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from a file, the environment and explicit overrides (CLI flags), over
    ``defaults`` (a command's own defaults, such as ``serve``'s realistic latency)."""
    environ = os.environ if environ is None else environ
    if config_file is None and (env_file := environ.get(_ENV_PREFIX + "CONFIG")):
        config_file = Path(env_file)
    sources = Sources()
    data: dict[str, Any] = dict(defaults or {})
    sources.add(data, lambda _: "a default")
    if config_file is not None:
        from_file, text = _read_file(config_file)
        sources.add(from_file, file_place(config_file, text))
        data = _merge(data, from_file)
    from_env = _from_env(environ)
    sources.add(from_env, env_name)
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    sources.add(flags, flag_name)
    data = _merge(_merge(data, from_env), flags)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = sources.problems(exc)
        # One line for one problem; a line each for several.
        sep = "\n  " if len(problems) > 1 else " "
        raise ConfigError(f"invalid setting:{sep}{sep.join(problems)}") from None


# How the CLI hands resolved settings to an ASGI server's worker process (granian imports the app
# in a worker): one environment variable, private to the emulator's own process tree.
RESOLVED_ENV = "VIVI_EMULATOR__RESOLVED_SETTINGS"


def dump_resolved(settings: Settings) -> str:
    """The settings for a worker process, secrets intact (``model_dump`` would mask them)."""
    data = settings.model_dump(mode="json")
    data["channels"] = [
        {**c.model_dump(mode="json", exclude_none=True), "key": c.key.get_secret_value()}
        for c in settings.channels
    ]
    if settings.admin_token is not None:
        data["admin_token"] = settings.admin_token.get_secret_value()
    return json.dumps(data)


def load_resolved(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings handed over by ``dump_resolved``, or else from the environment and its file."""
    environ = os.environ if environ is None else environ
    if (resolved := environ.get(RESOLVED_ENV)) is not None:
        return Settings.model_validate_json(resolved)
    return load_settings(environ=environ)
