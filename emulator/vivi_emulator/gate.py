"""What a channel's settings ask of a message before it is answered: structured-output mode
(``structured``) and rate limits (``ratelimits``). Part of the service (``service.Emulator``
holds one ``Gate``), reached by the control API and the plugin through it.

Two steps of ``Emulator.answer``: ``before`` (a structured channel refuses ``/stream`` before a
scenario is chosen) and ``after`` (the script is known: a structured channel's output replaces
its reply; then the one rate-limit decision, whose cost is exact because the reply is). A refused
message gives its turn back like any status answer, and a queued reply it claimed goes back in
its channel's queue, since the agent never saw the message.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from vivi_emulator.calls import Call, Message, ScriptedStatus
from vivi_emulator.errors import FieldError, ValidationFailed
from vivi_emulator.journal import ChosenBy, ItemRecord
from vivi_emulator.ratelimit_rules import RateLimits
from vivi_emulator.ratelimits import (
    Admission,
    RateLimiter,
    message_tokens,
    slot_name,
)
from vivi_emulator.runtime import in_force
from vivi_emulator.scenarios.loader import FixtureError, Problem
from vivi_emulator.scenarios.tokens import Tokenizer
from vivi_emulator.script import Script
from vivi_emulator.store.values import Overrides, QueuedReply, TurnStart
from vivi_emulator.structured import (
    StreamDisabled,
    StructuredOutput,
    checked,
    conformance,
    output_of,
    structured_script,
)

if TYPE_CHECKING:
    from vivi_emulator.conversations import Choice
    from vivi_emulator.scenarios.loader import ScenarioSet
    from vivi_emulator.scenarios.model import Scenario
    from vivi_emulator.settings import Settings
    from vivi_emulator.store.base import StateStore


class Gate:
    """Structured output and rate limits per channel (see the module's docstring)."""

    def __init__(self, settings: Settings, store: StateStore, seed: int) -> None:
        self.settings = settings
        self.store = store
        self.seed = seed
        self.limiter = RateLimiter(settings, store.buckets())
        self.tokens = Tokenizer()  # its cut texts die with this emulator
        self._structured = {c.id: c.structured_output for c in settings.channels}

    # --- looking up a channel's settings -------------------------------------------------------

    def configured_structured(self, channel_id: str | None) -> StructuredOutput | None:
        mine = self._structured.get(channel_id) if channel_id is not None else None
        return mine if mine is not None and mine.active else None

    def structured(
        self, channel_id: str | None, overrides: Overrides
    ) -> tuple[StructuredOutput | None, str]:
        """The channel's structured output (None: off), and where it is set."""
        return in_force(overrides.structured, lambda: self.configured_structured(channel_id))

    # --- the two steps of answering --------------------------------------------------------------

    def before(self, call: Call, overrides: Overrides) -> None:
        """StreamDisabled for a stream while the channel's structured output is on."""
        if call.path.endswith("/stream") and self.structured(call.channel, overrides)[0]:
            raise StreamDisabled(self.settings.structured_stream_status)

    async def after(
        self, call: Call, message: Message, start: TurnStart, script: Script, choice: Choice
    ) -> tuple[Script, Admission | None]:
        """The script as answered (structured), and the rate-limit decision on it; a refusal
        is raised as a ScriptedStatus for the journal."""
        turn, overrides = start.turn, start.view.overrides
        structured, _ = self.structured(call.channel, overrides)
        if structured is not None and structured.json_schema is not None and not script.broken:
            draw = f"{self.seed}:{call.channel}:{message.thread_id.lower()}:{turn}"
            scenario = choice.scenario  # the reply the engine answered (scenarios/engine.py)
            reply = scenario.step(choice.step or turn) if scenario.turns else scenario
            text = output_of(structured.json_schema, reply.structured, choice.scenario.name, draw)
            script = structured_script(script, text)
        limits, _ = self.limiter.limits(call.channel, overrides)
        if limits is None:
            return script, None
        stream = call.path.endswith("/stream")
        cost = message_tokens(message.text, script.reply, self.tokens.count)
        slot = slot_name(message.thread_id, turn) if stream else ""
        demand = self.limiter.demand(limits, stream, cost, script.duration, slot)
        admission = await self.limiter.admit(limits, call.channel, demand)
        if admission.refusal is not None:
            if choice.chosen_by is ChosenBy.QUEUE:
                await self.store.push(
                    QueuedReply(secrets.token_hex(8), choice.scenario, call.channel)
                )
            item = ItemRecord(
                message.thread_id,
                turn,
                choice.scenario.name,
                choice.chosen_by,
                limit=admission.note,
            )
            raise ScriptedStatus(admission.refusal, item)
        if admission.headers:
            script = _with_headers(script, admission.headers)
        return script, admission

    async def release(self, channel_id: str, items: Iterable[ItemRecord]) -> None:
        """Free the stream slots a finished request held."""
        for item in items:
            if item.slot:
                await self.limiter.buckets.release(channel_id, slot_name(item.thread, item.turn))

    async def reset(self, channel_id: str | None) -> None:
        await self.limiter.buckets.reset(channel_id)

    # --- run-time settings ------------------------------------------------------------------------

    async def set_rate_limits(self, limits: RateLimits | None, channel_id: str | None) -> None:
        """These limits for a channel (or all) until reset; one without limits turns them
        off, None goes back to the configured ones."""
        await self.store.set_override(channel_id, "rate_limits", limits)

    async def rate_limits(self, channel_id: str | None) -> tuple[RateLimits | None, str]:
        return self.limiter.limits(channel_id, await self._scoped(channel_id))

    async def set_structured(
        self,
        structured: StructuredOutput | None,
        channel_id: str | None,
        scenarios: ScenarioSet,
    ) -> None:
        """Structured output for a channel (or all) until reset: its schema checked against
        VIVI's strict rules, and every loaded scenario's ``structured`` value against it."""
        if structured is not None and structured.json_schema is not None:
            checked(structured)
            problems = [
                FieldError(f"scenario {name}", why)
                for name, value in _structured_values(scenarios)
                for why in conformance(structured.json_schema, value)[:3]
            ]
            if problems:
                raise ValidationFailed(
                    "scenarios' structured values do not conform to the schema: "
                    + "; ".join(f"{p.field}: {p.reason}" for p in problems),
                    problems,
                )
        await self.store.set_override(channel_id, "structured", structured)

    def check_fixtures(self, scenarios: ScenarioSet) -> None:
        """FixtureError naming each scenario whose ``structured`` value a configured channel's
        schema refuses (run-time schemas check the fixtures when they are set)."""
        problems = [
            Problem(
                scenarios.sources.get(name.split(" ")[0], Path("fixtures")),
                None,
                f"scenario '{name}': its structured value does not conform to the schema of "
                f"channel '{channel_id}': {why}",
            )
            for channel_id, output in self._structured.items()
            if output is not None and output.json_schema is not None
            for name, value in _structured_values(scenarios)
            for why in conformance(output.json_schema, value)[:3]
        ]
        if problems:
            raise FixtureError(problems)

    async def check_queued(self, scenario: Scenario, channel_id: str | None) -> None:
        """A reply queued for a structured channel: its values checked against the schema."""
        if channel_id is None:
            return
        structured, _ = await self.structured_now(channel_id)
        if structured is None or structured.json_schema is None:
            return
        values: list[tuple[str, object]] = []
        if scenario.structured is not None:
            values.append((scenario.name, scenario.structured))
        values += list(_turn_values(scenario))
        problems = [
            FieldError("structured", f"{name}: {why}")
            for name, value in values
            for why in conformance(structured.json_schema, value)[:3]
        ]
        if problems:
            raise ValidationFailed(
                "invalid queued answer: its structured value does not conform to the channel's "
                "schema: " + "; ".join(p.reason for p in problems),
                problems,
            )

    async def structured_now(self, channel_id: str | None) -> tuple[StructuredOutput | None, str]:
        return self.structured(channel_id, await self._scoped(channel_id))

    async def _scoped(self, channel_id: str | None) -> Overrides:
        mine = await self.store.overrides(channel_id)
        if channel_id is None:
            return mine
        return mine.over(await self.store.overrides(None))


def _with_headers(script: Script, headers: tuple[tuple[str, str], ...]) -> Script:
    """The script with more response headers: a shallow copy, since ``dataclasses.replace``
    would derive its reply and duration again (a measured share of a limited request) and drop
    its encoded events, none of which the headers change."""
    copied = object.__new__(Script)
    for name in Script.__slots__:
        object.__setattr__(copied, name, getattr(script, name))
    object.__setattr__(copied, "headers", (*script.headers, *headers))
    return copied


def _turn_values(scenario: Scenario) -> Iterable[tuple[str, object]]:
    for index, turn in enumerate(scenario.turns or (), 1):
        if turn.structured is not None:
            yield f"{scenario.name} (turn {index})", turn.structured


def _structured_values(scenarios: ScenarioSet) -> Iterable[tuple[str, object]]:
    for scenario in scenarios.scenarios:
        if scenario.structured is not None:
            yield scenario.name, scenario.structured
        yield from _turn_values(scenario)
