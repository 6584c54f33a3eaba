"""The control API: reset, journal, one-shot queue, scenarios, latency, chaos, channels and keys.

A FastAPI app of its own, mounted at ``/_emulator``; its OpenAPI document is served at
``/_emulator/openapi.json``, apart from the VIVI contract. Every handler is one call to the
service. Scripting is per channel where a ``channel`` is given (the queue, the forced scenario,
latency, chaos, the journal, reset), so parallel tests that each own a channel never see each
other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Body, Depends, FastAPI, Header, Query
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response

from vivi_emulator import __version__, metrics
from vivi_emulator.chaos import ChaosSettings
from vivi_emulator.control.access import ADMIN_HEADER, check_admin
from vivi_emulator.control.limits import BodyLimit
from vivi_emulator.control.models import (
    ChannelKey,
    ChannelList,
    ChaosState,
    Done,
    Forced,
    LatencyState,
    LatencyUpdate,
    NewChannel,
    NewKey,
    Queued,
    QueuedItem,
    QueueState,
    RateLimitsState,
    Reloaded,
    ScenarioInfo,
    ScenarioList,
    StructuredState,
)
from vivi_emulator.control.shared_keys import refuse_shared_key
from vivi_emulator.errors import (
    FieldError,
    ValidationFailed,
    error_response,
    install_error_handlers,
    json_bytes,
)
from vivi_emulator.har import har_bytes
from vivi_emulator.ratelimit_rules import RateLimits
from vivi_emulator.scenarios.latency import PROFILES
from vivi_emulator.scenarios.loader import FixtureError
from vivi_emulator.scenarios.model_errors import deepest
from vivi_emulator.service import Emulator
from vivi_emulator.structured import StructuredOutput

Channel = Annotated[
    str | None, Query(description="A channel id: only that channel's state (default: all).")
]
State = TypeVar("State")
# Each setting's summaries in the OpenAPI document, by path: GET, PUT, DELETE.
_SUMMARIES: dict[str, tuple[str, str, str]] = {
    "/latency": (
        "How replies are paced now",
        "Pace replies until reset",
        "Back to the configured pace",
    ),
    "/chaos": (
        "The faults injected at a rate now",
        "Inject faults at a rate until reset (no faults: off)",
        "Back to the configured chaos",
    ),
    "/rate-limits": (
        "The rate limits now",
        "Limit requests, tokens and streams until reset (no limit given: off)",
        "Back to the configured limits",
    ),
    "/structured-output": (
        "The schema now",
        "Answer with JSON conforming to a strict schema until reset (null schema: off)",
        "Back to the configured",
    ),
}


async def _invalid_request(_: Request, exc: Exception) -> Response:
    """A control request FastAPI found invalid: 422 naming each field and why, as the VIVI
    surface answers; never FastAPI's default body, which echoes the whole input back."""
    assert isinstance(exc, RequestValidationError)
    if any(e["type"] == "json_invalid" for e in exc.errors()):
        errors = [FieldError("body", "is not valid JSON")]
    else:
        # FastAPI's locations start with where the value was ("body", "query", "path").
        located = [{**e, "loc": tuple(e["loc"])[1:] or tuple(e["loc"])} for e in exc.errors()]
        errors = [FieldError(field or "body", reason) for field, reason in deepest(located)]
    summary = "; ".join(f"{e.field}: {e.reason}" for e in errors)
    return error_response(ValidationFailed(f"invalid request: {summary}", errors))


def create_control_app(emulator: Emulator) -> FastAPI:
    """The control API's app: the admin check and the body limit on every route, then the
    routes of each concern, in the order of its OpenAPI document."""

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
        # Served below, behind the admin check like every other control route.
        openapi_url=None,
        dependencies=[Depends(admin)],
        # No OpenTelemetry spans, metrics or logs from a local test tool.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(BodyLimit, limit=emulator.settings.limits.max_body_bytes)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    _journal(app, emulator)
    _scenarios(app, emulator)
    _latency(app, emulator)
    _chaos(app, emulator)
    _rate_limits(app, emulator)
    _structured(app, emulator)
    _queue(app, emulator)
    _channels(app, emulator)
    _usage(app, emulator)
    _exports(app, emulator)
    return app


