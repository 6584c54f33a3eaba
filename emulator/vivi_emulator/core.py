"""The emulator's behaviour, apart from HTTP: keys, threads, scripts, files.

HTTP handlers stay thin: they read the request, call this, and render what it returns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from vivi_emulator.channels import ChannelRegistry
from vivi_emulator.channels_api.models import MessageRequest
from vivi_emulator.errors import FieldError, NotFound, PayloadTooLarge, ValidationFailed
from vivi_emulator.resources import default_fixtures_dir
from vivi_emulator.scenarios.engine import SCENARIO_HEADER, RequestContext, build_script, choose
from vivi_emulator.scenarios.loader import ScenarioSet, load_scenarios
from vivi_emulator.scenarios.script import Script
from vivi_emulator.settings import Settings
from vivi_emulator.state import JournalEntry, Store, StoredFile, Turn

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str | None) -> str:
    """A client's file name reduced to a harmless URL segment. It never becomes a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")[:100]
    return cleaned or "file"


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    content_type: str
    data: bytes


class Emulator:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.channels = ChannelRegistry(settings.channels)
        self.store = Store(clock, journal_size=settings.journal_size)
        self.seed = settings.seed if settings.seed is not None else 0
        self.scenarios: ScenarioSet = load_scenarios(self.fixture_folders)

    @property
    def fixture_folders(self) -> list[Path]:
        """The shipped defaults first, then the user's folders, which override them by name."""
        return [default_fixtures_dir(), *self.settings.fixtures]

    def reload_scenarios(self) -> ScenarioSet:
        """Load the fixtures again; on any error keep the current set (FixtureError is raised)."""
        self.scenarios = load_scenarios(self.fixture_folders)
        return self.scenarios

    def authenticate(self, channel_id: str, api_key: str | None) -> None:
        self.channels.check(channel_id, api_key)

    def script_for(
        self,
        channel_id: str,
        request: MessageRequest,
        headers: Mapping[str, str],
        entry: JournalEntry | None = None,
    ) -> Script:
        """The Script answering ``request``; it opens the next turn of its thread.

        A status scenario raises its StatusReply instead, and opens no turn: the agent never
        saw the message.
        """
        thread = self.store.thread(channel_id, request.threadId)
        ctx = RequestContext(
            channel_id=channel_id,
            message=request.message,
            thread_id=request.threadId,
            user_id=request.userId,
            attached_files=request.attached_files,
            turn=thread.next_turn,
            headers=headers,
            history=thread.turns,  # read before this turn is added; no copy
        )
        scenario, chosen_by = choose(
            self.scenarios,
            ctx,
            headers.get(SCENARIO_HEADER),
            self.store.queue,
            self.store.forced,
        )
        if entry is not None:
            entry.thread = request.threadId
            entry.scenario = scenario.name
            entry.chosen_by = chosen_by
        script = build_script(scenario, ctx, self.seed, self.settings.time_scale)
        thread.add(Turn(request.message, script.reply))
        return script

    def store_uploads(self, channel_id: str, uploads: Sequence[Upload]) -> list[tuple[str, str]]:
        """Keep the files; return (file id, safe name) per file, in order."""
        limits = self.settings.limits
        if len(uploads) > limits.max_files:
            reason = f"must hold at most {limits.max_files} files, got {len(uploads)}"
            raise ValidationFailed(
                f"invalid request: files {reason}", [FieldError("files", reason)]
            )
        for upload in uploads:
            if len(upload.data) > limits.max_file_bytes:
                raise PayloadTooLarge(
                    f"file '{safe_file_name(upload.name)}' is {len(upload.data)} bytes; "
                    f"the limit is {limits.max_file_bytes}"
                )
        stored = []
        for upload in uploads:
            name = safe_file_name(upload.name)
            file_id = self.store.add_file(
                channel_id, name, upload.content_type, upload.data, limits.file_ttl_seconds
            )
            stored.append((file_id, name))
        return stored

    def uploaded_file(self, channel_id: str, file_id: str, name: str) -> StoredFile:
        stored = self.store.get_file(file_id)
        if stored is None or stored.channel_id != channel_id or stored.name != name:
            raise NotFound("no such file, or it has expired")
        return stored
