"""A running emulator given by URL (``--vivi-emulator-url``, ini, environment): found, refused,
or unreachable, each said plainly."""

from __future__ import annotations

import pytest

from tests.pytest_plugin.test_fixture import QUIET
from tests.server import Running, free_port, start

pytest_plugins = ["pytester"]

USES_IT = """
def test_uses_it(vivi_emulator):
    assert vivi_emulator.base_url == {url!r}
    with vivi_emulator.sync_client() as client:
        reply = client.post(
            vivi_emulator.url("invoke"),
            json={{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}},
        )
    assert reply.status_code == 200
"""


@pytest.mark.parametrize("source", ["option", "ini", "environment"])
def test_the_url_from_each_source(
    pytester: pytest.Pytester,
    shared_emulator: Running,
    source: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = shared_emulator.base_url
    pytester.makepyfile(USES_IT.format(url=url))
    args = list(QUIET)
    if source == "option":
        args += ["--vivi-emulator-url", url + "/"]
    elif source == "ini":
        pytester.makeini(f"[pytest]\nvivi_emulator_url = {url}\n")
    else:
        monkeypatch.setenv("VIVI_EMULATOR_URL", url)
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"vivi-emulator: using the emulator at {url}"])


def test_an_emulator_that_does_not_answer_is_named(pytester: pytest.Pytester) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    pytester.makepyfile("def test_it(vivi_emulator):\n    pass\n")
    result = pytester.runpytest_subprocess(*QUIET, "--vivi-emulator-url", url)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*cannot reach the emulator at {url} (health)*"])


def test_a_url_that_is_not_http_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(vivi_emulator):\n    pass\n")
    result = pytester.runpytest_subprocess(*QUIET, "--vivi-emulator-url", "localhost:8000")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the emulator's URL must be http(s)://, not 'localhost:8000'"])


def test_the_admin_token_comes_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bound to every address (as in a container), the control API needs the admin token.
    token = "s3cret-admin-token"
    running = start("--host", "0.0.0.0", env={"VIVI_EMULATOR_ADMIN_TOKEN": token})
    try:
        pytester.makepyfile(USES_IT.format(url=running.base_url))
        monkeypatch.delenv("VIVI_EMULATOR_ADMIN_TOKEN", raising=False)
        refused = pytester.runpytest_subprocess(*QUIET, "--vivi-emulator-url", running.base_url)
        refused.assert_outcomes(errors=1)
        refused.stdout.fnmatch_lines(
            ["*refused its control API (401: *); set VIVI_EMULATOR_ADMIN_TOKEN to its admin token"]
        )
        monkeypatch.setenv("VIVI_EMULATOR_ADMIN_TOKEN", token)
        allowed = pytester.runpytest_subprocess(*QUIET, "--vivi-emulator-url", running.base_url)
        allowed.assert_outcomes(passed=1)
        assert token not in refused.stdout.str() + allowed.stdout.str()
    finally:
        _, log = running.stop()
    assert token not in log
