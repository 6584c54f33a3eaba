"""A wrong command line: one plain line naming the flag and what it allows, then where the
options are listed; never pydantic's words, a box or a traceback."""

from __future__ import annotations

import pytest

from vivi_emulator.cli import main
from vivi_emulator.cli.errors import plain


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    monkeypatch.setattr("sys.argv", ["vivi-emulator", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (["serve", "--port", "abc"], "vivi-emulator serve: --port must be a whole number"),
        (["serve", "--time-scale", "-1"], "vivi-emulator serve: --time-scale must be at least 0"),
        (["serve", "--time-scale", "x"], "vivi-emulator serve: --time-scale must be a number"),
        (
            ["serve", "--log-level", "loud"],
            "vivi-emulator serve: --log-level: 'loud' is not one of 'debug', 'info', "
            "'warning', 'error'.",
        ),
        (
            ["contract", "--max-examples", "0"],
            "vivi-emulator contract: --max-examples must be at least 1",
        ),
        (["fixtures", "check"], "vivi-emulator fixtures check: Missing argument 'PATH'."),
        (
            ["serve", "--fixtures", __file__],
            f"vivi-emulator serve: --fixtures must be a folder; {__file__} is a file",
        ),
    ],
)
def test_a_wrong_argument_is_two_plain_lines(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    first: str,
) -> None:
    err = run(monkeypatch, capsys, *args)
    command = first.partition(":")[0]
    assert err.splitlines() == [first, f"  (options: {command} --help)"]


def test_the_plain_words_cover_what_typer_says_in_pydantic_terms() -> None:
    said = "Invalid value for '--workers': Input should be less than or equal to 64"
    assert plain(said) == "--workers must be at most 64"
    assert plain("Invalid value for '--x': Value error, nope") == "--x: nope"
