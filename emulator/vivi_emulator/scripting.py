"""What a test scripts at run time, for one channel or for everyone: one-shot queued replies,
the forced scenario, the latency profile and chaos.

Kept in the store (its queue, and the ``Overrides`` of each scope) until reset; a channel's own
setting wins over the global one. A part of the service: ``service.Emulator.scripting``, built
with the store role it uses, the run's configured settings and the current scenarios.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from vivi_emulator.chaos import ChaosSettings
from vivi_emulator.errors import FieldError, ValidationFailed
from vivi_emulator.gate import Gate
from vivi_emulator.runtime import RunTime
from vivi_emulator.scenarios.checks import scenario_problems
from vivi_emulator.scenarios.choosing import UnknownScenario
from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.scenarios.model_errors import model_errors
from vivi_emulator.store.roles import ScriptingStore
from vivi_emulator.store.values import Overrides, QueuedReply


def queued_scenario(data: Mapping[str, Any], default_name: str) -> Scenario:
    """A queued reply's scenario from its fields, or ValidationFailed naming each field."""
    try:
        scenario = Scenario.model_validate({"name": default_name, **data})
    except ValidationError as exc:
        errors = [FieldError(where or "body", why) for _, where, why in model_errors(exc)]
        raise ValidationFailed("invalid queued answer", errors) from None
    # The same rules as a fixture file's (placeholders, bounds).
    problems = [FieldError("body", reason) for reason in scenario_problems(scenario)]
    if problems:
        raise ValidationFailed(
            f"invalid queued answer: {'; '.join(p.reason for p in problems)}", problems
        )
    return scenario


class Scripting:
    """The service's run-time scripting (see the module's docstring)."""

    def __init__(
        self,
        store: ScriptingStore,
        run_time: RunTime,
        scenarios: Callable[[], ScenarioSet],
        gate: Gate,
    ) -> None:
        self.store = store
        self.run_time = run_time
        self._scenarios = scenarios  # the current set: fixtures reload
        self.gate = gate

    # --- the one-shot queue ---------------------------------------------------------------------

    async def queue_reply(
        self, data: Mapping[str, Any], channel_id: str | None = None
    ) -> tuple[str, int]:
        """Queue a one-shot reply for a channel (or any); return its name and the queue size."""
        # The default name's number comes from the store in one step: unique under concurrency.
        number = await self.store.queue_number(channel_id)
        scenario = queued_scenario(data, f"queued-{number}")
        await self.gate.check_queued(scenario, channel_id)
        size = await self.store.push(QueuedReply(secrets.token_hex(8), scenario, channel_id))
        return scenario.name, size

    async def queue(self, channel_id: str | None = None) -> list[QueuedReply]:
        return await self.store.queued(channel_id)

    async def clear_queue(self, channel_id: str | None = None) -> None:
        await self.store.clear_queue(channel_id)

    # --- the forced scenario --------------------------------------------------------------------

    async def force(self, name: str | None, channel_id: str | None = None) -> None:
        """Every request (of the channel, or all) gets this scenario until reset; None stops."""
        scenarios = self._scenarios()
        if name is not None and scenarios.get(name) is None:
            raise UnknownScenario(name, scenarios.names)
        await self.store.set_override(channel_id, "forced", name)

    async def forced(self, channel_id: str | None = None) -> str | None:
        overrides = await self.store.overrides(channel_id)
        if channel_id is not None and overrides.forced is None:
            overrides = await self.store.overrides(None)
        return overrides.forced

    # --- latency and chaos ----------------------------------------------------------------------

    async def _scoped(self, channel_id: str | None) -> Overrides:
        """The run-time settings that apply to a channel (its own over the global ones)."""
        mine = await self.store.overrides(channel_id)
        if channel_id is None:
            return mine
        return mine.over(await self.store.overrides(None))

    async def latency(self, channel_id: str | None = None) -> tuple[LatencyProfile, str]:
        """The profile a channel's replies get (or everyone's), and where it is set."""
        return self.run_time.latency(channel_id, await self._scoped(channel_id))

    async def set_latency(
        self, profile: LatencyProfile | None, channel_id: str | None = None
    ) -> None:
        """Pace a channel's (or every) reply with this profile until reset; None: as set."""
        await self.store.set_override(channel_id, "latency", profile)

    async def chaos(self, channel_id: str | None = None) -> tuple[ChaosSettings | None, str]:
        """The chaos a channel's requests get (or everyone's; None: none), and where it is set."""
        return self.run_time.chaos(channel_id, await self._scoped(channel_id))

    async def set_chaos(self, chaos: ChaosSettings | None, channel_id: str | None = None) -> None:
        """Inject these faults into a channel's (or every) requests until reset. A setting
        without faults turns chaos off; None goes back to the configured chaos."""
        await self.store.set_override(channel_id, "chaos", chaos)
