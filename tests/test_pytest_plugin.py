"""The pytest plugin, tested with pytester: each mode passes; a failing expectation says why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples" / "testing"

pytest_plugins = ["pytester"]


def test_readme_examples_pass(pytester: pytest.Pytester) -> None:
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, pytester.path / path.name)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_in_process_mode_and_async_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import anyio

        T = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"

        def test_async(vivi_emulator):
            async def call():
                async with vivi_emulator.client() as client:
                    return await client.post(
                        "/channelsApi/demo-channel/invoke",
                        headers=vivi_emulator.headers,
                        json={"message": "hello", "threadId": T},
                    )
            response = anyio.run(call)
            assert response.status_code == 200
            assert response.json()["message"].startswith("Hello!")
            assert not vivi_emulator.socket
            assert vivi_emulator.journal()[0]["scenario"] == "greeting"

        def test_reset_between_tests(vivi_emulator):
            assert vivi_emulator.journal() == []
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_socket_mode_by_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx

        T = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"

        def test_url(vivi_emulator):
            assert vivi_emulator.socket
            response = httpx.post(
                vivi_emulator.url("invoke"),
                headers=vivi_emulator.headers,
                json={"message": "x", "threadId": T},
            )
            assert response.json()["message"] == "You said: x"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--vivi-emulator-socket")
    result.assert_outcomes(passed=1)


def test_strict_mode_fails_at_teardown_naming_the_request(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvivi_emulator_strict = true\n")
    pytester.makepyfile(
        """
        T = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"

        def test_unmatched(vivi_emulator):
            with vivi_emulator.sync_client() as client:
                client.post(
                    "/channelsApi/demo-channel/invoke",
                    headers=vivi_emulator.headers,
                    json={"message": "nobody scripted this", "threadId": T},
                )

        def test_matched(vivi_emulator):
            vivi_emulator.queue_reply("scripted")
            with vivi_emulator.sync_client() as client:
                client.post(
                    "/channelsApi/demo-channel/invoke",
                    headers=vivi_emulator.headers,
                    json={"message": "this one is", "threadId": T},
                )
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*matched no scenario*",
            "*POST /channelsApi/demo-channel/invoke message='nobody scripted this'*",
        ]
    )


def test_bad_helper_use_says_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_force_unknown(vivi_emulator):
            with pytest.raises(ValueError, match="unknown scenario 'nope'"):
                vivi_emulator.force("nope")

        def test_bad_queue(vivi_emulator):
            with pytest.raises(ValueError, match="queue_reply"):
                vivi_emulator.queue_reply(status={"code": 99})
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
