"""``ViviEmulator``: what the ``vivi_emulator`` fixture gives a test.

Each test gets a channel of its own, with its own key, made for it on the emulator and removed
after it. Its queue, its forced scenario, its threads and its journal belong to it alone, so
tests running in parallel against one emulator (pytest-xdist workers, CI jobs sharing a
container) never see each other. The channel is in every VIVI URL, so the code under test needs
nothing but the URL, channel and key it would get for the real API.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from vivi_emulator.paths import API_KEY_HEADER
from vivi_emulator.pytest_plugin import verify

if TYPE_CHECKING:
    import httpx

    from vivi_emulator.pytest_plugin.control import Control


class ViviEmulator:
    """A running VIVI emulator, seen through this test's own channel.

    Where: ``base_url``, ``channel_id``, ``api_key``, ``headers``, ``url(operation)``, and
    ``client()`` / ``sync_client()`` (httpx clients that send the key). Scripting:
    ``queue_reply``, ``force``, ``chaos``, ``rate_limits``, ``structured_output``, ``reset``.
    Reading and verifying: ``journal``, ``unmatched``, ``queued``, ``assert_called``,
    ``assert_not_called``, ``assert_all_matched``, ``assert_queue_empty``.
    """

    def __init__(self, control: Control, channel_id: str, api_key: str) -> None:
        self._control = control
        self.base_url: str = control.base_url
        self.channel_id = channel_id
        self.api_key = api_key

    def __repr__(self) -> str:  # never the key: a repr ends up in assertion messages
        return f"ViviEmulator(base_url={self.base_url!r}, channel_id={self.channel_id!r})"

    # --- where it is ----------------------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        """The key header and a JSON content type: what a message request needs."""
        return {API_KEY_HEADER: self.api_key, "content-type": "application/json"}

    def url(self, operation: str = "stream") -> str:
        """The URL of one of this channel's operations: stream, invoke, batch, files."""
        return f"{self.base_url}/channelsApi/{self.channel_id}/{operation}"

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx.AsyncClient on ``base_url`` that sends this channel's key."""
        import httpx

        return httpx.AsyncClient(**self._client_options(kwargs))

    def sync_client(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client on ``base_url`` that sends this channel's key."""
        import httpx

        return httpx.Client(**self._client_options(kwargs))

    def _client_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        import httpx

        headers = httpx.Headers({API_KEY_HEADER: self.api_key})
        headers.update(kwargs.pop("headers", None) or {})
        return {"base_url": self.base_url, "headers": headers, **kwargs}

    # --- scripting ------------------------------------------------------------------------------

    def queue_reply(self, text: str | None = None, **scenario: Any) -> str:
        """Queue a one-shot answer for this channel: a text, or any fixture scenario's fields
        (``events=[...]``, ``status={...}``, ``timing={...}``, ``fault={...}``, ``match={...}``).
        The next request it matches consumes it, first in first out. Returns its name."""
        if text is not None:
            scenario["text"] = text
        return self._control.queue_reply(self.channel_id, scenario)

    def force(self, scenario: str | None) -> None:
        """Answer every request of this channel with a scenario (by name) until reset; None
        stops forcing."""
        self._control.force(self.channel_id, scenario)

    def reset(self) -> None:
        """Forget this channel's threads, files, journal, queue, forced scenario, chaos, rate
        limits (its buckets full again) and structured output."""
        self._control.reset(self.channel_id)

    def chaos(
        self,
        faults: list[dict[str, Any]] | None = None,
        *,
        seed: int | None = None,
        include_named: bool = False,
    ) -> None:
        """Inject faults into a share of this channel's requests until reset, e.g.
        ``chaos([{"kind": "status", "code": 429, "rate": 0.2}], seed=7)``; ``chaos([])`` turns
        chaos off, ``chaos(None)`` goes back to the configured chaos (README, "Chaos"). Each
        injected fault is in the journal (``chosen_by: chaos``, ``fault``)."""
        setting = None
        if faults is not None:
            setting = {"faults": faults, "seed": seed, "include_named": include_named}
        self._control.chaos(self.channel_id, setting)

    def rate_limits(
        self,
        *,
        requests_per_minute: int | None = None,
        requests_burst: int | None = None,
        tokens_per_minute: int | None = None,
        tokens_burst: int | None = None,
        concurrent_streams: int | None = None,
    ) -> None:
        """Limit this channel until reset (README, "Rate limits"): token buckets of requests
        and tokens a minute (each with a burst) and a cap of concurrent streams; over any, a
        429 with ``Retry-After``. No argument turns limits off for this channel. Its buckets
        are its own: no other test draws on them."""
        given = {
            "requests_per_minute": requests_per_minute,
            "requests_burst": requests_burst,
            "tokens_per_minute": tokens_per_minute,
            "tokens_burst": tokens_burst,
            "concurrent_streams": concurrent_streams,
        }
        self._control.rate_limits(
            self.channel_id, {k: v for k, v in given.items() if v is not None}
        )

    def structured_output(self, schema: dict[str, Any] | None) -> None:
        """Answer as a structured-output agent with this strict JSON Schema until reset
        (README, "Structured output"): ``/stream`` is refused, ``/invoke`` and ``/batch``
        answer JSON text conforming to it. A schema breaking VIVI's strict rules is a
        ValueError naming each rule; None goes back to the configured mode."""
        self._control.structured_output(self.channel_id, schema)

    # --- reading --------------------------------------------------------------------------------

    def journal(self, thread: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """This channel's requests, oldest first (keys replaced by ``[redacted]``); ``path`` is
        a full path or its last part (``"stream"``)."""
        return self._control.journal(self.channel_id, thread, path)

    def unmatched(self) -> list[dict[str, Any]]:
        """Requests (or batch items) that nothing scripted answered: they got the default."""
        return [e for e in self.journal() if verify.unmatched_items(e)]

    def queued(self) -> list[str]:
        """The names of the replies still waiting in this channel's queue."""
        return [item["name"] for item in self._control.queued(self.channel_id)]

    # --- verifying ------------------------------------------------------------------------------

    def assert_called(
        self,
        operation: str | None = None,
        *,
        times: int | None = None,
        message: str | re.Pattern[str] | None = None,
        thread: str | None = None,
    ) -> list[dict[str, Any]]:
        """Assert this channel received such requests: ``times`` exactly, or at least once.

        ``operation`` is stream, invoke, batch or files; ``message`` the exact text sent (a
        batch matches if any of its messages does) or a compiled regex; ``thread`` a threadId.
        Returns the matching journal entries; the failure lists every request received.
        """
        __tracebackhide__ = True
        expected = verify.Expected(operation, message, thread)
        entries = self.journal()
        found = [e for e in entries if expected.holds(e)]
        failure = verify.called_failure(expected, times, len(found), entries, self.channel_id)
        if failure is not None:
            raise AssertionError(failure)
        return found

    def assert_not_called(
        self,
        operation: str | None = None,
        *,
        message: str | re.Pattern[str] | None = None,
        thread: str | None = None,
    ) -> None:
        """Assert this channel received no such request."""
        __tracebackhide__ = True
        self.assert_called(operation, times=0, message=message, thread=thread)

    def assert_all_matched(self) -> None:
        """Assert every request was answered by something scripted (a queued reply, a forced
        scenario, the scenario header, a fixture's match), none by the default."""
        __tracebackhide__ = True
        failure = verify.unmatched_failure(self.journal(), self.channel_id)
        if failure is not None:
            raise AssertionError(failure)

    def assert_queue_empty(self) -> None:
        """Assert every queued reply was consumed."""
        __tracebackhide__ = True
        waiting = self.queued()
        if waiting:
            raise AssertionError(
                f"vivi_emulator: {len(waiting)} queued reply(s) never consumed: "
                f"{', '.join(waiting)}.\n" + verify.received(self.journal(), self.channel_id)
            )
