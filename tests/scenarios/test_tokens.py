"""Replies cut like an LLM streams them: sub-word tokens, punctuation apart, nothing lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vivi_emulator.scenarios.tokens import Tokenizer, count_tokens, split_tokens

PROSE = (
    "The emulator streams each reply the way a hosted model does: a few characters at a time, "
    "with punctuation apart and long words broken into pieces. A client that renders a typing "
    "effect, or that assumes one event per network chunk, meets the same shapes here as it "
    "will in production, where replies run to several hundred tokens and arrive over seconds."
)


@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_the_tokens_joined_are_the_text(text: str) -> None:
    tokens = split_tokens(text)
    assert "".join(tokens) == text
    assert all(tokens) or tokens == [""]
    assert split_tokens(text) == tokens  # the same text, the same cut
    assert count_tokens(text) == max(1, len([t for t in tokens if t]))


def test_a_space_leads_its_word_and_punctuation_stands_apart() -> None:
    assert split_tokens("Hello! How are you?") == ["Hello", "!", " How", " are", " you", "?"]


def test_long_words_are_cut_into_pieces_of_about_four_letters() -> None:
    assert split_tokens(" internationalization") == [" inte", "rnat", "iona", "liza", "tion"]
    assert split_tokens("agent") == ["agent"]  # a short word is one token


def test_numbers_go_three_digits_at_a_time() -> None:
    assert split_tokens("1234567") == ["123", "456", "7"]


def test_english_prose_averages_about_four_characters_a_token() -> None:
    # The rule of thumb for GPT and Claude tokenizers on English text.
    per_token = len(PROSE) / len(split_tokens(PROSE))
    assert 3.5 <= per_token <= 4.8, per_token


def test_a_tokenizer_counts_as_count_tokens_and_stays_within_its_bound() -> None:
    tokenizer = Tokenizer(size=2)
    texts = ["", "Hello! How are you?", " internationalization", "1234567", "x" * 5000]
    for text in texts * 2:
        assert tokenizer.count(text) == count_tokens(text)
    assert len(tokenizer._cuts) <= 2  # its own cache, bounded (a long text is never kept)
    assert Tokenizer()._cuts is not tokenizer._cuts  # two owners share nothing


def test_a_tokenizer_splits_as_split_tokens() -> None:
    tokenizer = Tokenizer()
    for text in ["", "Hello! How are you?", "1234567", "y" * 5000] * 2:
        assert tokenizer.split(text) == split_tokens(text)
    first = tokenizer.split("agent smith")
    first.append("changed")  # a caller's list is its own: the memory is not touched
    assert tokenizer.split("agent smith") == split_tokens("agent smith")
