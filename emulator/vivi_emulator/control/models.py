"""The control API's request and response bodies (its OpenAPI document's schemas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from vivi_emulator.chaos import ChaosSettings
from vivi_emulator.ratelimit_rules import RateLimits
from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.structured import StructuredOutput


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


class Queued(BaseModel):
    name: str
    queued: int = Field(description="How many answers wait in the queue now.")


class QueuedItem(BaseModel):
    name: str
    channel: str | None = Field(description="The channel it waits for; null: any channel.")
    match: dict[str, Any] | None = Field(
        description="What a request must hold to consume it; a reply whose match never holds "
        "stays queued until the queue is cleared or the emulator reset."
    )


class QueueState(BaseModel):
    queue: list[str] = Field(description="The queued replies' names, in order.")
    items: list[QueuedItem]


class Forced(BaseModel):
    scenario: str | None = Field(description="A scenario name, or null to stop forcing.")
    channel: str | None = Field(default=None, description="Only for this channel (default: all).")


class LatencyState(BaseModel):
    profile: LatencyProfile
    description: str = Field(description="The profile in words, as the playground shows it.")
    source: str = Field(description="`run time` (set here) or `settings` (as configured).")


class LatencyUpdate(BaseModel):
    profile: Literal["none", "realistic"] | LatencyProfile = Field(
        description="none, realistic, or a profile (first_event, first_token, token_gap)."
    )


class ChaosState(BaseModel):
    chaos: ChaosSettings | None = Field(description="The faults injected now; null: none.")
    description: str
    source: str = Field(description="`run time` (set here) or `settings` (as configured).")
    configured: ChaosSettings | None = Field(
        description="What the settings give, which DELETE /chaos goes back to."
    )


class ChannelList(BaseModel):
    channels: list[str]


class NewChannel(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    key: str | None = Field(
        default=None, min_length=1, max_length=500, description="Generated when absent."
    )


class NewKey(BaseModel):
    key: str | None = Field(
        default=None, min_length=1, max_length=500, description="Generated when absent."
    )


class ChannelKey(BaseModel):
    id: str
    key: str = Field(description="The channel's key: shown once, here, and nowhere else.")


class Done(BaseModel):
    done: bool = True


class RateLimitsState(BaseModel):
    rate_limits: RateLimits | None = Field(description="The limits applied now; null: none.")
    description: str
    source: str = Field(description="`run time` (set here) or `settings` (as configured).")
    configured: RateLimits | None = Field(
        description="What the settings give, which DELETE /rate-limits goes back to."
    )


class StructuredState(BaseModel):
    structured_output: StructuredOutput | None = Field(
        description="The channel's schema now ({schema}); null: structured output is off."
    )
    source: str = Field(description="`run time` (set here) or `settings` (as configured).")
