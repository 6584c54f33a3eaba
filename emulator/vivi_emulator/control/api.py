"""The control API: reset, journal, one-shot queue, scenarios, channels and keys.

A FastAPI app of its own, mounted at ``/_emulator``; its OpenAPI document is served at
``/_emulator/openapi.json``, apart from the VIVI contract.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Query
from pydantic import BaseModel, Field, ValidationError

from vivi_emulator import __version__
from vivi_emulator.control.access import ADMIN_HEADER, check_admin
from vivi_emulator.core import Emulator
from vivi_emulator.errors import FieldError, NotFound, ValidationFailed, install_error_handlers
from vivi_emulator.scenarios.engine import UnknownScenario
from vivi_emulator.scenarios.loader import FixtureError
from vivi_emulator.scenarios.model import Scenario

MAX_QUEUE = 1000


class ScenarioInfo(BaseModel):
    name: str
    description: str
    matches: bool = Field(description="Chosen by its match, not only by name.")
    default: bool


class ScenarioList(BaseModel):
    scenarios: list[ScenarioInfo]
    forced: str | None = Field(description="The scenario every request gets, if one is forced.")


class Reloaded(BaseModel):
    scenarios: int


class JournalPage(BaseModel):
    entries: list[dict[str, Any]]


class Queued(BaseModel):
    name: str
    queued: int = Field(description="How many answers wait in the queue now.")


class QueueState(BaseModel):
    queue: list[str]


class Forced(BaseModel):
    scenario: str | None = Field(description="A scenario name, or null to stop forcing.")


class ChannelList(BaseModel):
    channels: list[str]


class NewChannel(BaseModel):
    id: str = Field(min_length=1)
    key: str | None = Field(default=None, min_length=1, description="Generated when absent.")


class NewKey(BaseModel):
    key: str | None = Field(default=None, min_length=1, description="Generated when absent.")


class ChannelKey(BaseModel):
    id: str
    key: str = Field(description="The channel's key: shown once, here, and nowhere else.")


class Done(BaseModel):
    done: bool = True


def create_control_app(emulator: Emulator) -> FastAPI:
    store = emulator.store

    def admin(
        token: Annotated[str | None, Header(alias=ADMIN_HEADER)] = None,
    ) -> None:
        check_admin(emulator.settings, token)

    app = FastAPI(
        title="vivi-emulator control API",
        version=__version__,
        description="The emulator's own endpoints; not part of the VIVI channelsApi contract.",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(admin)],
        # No OpenTelemetry spans, metrics or logs from a local test tool.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)

    @app.post("/reset", response_model=Done, summary="Forget threads, files, journal, queue")
    def reset() -> Done:
        store.reset()
        return Done()

    @app.get("/journal", response_model=JournalPage, summary="Requests to the VIVI surface")
    def journal(
        channel: str | None = None,
        thread: str | None = None,
        path: Annotated[str | None, Query(description="A full path, or its last part")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> JournalPage:
        entries = store.journal.select(channel=channel, thread=thread, path=path)[-limit:]
        secrets = emulator.channels.secrets()
        return JournalPage(entries=[e.as_dict(secrets) for e in entries])

    @app.delete("/journal", response_model=Done)
    def clear_journal() -> Done:
        store.journal.clear()
        return Done()

    @app.get("/scenarios", response_model=ScenarioList)
    def scenarios() -> ScenarioList:
        return ScenarioList(
            scenarios=[
                ScenarioInfo(
                    name=s.name,
                    description=s.description,
                    matches=s.match is not None,
                    default=s.default,
                )
                for s in emulator.scenarios.scenarios
            ],
            forced=store.forced,
        )

    @app.post("/scenarios/reload", response_model=Reloaded)
    def reload() -> Reloaded:
        try:
            loaded = emulator.reload_scenarios()
        except FixtureError as exc:
            problems = [FieldError(str(p.file), f"line {p.line}: {p.reason}") for p in exc.problems]
            raise ValidationFailed(
                f"fixtures not reloaded; the last good set stays:\n{exc}", problems
            ) from None
        return Reloaded(scenarios=len(loaded.scenarios))

    @app.put("/forced", response_model=Forced, summary="Force a scenario for every request")
    def force(forced: Forced) -> Forced:
        if forced.scenario is not None and emulator.scenarios.get(forced.scenario) is None:
            raise UnknownScenario(forced.scenario, emulator.scenarios.names)
        store.forced = forced.scenario
        return forced

    @app.get("/queue", response_model=QueueState)
    def queue() -> QueueState:
        return QueueState(queue=[s.name for s in store.queue])

    @app.post(
        "/queue",
        response_model=Queued,
        status_code=201,
        summary="Queue a one-shot answer (a fixture scenario; name optional)",
    )
    def push(reply: Annotated[dict[str, Any], Body()]) -> Queued:
        if len(store.queue) >= MAX_QUEUE:
            raise ValidationFailed(f"the queue holds at most {MAX_QUEUE} answers")
        data = {"name": f"queued-{len(store.queue) + 1}", **reply}
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            errors = [
                FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
                for e in exc.errors(include_url=False, include_input=False)
            ]
            raise ValidationFailed("invalid queued answer", errors) from None
        store.queue.append(scenario)
        return Queued(name=scenario.name, queued=len(store.queue))

    @app.delete("/queue", response_model=Done)
    def clear_queue() -> Done:
        store.queue.clear()
        return Done()

    @app.get("/channels", response_model=ChannelList)
    def channels() -> ChannelList:
        return ChannelList(channels=emulator.channels.ids())

    @app.post("/channels", response_model=ChannelKey, status_code=201)
    def add_channel(channel: NewChannel) -> ChannelKey:
        if channel.id in emulator.channels:
            raise ValidationFailed(
                f"channel '{channel.id}' exists; rotate its key instead",
                [FieldError("id", "already exists")],
            )
        key = channel.key or secrets.token_urlsafe(24)
        emulator.channels.set_key(channel.id, key)
        return ChannelKey(id=channel.id, key=key)

    @app.post("/channels/{channel_id}/rotate", response_model=ChannelKey)
    def rotate(channel_id: str, new: Annotated[NewKey | None, Body()] = None) -> ChannelKey:
        if channel_id not in emulator.channels:
            raise NotFound(f"unknown channel '{channel_id}'")
        key = (new.key if new else None) or secrets.token_urlsafe(24)
        emulator.channels.set_key(channel_id, key)  # the old key stops working at once
        return ChannelKey(id=channel_id, key=key)

    return app
