"""Texts cut the way a language model streams them: sub-word tokens, not words.

Not a real tokenizer (no vocabulary, nothing to download), but pieces of the same shape: a space
travels with the word after it (`` world``), punctuation stands apart, numbers go in groups of
up to three digits, and a long word is cut into pieces of about four characters, so English text
averages about four characters a token, as the byte-pair encodings of GPT and Claude do. The
pieces joined are always the text itself, and the same text is always cut the same way.
"""

from __future__ import annotations

import re

from vivi_emulator.caches import Cache

# A word (letters, with a leading space if any), a run of up to three digits, a run of up to
# three punctuation marks (leading space kept), a line break, or other whitespace.
_PIECE = re.compile(
    r" ?[^\W\d_]+"  # a word
    r"| ?\d{1,3}"  # a number, three digits at a time
    r"| ?[^\w\s]{1,3}"  # punctuation, apart from the words
    r"|_+"  # underscores (a word character that is no letter)
    r"|\s*\n"  # a line break, with the spaces before it
    r"|\s+?(?=\s\S)|\s+",  # spaces: all but the one that leads the next word
)
# Words up to this many letters are one token (common words are in every vocabulary).
WHOLE_WORD = 6
PIECE = 4


def _cut_word(word: str) -> list[str]:
    lead = " " if word.startswith(" ") else ""
    letters = word[len(lead) :]
    if len(letters) <= WHOLE_WORD:
        return [word]
    count = -(-len(letters) // PIECE)  # pieces of about PIECE letters, evenly sized
    size, extra = divmod(len(letters), count)
    pieces, at = [], 0
    for index in range(count):
        end = at + size + (1 if index < extra else 0)
        pieces.append(letters[at:end])
        at = end
    pieces[0] = lead + pieces[0]
    return pieces


# A long text is cut each time, never cached (a thousand of them could hold a gigabyte).
_CACHED_CHARS = 4096


def _cut(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group()
        if piece.strip().isalpha():
            tokens += _cut_word(piece)
        else:
            tokens.append(piece)
    return tuple(tokens)


def split_tokens(text: str) -> list[str]:
    """The text as LLM-like tokens; joined, they are the text."""
    return list(_cut(text)) if text else [""]


def count_tokens(text: str) -> int:
    """How many tokens ``split_tokens`` makes of ``text`` (at least one)."""
    return max(1, len(_cut(text))) if text else 1


class Tokenizer:
    """``split_tokens`` and ``count_tokens`` with a memory, owned by its user (the emulator's
    gate, shared with its build options): replies are mostly the same few texts, so a short
    one is cut once per owner, not once per request."""

    __slots__ = ("_cuts",)

    def __init__(self, size: int = 1024) -> None:
        self._cuts: Cache[str, tuple[str, ...]] = Cache(size)

    def _cut(self, text: str) -> tuple[str, ...]:
        if len(text) > _CACHED_CHARS:
            return _cut(text)
        cut = self._cuts.get(text)
        return self._cuts.put(text, _cut(text)) if cut is None else cut

    def split(self, text: str) -> list[str]:
        """``split_tokens``, remembered."""
        return list(self._cut(text)) if text else [""]

    def count(self, text: str) -> int:
        """``count_tokens``, remembered."""
        return max(1, len(self._cut(text))) if text else 1
