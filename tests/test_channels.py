from __future__ import annotations

import pytest
from pydantic import SecretStr

from vivi_emulator.channels import ChannelRegistry
from vivi_emulator.errors import Forbidden, NotFound, Unauthorized
from vivi_emulator.settings import Channel


@pytest.fixture
def registry() -> ChannelRegistry:
    return ChannelRegistry(
        [Channel(id="a", key=SecretStr("key-a")), Channel(id="b", key=SecretStr("key-b"))]
    )


def test_own_key_passes(registry: ChannelRegistry) -> None:
    registry.check("a", "key-a")


@pytest.mark.parametrize(
    ("channel", "key", "error"),
    [
        ("a", None, Unauthorized),
        ("a", "", Unauthorized),
        ("nope", None, Unauthorized),  # no key: 401 before the channel is even looked at
        ("nope", "key-a", NotFound),
        ("a", "key-b", Forbidden),
        ("a", "key-", Unauthorized),  # a prefix of the right key is just wrong
        ("a", "key-a ", Unauthorized),
        ("a", "\udcff", Unauthorized),  # undecodable header bytes do not crash the check
    ],
)
def test_check_order(
    registry: ChannelRegistry, channel: str, key: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        registry.check(channel, key)
    if key:
        assert key not in str(raised.value)


def test_rotated_key_stops_the_old_one_at_once(registry: ChannelRegistry) -> None:
    registry.set_key("a", "new-key")
    registry.check("a", "new-key")
    with pytest.raises(Unauthorized):
        registry.check("a", "key-a")


def test_added_channel(registry: ChannelRegistry) -> None:
    registry.set_key("c", "key-c")
    assert "c" in registry
    registry.check("c", "key-c")
    assert registry.ids() == ["a", "b", "c"]
