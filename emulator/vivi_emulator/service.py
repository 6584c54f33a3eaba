"""The emulator's one service: every behaviour and every piece of state is reached through it.

Routes, the control API, the playground and the pytest plugin call these methods and never
touch the store. A message is answered in steps that map onto the store's atomic ones:
``answer`` opens the thread's turn, chooses the scenario (claiming a queued reply if one
matches; continuing the thread's conversation), draws chaos, and builds the Script; ``keep``
keeps the turn's exchange and the thread's conversation; ``finish`` turns what happened to the
request (a ``Trace``) into one immutable journal entry, written once.

The service knows nothing of HTTP: it takes plain values (``Call``, ``Message``), not request
models.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vivi_emulator.chaos import ChaosSettings, Injection, draw
from vivi_emulator.conversations import Choice, choose
from vivi_emulator.errors import (
    ApiError,
    FieldError,
    NotFound,
    PayloadTooLarge,
    StatusReply,
    ValidationFailed,
)
from vivi_emulator.journal import (
    ChosenBy,
    ItemRecord,
    JournalEntry,
    body_text,
    kept_events,
    kept_headers,
)
from vivi_emulator.paths import API_KEY_HEADER
from vivi_emulator.redaction import Redactor
from vivi_emulator.resources import default_fixtures_dir
from vivi_emulator.runtime import RunTime
from vivi_emulator.scenarios.checks import scenario_problems
from vivi_emulator.scenarios.engine import (
    SCENARIO_HEADER,
    RequestContext,
    UnknownScenario,
    build_script,
    matches,
)
from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.scenarios.loader import ScenarioSet, load_scenarios, model_errors
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.scenarios.script import Script
from vivi_emulator.settings import Settings
from vivi_emulator.store import open_store
from vivi_emulator.store.base import (
    Bounds,
    Conversation,
    KeyRing,
    NewFile,
    Overrides,
    QueuedReply,
    StateStore,
    StoredFile,
    Turn,
    View,
)
from vivi_emulator.wire.named import apply_named

log = logging.getLogger("vivi_emulator.service")

_Headers = tuple[tuple[str, str], ...]

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str | None) -> str:
    """A client's file name reduced to a harmless URL segment. It never becomes a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")[:100]
    return cleaned or "file"


@dataclass(frozen=True, slots=True)
class Message:
    """One message to the agent, as the service sees it."""

    text: str
    thread_id: str
    user_id: str | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Call:
    """A request to the VIVI surface: what the journal keeps of it."""

    method: str
    path: str
    channel: str
    headers: Mapping[str, str]  # lower-case names, as received (redacted when journaled)
    started: float  # the wall clock (time.time()), for the journal
    clock: float  # time.monotonic(), for its duration

    @property
    def api_key(self) -> str | None:
        return self.headers.get(API_KEY_HEADER)


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply chosen for one message: what to render, and what the journal says of it."""

    message: Message
    turn: int
    scenario: str
    chosen_by: ChosenBy
    script: Script
    conversation: Conversation | None = None
    fault: str | None = None  # what chaos injected

    @property
    def item(self) -> ItemRecord:
        return ItemRecord(
            self.message.thread_id, self.turn, self.scenario, self.chosen_by, fault=self.fault
        )


class ScriptedStatus(StatusReply):
    """A scenario's status reply (429, 500, ...), with the item the journal records."""

    def __init__(self, reply: StatusReply, item: ItemRecord) -> None:
        super().__init__(reply.status_code, reply.body(), reply.headers)
        self.item = item


@dataclass(slots=True)
class Trace:
    """What happened to one request so far (request-local); ``finish`` makes it an entry."""

    call: Call
    items: list[ItemRecord]
    body: bytes | str | None = None
    events: Sequence[dict[str, str]] | None = None
    status: int = 0
    error: str | None = None
    client_left: bool = False


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    name: str
    description: str
    matches: bool
    default: bool


