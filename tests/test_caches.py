import pytest

from vivi_emulator.caches import Cache


def test_a_cache_keeps_what_is_put_until_full() -> None:
    cache: Cache[str, int] = Cache(2)
    assert cache.get("a") is None
    assert cache.put("a", 1) == 1
    cache.put("b", 2)
    assert (cache.get("a"), cache.get("b"), len(cache)) == (1, 2, 2)


def test_a_full_cache_is_emptied_before_a_new_key_but_not_for_a_known_one() -> None:
    cache: Cache[str, int] = Cache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("b", 3)  # a known key: replaced in place
    assert (len(cache), cache.get("a"), cache.get("b")) == (2, 1, 3)
    cache.put("c", 4)  # a new key into a full cache: the one eviction rule
    assert (len(cache), cache.get("a"), cache.get("c")) == (1, None, 4)


def test_the_owner_clears_it() -> None:
    cache: Cache[int, int] = Cache(4)
    cache.put(1, 1)
    cache.clear()
    assert len(cache) == 0
    assert cache.get(1) is None


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Cache(0)
