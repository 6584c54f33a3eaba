"""The fixture as an integrator meets it, run with pytester in a session of its own: the README's
examples, any HTTP client, clients that send the key, strict mode, a name of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "testing"

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*QUIET, *args)


# Each run is a new pytest process: schemathesis' and hypothesis' plugins (installed with the
# package) would double its start-up time, and these tests need neither.
QUIET = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")


def test_readme_examples_pass(pytester: pytest.Pytester) -> None:
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, pytester.path / path.name)
    run(pytester).assert_outcomes(passed=9)


def test_any_http_client_reaches_base_url(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json
        import urllib.request
        import uuid

        import anyio
        import httpx
        import requests

        def body():
            return {"message": "hello", "threadId": str(uuid.uuid4())}

        def test_requests(vivi_emulator):
            url = f"{vivi_emulator.base_url}/channelsApi/{vivi_emulator.channel_id}/invoke"
            reply = requests.post(
                url, headers={"vivi-api-key": vivi_emulator.api_key}, json=body(), timeout=10
            )
            assert reply.json()["message"].startswith("Hello!")

        def test_urllib(vivi_emulator):
            request = urllib.request.Request(
                vivi_emulator.url("invoke"),
                data=json.dumps(body()).encode(),
                headers=vivi_emulator.headers,
            )
            with urllib.request.urlopen(request, timeout=10) as reply:
                assert json.load(reply)["message"].startswith("Hello!")

        def test_httpx_sync_client_sends_the_key(vivi_emulator):
            with vivi_emulator.sync_client() as client:
                reply = client.post(f"/channelsApi/{vivi_emulator.channel_id}/invoke", json=body())
            assert reply.status_code == 200

        def test_httpx_async_client_sends_the_key(vivi_emulator):
            async def call():
                async with vivi_emulator.client(headers={"x-trace": "1"}) as client:
                    return await client.post(vivi_emulator.url("invoke"), json=body())
            reply = anyio.run(call)
            assert reply.status_code == 200
            (entry,) = vivi_emulator.journal()
            assert entry["headers"]["x-trace"] == "1"  # the caller's headers are kept too
            assert entry["headers"]["vivi-api-key"] == "[redacted]"

        def test_each_test_has_a_channel_and_key_of_its_own(vivi_emulator):
            assert vivi_emulator.channel_id.startswith("pytest-main-")
            assert vivi_emulator.api_key not in repr(vivi_emulator)
            assert vivi_emulator.journal() == []
            other = httpx.post(
                vivi_emulator.url("invoke").replace(vivi_emulator.channel_id, "demo-channel"),
                headers=vivi_emulator.headers,
                json=body(),
            )
            assert other.status_code == 403  # its key is its channel's alone
        """
    )
    run(pytester).assert_outcomes(passed=5)


@pytest.mark.parametrize("own", ["emulator.py", "emulator/__init__.py"])
def test_a_project_with_its_own_emulator_module_runs(pytester: pytest.Pytester, own: str) -> None:
    # The plugin loads in every session once the package is installed: it must not be
    # shadowed by, nor shadow, a user's module named `emulator` (the old import name).
    (pytester.path / own).parent.mkdir(exist_ok=True)
    (pytester.path / own).write_text("WHO = 'the project'\n")
    pytester.makepyfile(
        """
        import emulator

        def test_own_module_and_the_fixture(vivi_emulator):
            assert emulator.WHO == "the project"
            assert vivi_emulator.base_url.startswith("http://127.0.0.1:")
        """
    )
    run(pytester, "--rootdir", str(pytester.path)).assert_outcomes(passed=1)


def test_strict_mode_fails_at_teardown_naming_the_request(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvivi_emulator_strict = true\n")
    pytester.makepyfile(
        """
        import pytest

        T = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"

        def test_unmatched(vivi_emulator):
            with vivi_emulator.sync_client() as client:
                client.post(
                    vivi_emulator.url("invoke"),
                    json={"message": "nobody scripted this", "threadId": T},
                )

        def test_matched(vivi_emulator):
            vivi_emulator.queue_reply("scripted")
            with vivi_emulator.sync_client() as client:
                client.post(
                    vivi_emulator.url("invoke"), json={"message": "this one is", "threadId": T}
                )

        @pytest.mark.vivi_emulator(strict=False)
        def test_marker_turns_it_off(vivi_emulator):
            with vivi_emulator.sync_client() as client:
                client.post(vivi_emulator.url("invoke"), json={"message": "free", "threadId": T})
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*vivi_emulator (strict): 1 request matched no scenario and got the default answer:",
            "*POST /channelsApi/pytest-main-*/invoke message='nobody scripted this' "
            "thread=0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10 -> 200 echo (default)",
        ]
    )


def test_bad_use_says_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_force_unknown(vivi_emulator):
            with pytest.raises(ValueError, match="unknown scenario 'nope'"):
                vivi_emulator.force("nope")

        def test_bad_queue(vivi_emulator):
            with pytest.raises(ValueError, match="queue_reply: .*status"):
                vivi_emulator.queue_reply(status={"code": 99})

        def test_unknown_operation(vivi_emulator):
            with pytest.raises(ValueError, match="unknown operation 'strem'"):
                vivi_emulator.assert_called("strem")

        @pytest.mark.vivi_emulator(socket=True)
        def test_unknown_marker_option(vivi_emulator):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s) ?'socket'?; the one option is strict=*"])


def test_the_emulators_own_fixtures_folders(pytester: pytest.Pytester) -> None:
    (pytester.path / "fixtures").mkdir()
    (pytester.path / "fixtures" / "mine.yaml").write_text(
        "version: 1\nscenarios:\n  - name: refund\n    match: {message: {contains: refund}}\n"
        "    text: Your refund is on its way.\n"
    )
    pytester.makeini("[pytest]\nvivi_emulator_fixtures = fixtures\n")
    pytester.makepyfile(
        """
        T = "7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"

        def test_matched_by_my_fixture(vivi_emulator):
            with vivi_emulator.sync_client() as client:
                reply = client.post(
                    vivi_emulator.url("invoke"), json={"message": "a refund?", "threadId": T}
                )
            assert reply.json()["message"] == "Your refund is on its way."
            vivi_emulator.assert_all_matched()
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_a_stream_left_open_does_not_hold_up_the_sessions_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import uuid

        import requests

        LEFT_OPEN = []

        def test_leaves_a_stalled_stream_open(vivi_emulator):
            # Ten minutes without an event, and a client that would wait as long.
            vivi_emulator.queue_reply("late", fault={"stall": {"after_events": 1, "ms": 600_000}})
            reply = requests.post(
                vivi_emulator.url("stream"),
                headers=vivi_emulator.headers,
                json={"message": "x", "threadId": str(uuid.uuid4())},
                stream=True,
                timeout=600,
            )
            lines = reply.iter_lines()
            assert next(lines)
            LEFT_OPEN.append(lines)  # the connection stays open while its reader lives
        """
    )
    # A session that waited for the stream would be stopped by this timeout (far longer than
    # any session here takes, far shorter than the stall) instead of ending with its result.
    result = pytester.runpytest_subprocess(*QUIET, timeout=120)
    result.assert_outcomes(passed=1)