class Emulator:
    """The VIVI emulator: channels and keys, scenarios, threads, files, queue, journal."""

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
        self.run_time = RunTime(settings)
        self.scenarios: ScenarioSet = self.load_scenarios()
        self._scenarios_version = 0
        self._redactors: tuple[int, Redactor] | None = None
        self._headers: dict[tuple[tuple[str, str], ...], tuple[Redactor, _Headers]] = {}

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
        self.scenarios = load_scenarios(self.fixture_folders)
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

    def _known(self, name: str) -> None:
        if self.scenarios.get(name) is None:
            raise UnknownScenario(name, self.scenarios.names)

    # --- channels and keys ----------------------------------------------------------------------

    async def check_key(self, channel_id: str, presented: str | None) -> None:
        """The key check, against this process's copy of the keys when it passes there (no
        round trip; ``answer`` notices a rotation since), else against the current keys (a
        channel added or a key rotated by another process counts)."""
        try:
            self.store.cached_keys().check(channel_id, presented)
        except ApiError:
            await self.check_key_now(channel_id, presented)

    async def check_key_now(self, channel_id: str, presented: str | None) -> None:
        """The key check against the store's current keys (a rotation elsewhere counts)."""
        (await self.store.keys()).check(channel_id, presented)

    async def channels(self) -> list[str]:
        return (await self.store.keys()).channels()

    async def add_channel(self, channel_id: str, key: str | None = None) -> str:
        key = key or secrets.token_urlsafe(24)
        if not await self.store.add_channel(channel_id, key):
            raise ValidationFailed(
                f"channel '{channel_id}' exists; rotate its key instead",
                [FieldError("id", "already exists")],
            )
        return key

    async def rotate_key(self, channel_id: str, key: str | None = None) -> str:
        key = key or secrets.token_urlsafe(24)
        if not await self.store.set_key(channel_id, key):
            raise NotFound(f"unknown channel '{channel_id}'")
        return key

    async def remove_channel(self, channel_id: str) -> None:
        """Remove a channel, its key, and everything kept for it (threads, files, journal,
        queue, overrides): what a test that made a channel on a shared emulator leaves behind."""
        if not await self.store.remove_channel(channel_id):
            raise NotFound(f"unknown channel '{channel_id}'")
        await self.store.reset(channel_id)

    def redactor(self, ring: KeyRing | None = None) -> Redactor:
        """Removes every key ever used here (and the admin token) from journaled text."""
        ring = ring or self.store.cached_keys()
        if self._redactors is None or self._redactors[0] != ring.version:
            redactor = Redactor(ring.ever)
            if self.settings.admin_token is not None:
                redactor.add(self.settings.admin_token.get_secret_value())
            self._redactors = (ring.version, redactor)
        return self._redactors[1]

    # --- messages -------------------------------------------------------------------------------

    async def answer(self, call: Call, message: Message) -> Answer:
        """Open the message's turn, choose its scenario, and build its Script.

        A status scenario raises ScriptedStatus and gives its turn back: the agent never saw
        the message (a conversation's step still counts). If the key was rotated by another
        process since this one last looked, the check is made again on the current keys.
        """
        store = self.store
        start = await store.begin_turn(call.channel, message.thread_id)
        view = start.view
        choice: Choice | None = None
        fault: str | None = None
        try:
            if view.keys_version != store.cached_keys().version:
                await self.check_key_now(call.channel, call.api_key)
            self._sync_scenarios(view)
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
            choice = await self._choose(ctx, view, start.conversation)
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
                self.seed,
                self.settings.time_scale,
                self.settings.wire,
                step=choice.step,
                latency=self.run_time.latency(call.channel, view.overrides)[0],
                inject=injection.stream if injection is not None else None,
            )
            if injection is not None and injection.wire is not None:
                script = self._wired(script, injection)
        except StatusReply as reply:
            if isinstance(reply, ScriptedStatus) or choice is None:
                await store.cancel_turn(call.channel, message.thread_id, start.turn)
                raise
            after = choice.after_status(by_chaos=fault is not None)
            await store.cancel_turn(call.channel, message.thread_id, start.turn, after)
            chosen_by = ChosenBy.CHAOS if fault is not None else choice.chosen_by
            item = ItemRecord(
                message.thread_id, start.turn, choice.scenario.name, chosen_by, fault=fault
            )
            raise ScriptedStatus(reply, item) from None
        except BaseException:
            await store.cancel_turn(call.channel, message.thread_id, start.turn)
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
        )

    def _wired(self, script: Script, injection: Injection) -> Script:
        """The script with chaos's wire fault on it, said in ``injected`` for the journal."""
        assert injection.wire is not None
        wired = apply_named(
            script, injection.wire, time_scale=self.settings.time_scale, seed=self.seed
        )
        return replace(wired, injected=injection.kind)

    async def _choose(
        self, ctx: RequestContext, view: View, current: Conversation | None
    ) -> Choice:
        """A queued reply whose match holds (claimed: exactly once), else the header, the
        forced scenario, the thread's conversation, the first matching fixture, the default
        (``conversations.choose``)."""
        queued = None
        if view.queued:
            for reply in await self.store.queued(ctx.channel_id):
                match = reply.scenario.match
                if (match is None or matches(match, ctx)) and await self.store.claim(reply):
                    queued = reply.scenario
                    break
        return choose(
            self.scenarios,
            ctx,
            current,
            queued,
            ctx.headers.get(SCENARIO_HEADER),
            view.overrides.forced,
        )

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
        current = await self.store.overrides(channel_id)
        await self.store.set_overrides(channel_id, current.model_copy(update={"latency": profile}))

    async def chaos(self, channel_id: str | None = None) -> tuple[ChaosSettings | None, str]:
        """The chaos a channel's requests get (or everyone's; None: none), and where it is set."""
        return self.run_time.chaos(channel_id, await self._scoped(channel_id))

    async def set_chaos(self, chaos: ChaosSettings | None, channel_id: str | None = None) -> None:
        """Inject these faults into a channel's (or every) requests until reset. A setting
        without faults turns chaos off; None goes back to the configured chaos."""
        current = await self.store.overrides(channel_id)
        await self.store.set_overrides(channel_id, current.model_copy(update={"chaos": chaos}))

    async def keep(self, call: Call, answer: Answer, trace: Trace | None = None) -> None:
        """Keep the turn's exchange (the next turn's ``previous_*``); with ``trace``, record
        the finished request in the same step."""
        entry = self.entry(trace) if trace is not None else None
        await self.store.commit_turn(
            call.channel,
            answer.message.thread_id,
            answer.turn,
            Turn(answer.message.text, answer.script.reply),
            answer.conversation,
            entry,
        )

    async def finish(self, trace: Trace) -> None:
        """Record a finished request in the journal."""
        await self.store.record(self.entry(trace))

    def entry(self, trace: Trace) -> JournalEntry:
        """The immutable journal entry of a finished request: redacted, and size-bounded."""
        redact = self.redactor()
        call = trace.call
        limit = self.settings.limits.journal_entry_bytes
        body, cut = body_text(trace.body, redact, limit // 3)
        events, left_out = (
            kept_events(trace.events, redact, limit - limit // 3)
            if trace.events is not None
            else (None, 0)
        )
        return JournalEntry(
            id=0,
            time=call.started,
            method=call.method,
            path=call.path,
            channel=call.channel,
            headers=self._kept_headers(call.headers, redact),
            status=trace.status,
            body=body,
            body_truncated=cut,
            items=tuple(trace.items),
            events=events,
            events_left_out=left_out,
            error=redact.text(trace.error) if trace.error else None,
            client_left=trace.client_left,
            duration_ms=(time.monotonic() - call.clock) * 1000,
        )

    def _kept_headers(
        self, headers: Mapping[str, str], redact: Redactor
    ) -> tuple[tuple[str, str], ...]:
        # Clients send the same headers again and again: each set is redacted once.
        raw = tuple(headers.items())
        cached = self._headers.get(raw)
        if cached is None or cached[0] is not redact:
            if len(self._headers) >= 256:
                self._headers.clear()
            cached = self._headers[raw] = (redact, kept_headers(raw, redact))
        return cached[1]

    # --- files ----------------------------------------------------------------------------------

    async def upload(self, channel_id: str, files: Sequence[NewFile]) -> list[tuple[str, str]]:
        """Keep the files; return (file id, safe name) per file, in order."""
        limits = self.settings.limits
        if len(files) > limits.max_files:
            reason = f"must hold at most {limits.max_files} files, got {len(files)}"
            raise ValidationFailed(
                f"invalid request: files {reason}", [FieldError("files", reason)]
            )
        for new in files:
            if len(new.data) > limits.max_file_bytes:
                raise PayloadTooLarge(
                    f"file '{safe_file_name(new.name)}' is {len(new.data)} bytes; "
                    f"the limit is {limits.max_file_bytes}"
                )
        named = [NewFile(safe_file_name(f.name), f.content_type, f.data) for f in files]
        ids = await self.store.put_files(channel_id, named)
        return [(file_id, new.name) for file_id, new in zip(ids, named, strict=True)]

    async def uploaded_file(self, channel_id: str, file_id: str, name: str) -> StoredFile:
        stored = await self.store.get_file(file_id)
        if stored is None or stored.channel_id != channel_id or stored.name != name:
            raise NotFound("no such file, or it has expired")
        return stored

    # --- scripting: the queue and forced scenarios ---------------------------------------------

    def queued_scenario(self, data: Mapping[str, Any], default_name: str) -> Scenario:
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

    async def queue_reply(
        self, data: Mapping[str, Any], channel_id: str | None = None
    ) -> tuple[str, int]:
        """Queue a one-shot reply for a channel (or any); return its name and the queue size."""
        waiting = await self.store.queued(channel_id)
        scenario = self.queued_scenario(data, f"queued-{len(waiting) + 1}")
        size = await self.store.push(QueuedReply(secrets.token_hex(8), scenario, channel_id))
        return scenario.name, size

    async def queue(self, channel_id: str | None = None) -> list[QueuedReply]:
        return await self.store.queued(channel_id)

    async def clear_queue(self, channel_id: str | None = None) -> None:
        await self.store.clear_queue(channel_id)

    async def force(self, name: str | None, channel_id: str | None = None) -> None:
        """Every request (of the channel, or all) gets this scenario until reset; None stops."""
        if name is not None:
            self._known(name)
        current = await self.store.overrides(channel_id)
        await self.store.set_overrides(channel_id, current.model_copy(update={"forced": name}))

    async def forced(self, channel_id: str | None = None) -> str | None:
        overrides = await self.store.overrides(channel_id)
        if channel_id is not None and overrides.forced is None:
            overrides = await self.store.overrides(None)
        return overrides.forced

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

    async def usage(self) -> dict[str, int]:
        return await self.store.usage()
