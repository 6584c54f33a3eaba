"""The emulator's one service: every behaviour and every piece of state is reached through it.

Routes, the control API, the playground and the pytest plugin call these methods and never
touch the store. A message is answered in steps that map onto the store's atomic ones:
``answer`` opens the thread's turn, chooses the scenario (claiming a queued reply if one
matches; continuing the thread's conversation), draws chaos, and builds the Script. A route
reaches it through an ``exchange`` (one request), which holds each turn as a lease, settles it
once by one rule (kept, or given back), and writes the request's one journal entry.

The service knows nothing of HTTP: it takes plain values (``Call``, ``Message``), not request
models.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import anyio

from vivi_emulator.caches import Cache
from vivi_emulator.calls import Answer, Call, Message, ScriptedStatus
from vivi_emulator.chaos import Injection, draw
from vivi_emulator.conversations import Choice, choose
from vivi_emulator.errors import (
    ApiError,
    FieldError,
    NotFound,
    StatusReply,
    ValidationFailed,
    echoed,
)
from vivi_emulator.exchange import Exchange
from vivi_emulator.files import Files
from vivi_emulator.gate import Gate
from vivi_emulator.journal import ChosenBy, ItemRecord, JournalEntry
from vivi_emulator.journaling import Journaling
from vivi_emulator.rendering import Rendered
from vivi_emulator.resources import default_fixtures_dir
from vivi_emulator.runtime import RunTime
from vivi_emulator.scenarios.choosing import matches
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import BuildOptions, build_script, constant_scripts
from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.scenarios.loader import ScenarioSet, load_scenarios
from vivi_emulator.scenarios.named_wire import apply_named
from vivi_emulator.script import Script
from vivi_emulator.scripting import Scripting
from vivi_emulator.settings import Settings
from vivi_emulator.store import open_store
from vivi_emulator.store.base import Bounds, StateStore
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.values import KEEP, Conversation, Keep, QueuedReply, TurnEnd, View

log = logging.getLogger("vivi_emulator.service")


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    name: str
    description: str
    matches: bool
    default: bool


class Emulator:
    """The VIVI emulator: channels and keys, scenarios, threads, the journal; and its parts,
    each built with what it uses: uploaded files (``files``, a ``files.Files``), what a test
    scripts at run time (``scripting``: queue, forced, latency, chaos), journal entries
    (``journaling``)."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.bounds = self.bounds_of(settings)
        channels = {c.id: c.key.get_secret_value() for c in settings.channels}
        if store is None:
            if settings.state == "memory":
                from vivi_emulator.store.memory import MemoryStore

                store = MemoryStore(channels, self.bounds, clock)
            else:
                store = open_store(settings.state, channels, self.bounds)
        self.store = store
        self.seed = settings.seed if settings.seed is not None else 0
        self.gate = Gate(settings, store, self.seed)  # structured output and rate limits
        # The emulator's caches (caches.Cache), each cleared here when the fixtures change:
        # build options per latency profile (keyed by the profile's id; the entry keeps the
        # profile alive), constant scripts, and what is rendered of each constant script.
        self._options: Cache[int, BuildOptions] = Cache(64)
        self._constants = constant_scripts()
        self._renderings: Cache[int, Rendered] = Cache(4096)
        self.run_time = RunTime(settings)
        self.scenarios: ScenarioSet = self.load_scenarios()
        self._scenarios_version = 0
        token = settings.admin_token
        self.journaling = Journaling(
            settings.limits.journal_entry_bytes,
            token.get_secret_value() if token is not None else None,
        )
        self.files = Files(store, settings.limits)
        self.scripting = Scripting(store, self.run_time, lambda: self.scenarios, self.gate)

    @staticmethod
    def bounds_of(settings: Settings) -> Bounds:
        limits = settings.limits
        return Bounds(
            max_threads=limits.max_threads,
            thread_idle_seconds=limits.thread_idle_seconds,
            files_quota_bytes=limits.files_quota_bytes,
            file_ttl_seconds=limits.file_ttl_seconds,
            journal_size=settings.journal_size,
            max_queued=limits.max_queued,
            redacted_keys=limits.redacted_keys,
        )

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.start()

    async def close(self) -> None:
        await self.store.close()

    # --- scenarios ------------------------------------------------------------------------------

    @property
    def fixture_folders(self) -> list[Path]:
        """The shipped defaults first, then the user's folders, which override them by name."""
        return [default_fixtures_dir(), *self.settings.fixtures]

    def load_scenarios(self) -> ScenarioSet:
        """Load the fixtures again; on any error keep the current set (FixtureError is raised)."""
        loaded = load_scenarios(self.fixture_folders)
        self.gate.check_fixtures(loaded)  # structured values against configured schemas
        self.scenarios = loaded
        self._constants.clear()
        self._renderings.clear()
        for note in self.scenarios.notes:
            log.warning("fixtures: %s", note)
        return self.scenarios

    async def reload_scenarios(self) -> ScenarioSet:
        """Reload here, and tell every other process sharing the store to reload too."""
        loaded = self.load_scenarios()
        self._scenarios_version = await self.store.bump_scenarios()
        return loaded

    def _sync_scenarios(self, view: View) -> None:
        if view.scenarios_version != self._scenarios_version:
            self._scenarios_version = view.scenarios_version
            try:
                self.load_scenarios()
            except Exception as exc:  # a broken edit: keep the last good set (it is logged)
                log.warning("fixtures changed elsewhere but do not load here: %s", exc)

    def scenario_list(self) -> list[ScenarioInfo]:
        return [
            ScenarioInfo(s.name, s.description, s.match is not None, s.default)
            for s in self.scenarios.scenarios
        ]

    # --- channels and keys ----------------------------------------------------------------------

    async def check_key(self, channel_id: str, presented: str | None) -> KeyRing:
        """The key check, against this process's copy of the keys when it passes there (no
        round trip; ``answer`` notices a rotation since), else against the current keys (a
        channel added or a key rotated by another process counts). Returns the keys it passed
        against: the request belongs to its channel's generation there."""
        ring = self.store.cached_keys()
        try:
            ring.check(channel_id, presented)
        except ApiError:
            return await self.check_key_now(channel_id, presented)
        return ring

    async def check_key_now(self, channel_id: str, presented: str | None) -> KeyRing:
        """The key check against the store's current keys (a rotation elsewhere counts)."""
        ring = await self.store.keys()
        ring.check(channel_id, presented)
        return ring

    def generation(self, channel_id: str, checked: KeyRing | None) -> int | None:
        """The channel generation of a request whose key passed against ``checked`` (None
        before its key passed). A Redis emptied or replaced since the check ends no generation
        (only a delete does: docs/decisions.md, "An emptied Redis is no delete"): the request
        belongs to its channel's generation in the store as it is now (none if it is not
        there)."""
        if checked is None:
            return None
        current = self.store.cached_keys()
        if checked.epoch != current.epoch:
            return current.generation(channel_id)
        return checked.generation(channel_id)

    async def channels(self) -> list[str]:
        return (await self.store.keys()).channels()

    async def add_channel(self, channel_id: str, key: str | None = None) -> str:
        key = key or secrets.token_urlsafe(24)
        if not await self.store.add_channel(channel_id, key):
            raise ValidationFailed(
                f"channel '{echoed(channel_id)}' exists; rotate its key instead",
                [FieldError("id", "already exists")],
            )
        return key

    async def rotate_key(self, channel_id: str, key: str | None = None) -> str:
        key = key or secrets.token_urlsafe(24)
        if not await self.store.set_key(channel_id, key):
            raise NotFound(f"unknown channel '{echoed(channel_id)}'")
        return key

    async def remove_channel(self, channel_id: str) -> None:
        """Remove a channel, its key, and everything kept for it (threads, files, journal,
        queue, overrides), in one step: its generation ends, and what its requests in flight
        still write is dropped (docs/architecture.md). What a test that made a channel on a
        shared emulator leaves behind."""
        if not await self.store.remove_channel(channel_id):
            raise NotFound(f"unknown channel '{echoed(channel_id)}'")
        await self.gate.reset(channel_id)

    # --- messages -------------------------------------------------------------------------------

    async def answer(self, call: Call, message: Message, checked: KeyRing | None = None) -> Answer:
        """Open the message's turn, choose its scenario, and build its Script, in the
        channel's generation in ``checked``, the keys its key passed against (ChannelGone if
        it ended: the channel was deleted).

        A status scenario raises ScriptedStatus carrying its turn to give back (``returned``;
        the exchange gives it back with the request's journal entry, in one store step): the
        agent never saw the message (a conversation's step still counts). If the key was
        rotated by another process since this one last looked, the check is made again on the
        current keys.
        """
        store = self.store
        generation = self.generation(call.channel, checked)
        start = await store.begin_turn(call.channel, message.thread_id, generation)
        view = start.view
        generation = view.generation if generation is not None else None
        choice: Choice | None = None
        fault: str | None = None
        try:
            # Checked again if the keys changed since the check (elsewhere, or in a Redis that
            # was replaced meanwhile: a version alone may come back, a snapshot does not).
            if (
                checked is None
                or checked is not store.cached_keys()
                or view.keys_version != checked.version
            ):
                await self.check_key_now(call.channel, call.api_key)
            self._sync_scenarios(view)
            self.gate.before(call, view.overrides)
            ctx = RequestContext(
                channel_id=call.channel,
                message=message.text,
                thread_id=message.thread_id,
                user_id=message.user_id,
                attached_files=message.files,
                turn=start.turn,
                headers=call.headers,
                history=(start.previous,) if start.previous is not None else (),
            )
            choice = await self._choose(ctx, view, start.conversation, generation)
            chaos, _ = self.run_time.chaos(call.channel, view.overrides)
            injection = None
            if chaos is not None and (chaos.include_named or not choice.chosen_by.named):
                injection = draw(chaos, self.seed, call.channel, message.thread_id, start.attempt)
            if injection is not None and injection.status is not None:
                fault = injection.kind
                raise injection.status
            script = build_script(
                choice.scenario,
                ctx,
                self._build_options(self.run_time.latency(call.channel, view.overrides)[0]),
                step=choice.step,
                inject=injection.stream if injection is not None else None,
            )
            if injection is not None and injection.wire is not None:
                script = self._wired(script, injection)
            script, admission = await self.gate.after(call, message, start, script, choice)
        except StatusReply as reply:
            if choice is None:
                await self._give_back(call, message, (start.turn, generation))
                raise
            returned = TurnEnd(
                call.channel, message.thread_id, start.turn, message.text, "", KEEP, generation,
                kept=False,
            )  # fmt: skip
            raise self._status(returned, choice, reply, fault) from None
        except BaseException:
            await self._give_back(call, message, (start.turn, generation))
            raise
        chosen_by = ChosenBy.CHAOS if script.injected is not None else choice.chosen_by
        return Answer(
            message,
            start.turn,
            choice.scenario.name,
            chosen_by,
            script,
            choice.conversation,
            script.injected,
            generation=generation,
            admission=admission,
        )

    @staticmethod
    def _status(
        returned: TurnEnd, choice: Choice, reply: StatusReply, fault: str | None
    ) -> ScriptedStatus:
        """The ScriptedStatus a status answer raises, carrying its turn to give back
        (``returned``; the exchange gives it back with the request's journal entry, in one store
        step), with the conversation a status leaves."""
        status = reply
        if not isinstance(status, ScriptedStatus):
            returned.conversation = choice.after_status(by_chaos=fault is not None)
            chosen_by = ChosenBy.CHAOS if fault is not None else choice.chosen_by
            item = ItemRecord(
                returned.thread_id, returned.turn, choice.scenario.name, chosen_by, fault=fault
            )
            status = ScriptedStatus(reply, item)
        status.returned = returned
        return status

    async def _give_back(
        self,
        call: Call,
        message: Message,
        turn: tuple[int, int | None],
        conversation: Conversation | Keep | None = KEEP,
    ) -> None:
        """Give the turn (its number, and its channel's generation) back. Shielded: a
        cancelled request gives its turn back too."""
        number, generation = turn
        with anyio.CancelScope(shield=True):
            await self.store.cancel_turn(
                call.channel, message.thread_id, number, conversation, generation
            )

    def _build_options(self, latency: LatencyProfile) -> BuildOptions:
        """The run's options for building scripts, with a channel's latency profile (made
        once per profile: each request of a channel reads the same one)."""
        options = self._options.get(id(latency))
        if options is None or options.latency is not latency:
            settings = self.settings
            options = BuildOptions(
                self.seed,
                settings.time_scale,
                settings.wire,
                latency,
                self._constants,
                self.gate.tokens,
            )
            self._options.put(id(latency), options)  # it keeps the profile, and the id, alive
        return options

    def rendered(self, script: Script) -> Rendered:
        """What the wire needs of ``script``, made once for a constant (shared) script, and
        shared with its copies that differ only in headers (a rate limit's, ``gate``)."""
        if not script.shared:
            return Rendered(script)
        # Keyed by the events' id: the entry keeps them alive, so the id is not reused.
        made = self._renderings.get(id(script.events))
        if made is None or not made.renders(script):
            made = self._renderings.put(id(script.events), Rendered(script))
        return made

    def _wired(self, script: Script, injection: Injection) -> Script:
        """The script with chaos's wire fault on it, said in ``injected`` for the journal."""
        assert injection.wire is not None
        wired = apply_named(
            script, injection.wire, time_scale=self.settings.time_scale, seed=self.seed
        )
        return replace(wired, injected=injection.kind)

    async def _choose(
        self,
        ctx: RequestContext,
        view: View,
        current: Conversation | None,
        generation: int | None,
    ) -> Choice:
        """A queued reply whose match holds (claimed: exactly once), else the header, the
        forced scenario, the thread's conversation, the first matching fixture, the default
        (``conversations.choose``)."""
        queued = None
        if view.queued:
            waiting: Sequence[QueuedReply] | None = view.replies
            if waiting is None:
                waiting = await self.store.queued(ctx.channel_id)
            for reply in waiting:
                match = reply.scenario.match
                if (match is None or matches(match, ctx)) and await self.store.claim(
                    reply, ctx.channel_id, generation
                ):
                    queued = reply.scenario
                    break
        return choose(self.scenarios, ctx, current, queued, view.overrides.forced)

    def exchange(self, call: Call) -> Exchange:
        """A request to the VIVI surface: its turns' leases and its journal entry
        (``exchange.Exchange``; the turn's rule is written there)."""
        return Exchange(self, call)

    async def keep(
        self,
        call: Call,
        answer: Answer,
        entry: JournalEntry | None = None,
        as_of: KeyRing | None = None,
    ) -> None:
        """Keep the turn's exchange (the next turn's ``previous_*``); with ``entry``, record
        the finished request in the same step (with ``as_of``: only while the store's keys are
        those, else ``KeysMoved``). Called by a turn's lease only."""
        message = answer.message
        end = TurnEnd(
            call.channel,
            message.thread_id,
            answer.turn,
            message.text,
            answer.script.reply,
            answer.conversation,
            answer.generation,
        )
        await self.store.commit_turn(end, entry, as_of)

    async def give_back(
        self,
        call: Call,
        answer: Answer,
        entry: JournalEntry | None = None,
        as_of: KeyRing | None = None,
    ) -> None:
        """Give the turn back: its answer never reached the client; with ``entry``, record the
        finished request in the same step (``as_of``: as ``keep``). Called by a turn's lease
        only."""
        if entry is None:
            await self._give_back(call, answer.message, (answer.turn, answer.generation))
            return
        message = answer.message
        end = TurnEnd(
            call.channel, message.thread_id, answer.turn, message.text, "", KEEP,
            answer.generation, kept=False,
        )  # fmt: skip
        with anyio.CancelScope(shield=True):
            await self.store.commit_turn(end, entry, as_of)

    # --- the journal ----------------------------------------------------------------------------

    async def journal(
        self,
        channel: str | None = None,
        thread: str | None = None,
        path: str | None = None,
    ) -> list[JournalEntry]:
        entries = await self.store.journal()
        wanted_path = path.strip("/") if path else None
        return [
            e
            for e in entries
            if (channel is None or e.channel == channel)
            and (thread is None or thread.lower() in e.threads())
            and (wanted_path is None or e.path == path or e.path.endswith("/" + wanted_path))
        ]

    async def clear_journal(self, channel_id: str | None = None) -> None:
        await self.store.clear_journal(channel_id)

    async def reset(self, channel_id: str | None = None) -> None:
        await self.store.reset(channel_id)
        await self.gate.reset(channel_id)

    async def usage(self) -> dict[str, int]:
        return await self.store.usage()
