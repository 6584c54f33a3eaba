"""The one parser of /channelsApi/{channelId}/{operation}."""

from __future__ import annotations

from vivi_emulator.paths import ApiPath, channel_of_path, parse_api_path


def test_channel_and_operation() -> None:
    assert parse_api_path("/channelsApi/c1/stream") == ApiPath("c1", "stream")
    assert parse_api_path("/channelsApi/c1/files/abc/x.txt") == ApiPath("c1", "files/abc/x.txt")
    assert parse_api_path("/channelsApi/c1") == ApiPath("c1", "")


def test_other_paths_are_not_api_paths() -> None:
    assert parse_api_path("/channelsApi/") is None
    assert parse_api_path("/channelsApi//stream") is None
    assert parse_api_path("/_emulator/journal") is None
    assert channel_of_path("/docs") is None
    assert channel_of_path("/channelsApi/c2/invoke") == "c2"
