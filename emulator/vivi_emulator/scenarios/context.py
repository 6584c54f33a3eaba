"""The request as a scenario sees it: what a ``match`` tests and a template fills in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit


class PastTurn(Protocol):
    """What a template reads of an earlier turn (the store's ``Turn`` is one): the engine is
    pure and below the store, so it names only what it reads."""

    @property
    def message(self) -> str: ...

    @property
    def reply(self) -> str: ...


@dataclass(slots=True)  # built on every request: no frozen-dataclass __init__ cost
class RequestContext:
    """What a scenario can match on and template from."""

    channel_id: str
    message: str
    thread_id: str
    user_id: str | None
    attached_files: Sequence[str]
    turn: int
    headers: Mapping[str, str]
    history: Sequence[PastTurn] = ()

    @property
    def file_names(self) -> list[str]:
        return [
            unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or url for url in self.attached_files
        ]

    def template_values(self) -> dict[str, str]:
        previous = self.history[-1] if self.history else None
        return {
            "message": self.message,
            "threadId": self.thread_id,
            "userId": self.user_id or "",
            "channelId": self.channel_id,
            "turn": str(self.turn),
            "files": ", ".join(self.file_names),
            "file_count": str(len(self.attached_files)),
            "previous_message": previous.message if previous else "",
            "previous_reply": previous.reply if previous else "",
        }
