"""Which scenario answers a message, with the thread's conversation in mind.

A thread that enters a scenario with ``turns`` (a *conversation*) stays in it: its next messages
get the next steps, whatever they say, until the last step; then the usual choice resumes (or
the steps start again, with ``loop``). ``sticky: false`` opts out: item n answers the thread's
turn n and every message is chosen anew.

In order: a queued reply (claimed by the service), the ``x-vivi-scenario`` header, the forced
scenario, the conversation, the first matching scenario, the default. A named reply (queued,
header, forced) is a message *aside*: the conversation waits, and goes on at the same step after
it. A header or forced scenario that is the conversation's own continues it; one with sticky
turns of its own starts a new conversation. A status step gives its turn back (the agent never
saw the message) but still counts as a step. The decisions: docs/decisions.md.

Pure: the service reads the thread's ``Conversation`` from the store and keeps the one a
``Choice`` says.
"""

from __future__ import annotations

from dataclasses import dataclass

from vivi_emulator.journal import ChosenBy
from vivi_emulator.scenarios.choosing import SCENARIO_HEADER, matched, named
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.store.values import KEEP, Conversation, Keep


@dataclass(frozen=True, slots=True)
class Choice:
    """A message's scenario, how it was chosen, which of its ``turns`` answers (None: it has
    none), and the thread's conversation once this message is answered."""

    scenario: Scenario
    chosen_by: ChosenBy
    step: int | None
    conversation: Conversation | None

    @property
    def in_conversation(self) -> bool:
        """This message is a step of a conversation (a queued reply is one-shot, never one)."""
        return (
            self.step is not None and self.scenario.sticky and self.chosen_by is not ChosenBy.QUEUE
        )

    def after_status(self, by_chaos: bool) -> Conversation | Keep | None:
        """The thread's conversation after this message answered a status, which gives its
        turn back: a conversation's step still counts (the next message, which gets the same
        turn number, gets the next step); anything else, chaos included, changes nothing."""
        if by_chaos or not self.in_conversation:
            return KEEP
        if self.conversation is None:
            return None
        return Conversation(self.conversation.scenario, self.conversation.first_turn - 1)


@dataclass(frozen=True, slots=True)
class _Live:
    """The conversation a message continues: its scenario as loaded now, and the step."""

    scenario: Scenario
    conversation: Conversation
    step: int

    def choice(self, how: ChosenBy) -> Choice:
        turns = len(self.scenario.turns or ())
        goes_on = self.scenario.loop or self.step < turns
        return Choice(self.scenario, how, self.step, self.conversation if goes_on else None)

    def aside(self) -> Conversation:
        """The conversation after a message answered outside it: it waits, and the next
        message gets the step this one would have had."""
        return Conversation(self.conversation.scenario, self.conversation.first_turn + 1)


def _live(scenarios: ScenarioSet, current: Conversation | None, turn: int) -> _Live | None:
    if current is None:
        return None
    scenario = scenarios.get(current.scenario)
    if scenario is None or not scenario.turns or not scenario.sticky:
        return None  # reloaded away, or no longer a conversation
    step = turn - current.first_turn + 1
    if step < 1 or (step > len(scenario.turns) and not scenario.loop):
        return None
    return _Live(scenario, current, step)


def entered(scenario: Scenario, how: ChosenBy, turn: int) -> Choice:
    """A newly chosen scenario: with sticky turns, the thread enters its conversation."""
    if not scenario.turns:
        return Choice(scenario, how, None, None)
    if not scenario.sticky:
        return Choice(scenario, how, turn, None)
    goes_on = scenario.loop or len(scenario.turns) > 1
    return Choice(scenario, how, 1, Conversation(scenario.name, turn) if goes_on else None)


def choose(
    scenarios: ScenarioSet,
    ctx: RequestContext,
    current: Conversation | None,
    queued: Scenario | None = None,
    forced: str | None = None,
) -> Choice:
    """The choice for a message of a thread whose conversation is ``current``; ``queued`` is
    the queued reply the service claimed for it, if any, and ``forced`` the scenario forced for
    the channel; the ``x-vivi-scenario`` header is read from the request."""
    live = _live(scenarios, current, ctx.turn)
    aside = live.aside() if live is not None else None
    if queued is not None:
        # One-shot: never a conversation; its turns, if any, answer from the first.
        return Choice(queued, ChosenBy.QUEUE, 1 if queued.turns else None, aside)
    chosen = named(scenarios, ctx.headers.get(SCENARIO_HEADER), forced)
    if chosen is not None:
        scenario, how = chosen
        if live is not None and scenario.name == live.scenario.name:
            return live.choice(how)
        if scenario.turns and scenario.sticky:
            return entered(scenario, how, ctx.turn)
        return Choice(scenario, how, ctx.turn if scenario.turns else None, aside)
    if live is not None:
        return live.choice(ChosenBy.CONVERSATION)
    scenario, how = matched(scenarios, ctx)
    return entered(scenario, how, ctx.turn)
