"""What a channel's requests get at run time: their latency profile and their chaos.

Each is looked up, first found wins: the channel's run-time setting (the control API, the
pytest plugin), the global run-time setting, the channel's configured one (``channels:`` in the
settings file), the configured one (``serve --latency``, ``latency:`` and ``chaos:`` in the
settings file, the environment). A run-time chaos setting without faults turns chaos off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from vivi_emulator.chaos import ChaosSettings
from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.settings import Channel, Settings
from vivi_emulator.store.values import Overrides

# Where a setting in force is set (the control API's `source`).
RUN_TIME = "run time"
CONFIGURED = "settings"


class _Switch(Protocol):
    @property
    def active(self) -> bool: ...


Switch = TypeVar("Switch", bound=_Switch)


def in_force(
    override: Switch | None, configured: Callable[[], Switch | None]
) -> tuple[Switch | None, str]:
    """A setting a run-time value can turn off (chaos, rate limits, structured output): the
    run-time value where one is set (None if it turns the setting off), else the configured
    one; and where it is set."""
    if override is not None:
        return (override if override.active else None), RUN_TIME
    return configured(), CONFIGURED


class RunTime:
    """The configured latency and chaos of each channel, and the lookups over overrides."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._channels: dict[str, Channel] = {c.id: c for c in settings.channels}

    def configured_latency(self, channel_id: str | None) -> LatencyProfile:
        channel = self._channels.get(channel_id) if channel_id is not None else None
        if channel is not None and channel.latency is not None:
            return channel.latency
        return self.settings.latency

    def configured_chaos(self, channel_id: str | None) -> ChaosSettings | None:
        channel = self._channels.get(channel_id) if channel_id is not None else None
        chaos = channel.chaos if channel is not None and channel.chaos else self.settings.chaos
        return chaos if chaos is not None and chaos.active else None

    def latency(self, channel_id: str | None, overrides: Overrides) -> tuple[LatencyProfile, str]:
        """The profile, and where it is set (``run time`` or ``settings``)."""
        if overrides.latency is not None:
            return overrides.latency, RUN_TIME
        return self.configured_latency(channel_id), CONFIGURED

    def chaos(
        self, channel_id: str | None, overrides: Overrides
    ) -> tuple[ChaosSettings | None, str]:
        """The chaos (None: none), and where it is set."""
        return in_force(overrides.chaos, lambda: self.configured_chaos(channel_id))
