"""The emulator's control API (``/_emulator``), over HTTP: the one way the fixture scripts and
reads an emulator.

The session's own emulator and a shared one (``--vivi-emulator-url``) are driven by this same
code, so a test behaves the same against either. Errors say what went wrong in the test's
terms: a bad ``queue_reply`` is a ``ValueError`` naming the field, a refused control API names
the admin token, an emulator that does not answer names its URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from vivi_emulator.control.access import ADMIN_HEADER

PREFIX = "/_emulator"
TOKEN_ENV = "VIVI_EMULATOR_ADMIN_TOKEN"  # noqa: S105 (the variable's name, not a token)


class ControlError(RuntimeError):
    """The emulator could not be reached, or refused or failed a control call."""


class Control:
    """A client of one emulator's control API."""

    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        self.base_url = base_url
        headers = {ADMIN_HEADER: admin_token} if admin_token else {}
        # Scripting calls are small and answered at once; a generous timeout still bounds a
        # shared emulator that hangs, so the test fails instead of waiting for ever.
        self._http = httpx.Client(base_url=base_url + PREFIX, headers=headers, timeout=30)

    def close(self) -> None:
        self._http.close()

    def _call(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ControlError(
                f"vivi_emulator: cannot reach the emulator at {self.base_url} ({what}): {exc}"
            ) from None
        if response.is_success:
            return response.json()
        detail = _detail(response)
        if response.status_code == 422:
            raise ValueError(f"vivi_emulator.{what}: {detail}")
        if response.status_code in (401, 403):
            raise ControlError(
                f"vivi_emulator: the emulator at {self.base_url} refused its control API "
                f"({response.status_code}: {detail}); set {TOKEN_ENV} to its admin token"
            )
        raise ControlError(
            f"vivi_emulator.{what}: the emulator at {self.base_url} answered "
            f"{response.status_code}: {detail}"
        )

    # --- the emulator ---------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ControlError unless the emulator answers and lets this session script it."""
        self._call("health", "GET", "/health")
        self._call("channels", "GET", "/channels")  # the admin token, if one is needed

    # --- channels -------------------------------------------------------------------------------

    def add_channel(self, channel_id: str) -> str:
        """Add a channel; return its generated key."""
        made = self._call("add_channel", "POST", "/channels", json={"id": channel_id})
        key: str = made["key"]
        return key

    def remove_channel(self, channel_id: str) -> None:
        self._call("remove_channel", "DELETE", f"/channels/{quote(channel_id, safe='')}")

    # --- one channel's scripting and journal ----------------------------------------------------

    def queue_reply(self, channel_id: str, scenario: dict[str, Any]) -> str:
        queued = self._call(
            "queue_reply", "POST", "/queue", params={"channel": channel_id}, json=scenario
        )
        name: str = queued["name"]
        return name

    def queued(self, channel_id: str) -> list[dict[str, Any]]:
        """The replies waiting for this channel (not those queued for any channel)."""
        state = self._call("queued", "GET", "/queue", params={"channel": channel_id})
        return [item for item in state["items"] if item["channel"] == channel_id]

    def force(self, channel_id: str, scenario: str | None) -> None:
        self._call("force", "PUT", "/forced", json={"scenario": scenario, "channel": channel_id})

    def journal(
        self, channel_id: str, thread: str | None = None, path: str | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"channel": channel_id, "limit": 10_000}
        if thread is not None:
            params["thread"] = thread
        if path is not None:
            params["path"] = path
        entries: list[dict[str, Any]] = self._call("journal", "GET", "/journal", params=params)[
            "entries"
        ]
        return entries

    def reset(self, channel_id: str) -> None:
        self._call("reset", "POST", "/reset", params={"channel": channel_id})

    def chaos(self, channel_id: str, setting: dict[str, Any] | None) -> None:
        """Faults at a rate for this channel until reset; None: back to the configured chaos."""
        if setting is None:
            self._call("chaos", "DELETE", "/chaos", params={"channel": channel_id})
        else:
            self._call("chaos", "PUT", "/chaos", params={"channel": channel_id}, json=setting)

    def rate_limits(self, channel_id: str, limits: dict[str, Any] | None) -> None:
        """Rate limits for this channel until reset; None: back to the configured ones."""
        if limits is None:
            self._call("rate_limits", "DELETE", "/rate-limits", params={"channel": channel_id})
        else:
            params = {"channel": channel_id}
            self._call("rate_limits", "PUT", "/rate-limits", params=params, json=limits)

    def structured_output(self, channel_id: str, schema: dict[str, Any] | None) -> None:
        """Structured output for this channel until reset; None: back to the configured."""
        params = {"channel": channel_id}
        if schema is None:
            self._call("structured_output", "DELETE", "/structured-output", params=params)
        else:
            body = {"schema": schema}
            self._call("structured_output", "PUT", "/structured-output", params=params, json=body)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:500]
    detail = str(body.get("detail", body))
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        reasons = "; ".join(
            f"{e.get('field')}: {e.get('reason')}" for e in errors if isinstance(e, dict)
        )
        if reasons and reasons not in detail:
            detail = f"{detail} ({reasons})"
    return detail