def _journal(app: FastAPI, emulator: Emulator) -> None:
    """Reset, and the journal: what the VIVI surface was asked, and how it answered."""

    @app.post("/reset", response_model=Done, summary="Forget threads, files, journal, queue")
    async def reset(channel: Channel = None) -> Done:
        await emulator.reset(channel)
        return Done()

    @app.get("/journal", summary="Requests to the VIVI surface, oldest first")
    async def journal(
        channel: Channel = None,
        thread: str | None = None,
        path: Annotated[str | None, Query(description="A full path, or its last part")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> Response:
        entries = (await emulator.journal(channel=channel, thread=thread, path=path))[-limit:]
        # Written as JSON directly: entries are already plain, bounded data.
        page = {"entries": [e.as_dict() for e in entries]}
        return Response(json_bytes(page), media_type="application/json")

    @app.delete("/journal", response_model=Done)
    async def clear_journal(channel: Channel = None) -> Done:
        await emulator.clear_journal(channel)
        return Done()


def _scenarios(app: FastAPI, emulator: Emulator) -> None:
    """The loaded scenarios, reloading them, and the forced one."""

    @app.get("/scenarios", response_model=ScenarioList)
    async def scenarios(channel: Channel = None) -> ScenarioList:
        return ScenarioList(
            scenarios=[
                ScenarioInfo(
                    name=s.name, description=s.description, matches=s.matches, default=s.default
                )
                for s in emulator.scenario_list()
            ],
            forced=await emulator.scripting.forced(channel),
        )

    @app.post("/scenarios/reload", response_model=Reloaded)
    async def reload() -> Reloaded:
        try:
            loaded = await emulator.reload_scenarios()
        except FixtureError as exc:
            problems = [FieldError(str(p.file), f"line {p.line}: {p.reason}") for p in exc.problems]
            raise ValidationFailed(
                f"fixtures not reloaded; the last good set stays:\n{exc}", problems
            ) from None
        return Reloaded(scenarios=len(loaded.scenarios))

    @app.put("/forced", response_model=Forced, summary="Force a scenario for every request")
    async def force(forced: Forced) -> Forced:
        await emulator.scripting.force(forced.scenario, forced.channel)
        return forced


@dataclass(frozen=True)
class _Setting(Generic[State]):
    """A setting of the control API, per channel or for all: ``GET`` answers it now, ``PUT`` sets
    it until reset, ``DELETE`` goes back to the configured one; each answers the state after.
    The ``PUT`` handler is written by each concern (its body's model differs)."""

    path: str
    # The GET handler's name; the DELETE's is "clear_" + name (the OpenAPI operation ids).
    name: str
    model: type[State]
    state: Callable[[str | None], Awaitable[State]]
    clear: Callable[[str | None], Awaitable[None]]

    def routes(self, app: FastAPI, put: Callable[..., Awaitable[State]]) -> None:
        """The three routes, in this order in the OpenAPI document: GET, PUT, DELETE."""
        now, until_reset, back = _SUMMARIES[self.path]

        async def current(channel: Channel = None) -> State:
            return await self.state(channel)

        async def cleared(channel: Channel = None) -> State:
            await self.clear(channel)
            return await self.state(channel)

        app.get(self.path, response_model=self.model, summary=now, name=self.name)(current)
        app.put(self.path, response_model=self.model, summary=until_reset)(put)
        app.delete(self.path, response_model=self.model, summary=back, name=f"clear_{self.name}")(
            cleared
        )


def _latency(app: FastAPI, emulator: Emulator) -> None:
    """How replies are paced, per channel or for all."""

    async def latency_state(channel: str | None) -> LatencyState:
        profile, source = await emulator.scripting.latency(channel)
        return LatencyState(profile=profile, description=profile.describe(), source=source)

    async def clear(channel: str | None) -> None:
        await emulator.scripting.set_latency(None, channel)

    async def set_latency(update: LatencyUpdate, channel: Channel = None) -> LatencyState:
        profile = update.profile
        await emulator.scripting.set_latency(
            PROFILES[profile] if isinstance(profile, str) else profile, channel
        )
        return await latency_state(channel)

    _Setting("/latency", "latency", LatencyState, latency_state, clear).routes(app, set_latency)


def _chaos(app: FastAPI, emulator: Emulator) -> None:
    """The faults injected at a rate, per channel or for all."""

    async def chaos_state(channel: str | None) -> ChaosState:
        chaos, source = await emulator.scripting.chaos(channel)
        return ChaosState(
            chaos=chaos,
            description=chaos.describe() if chaos is not None else "off",
            source=source,
            configured=emulator.run_time.configured_chaos(channel),
        )

    async def clear(channel: str | None) -> None:
        await emulator.scripting.set_chaos(None, channel)

    async def set_chaos(settings: ChaosSettings, channel: Channel = None) -> ChaosState:
        await emulator.scripting.set_chaos(settings, channel)
        return await chaos_state(channel)

    _Setting("/chaos", "chaos", ChaosState, chaos_state, clear).routes(app, set_chaos)


def _rate_limits(app: FastAPI, emulator: Emulator) -> None:
    """Rate limits and token quotas, per channel or for all (ratelimits.py)."""
    gate = emulator.gate

    async def limits_state(channel: str | None) -> RateLimitsState:
        limits, source = await gate.rate_limits(channel)
        return RateLimitsState(
            rate_limits=limits,
            description=limits.describe() if limits is not None else "off",
            source=source,
            configured=gate.limiter.configured(channel),
        )

    async def clear(channel: str | None) -> None:
        await gate.set_rate_limits(None, channel)

    async def set_rate_limits(limits: RateLimits, channel: Channel = None) -> RateLimitsState:
        await gate.set_rate_limits(limits, channel)
        return await limits_state(channel)

    _Setting("/rate-limits", "rate_limits", RateLimitsState, limits_state, clear).routes(
        app, set_rate_limits
    )


def _structured(app: FastAPI, emulator: Emulator) -> None:
    """Structured-output mode, per channel or for all (structured.py)."""
    gate = emulator.gate

    async def structured_state(channel: str | None) -> StructuredState:
        structured, source = await gate.structured_now(channel)
        return StructuredState(structured_output=structured, source=source)

    async def clear(channel: str | None) -> None:
        await gate.set_structured(None, channel, emulator.scenarios)

    async def set_structured(output: StructuredOutput, channel: Channel = None) -> StructuredState:
        await gate.set_structured(output, channel, emulator.scenarios)
        return await structured_state(channel)

    _Setting("/structured-output", "structured", StructuredState, structured_state, clear).routes(
        app, set_structured
    )


def _queue(app: FastAPI, emulator: Emulator) -> None:
    """One-shot queued replies."""

    @app.get("/queue", response_model=QueueState)
    async def queue(channel: Channel = None) -> QueueState:
        items = await emulator.scripting.queue(channel)
        return QueueState(
            queue=[r.scenario.name for r in items],
            items=[
                QueuedItem(
                    name=r.scenario.name,
                    channel=r.channel,
                    match=r.scenario.match.model_dump(exclude_defaults=True)
                    if r.scenario.match
                    else None,
                )
                for r in items
            ],
        )

    @app.post(
        "/queue",
        response_model=Queued,
        status_code=201,
        summary="Queue a one-shot answer (a fixture scenario; name optional)",
    )
    async def push(reply: Annotated[dict[str, Any], Body()], channel: Channel = None) -> Queued:
        name, size = await emulator.scripting.queue_reply(reply, channel)
        return Queued(name=name, queued=size)

    @app.delete("/queue", response_model=Done)
    async def clear_queue(channel: Channel = None) -> Done:
        await emulator.scripting.clear_queue(channel)
        return Done()


def _channels(app: FastAPI, emulator: Emulator) -> None:
    """Channels and their keys."""

    @app.get("/channels", response_model=ChannelList)
    async def channels() -> ChannelList:
        return ChannelList(channels=await emulator.channels())

    @app.post("/channels", response_model=ChannelKey, status_code=201)
    async def add_channel(channel: NewChannel) -> ChannelKey:
        await refuse_shared_key(emulator.store, channel.id, channel.key)
        key = await emulator.add_channel(channel.id, channel.key)
        return ChannelKey(id=channel.id, key=key)

    @app.delete(
        "/channels/{channel_id}",
        response_model=Done,
        summary="Remove a channel, its key, and its threads, files, journal, queue, forced",
    )
    async def remove_channel(channel_id: str) -> Done:
        await emulator.remove_channel(channel_id)
        return Done()

    @app.post("/channels/{channel_id}/rotate", response_model=ChannelKey)
    async def rotate(channel_id: str, new: Annotated[NewKey | None, Body()] = None) -> ChannelKey:
        await refuse_shared_key(emulator.store, channel_id, new.key if new else None)
        key = await emulator.rotate_key(channel_id, new.key if new else None)
        return ChannelKey(id=channel_id, key=key)


def _usage(app: FastAPI, emulator: Emulator) -> None:
    """What the state store holds, against its bounds."""

    @app.get("/usage", summary="What the state store holds, against its bounds")
    async def usage() -> dict[str, Any]:
        limits = emulator.settings.limits
        return {
            "state": emulator.store.name,
            "usage": await emulator.usage(),
            "bounds": {
                "max_threads": limits.max_threads,
                "thread_idle_seconds": limits.thread_idle_seconds,
                "files_quota_bytes": limits.files_quota_bytes,
                "file_ttl_seconds": limits.file_ttl_seconds,
                "journal_size": emulator.settings.journal_size,
                "journal_entry_bytes": limits.journal_entry_bytes,
                "max_queued": limits.max_queued,
            },
        }


def _exports(app: FastAPI, emulator: Emulator) -> None:
    """The emulator seen by other tools: Prometheus metrics, and the journal as a HAR log."""

    @app.get(
        "/metrics",
        summary="Prometheus metrics (text exposition format; docs/metrics.md)",
        response_class=Response,
        responses={200: {"content": {metrics.CONTENT_TYPE: {}}}},
    )
    async def metrics_page() -> Response:
        bounds = asdict(emulator.bounds)
        body = metrics.current().exposition(await emulator.usage(), bounds)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @app.get(
        "/journal.har",
        summary="The journal as a HAR 1.2 log (the journal's filters)",
        response_class=Response,
        responses={200: {"content": {"application/json": {}}}},
    )
    async def journal_har(
        request: Request,
        channel: Channel = None,
        thread: str | None = None,
        path: Annotated[str | None, Query(description="A full path, or its last part")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> Response:
        entries = (await emulator.journal(channel=channel, thread=thread, path=path))[-limit:]
        base = emulator.settings.public_url or f"{request.url.scheme}://{request.url.netloc}"
        return Response(har_bytes(entries, base), media_type="application/json")
