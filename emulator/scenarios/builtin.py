"""The built-in responder: a deterministic reply derived from the message alone.

It answers when no fixture scenario does: a greeting for a greeting, an echo otherwise. Same
message, same reply, on every endpoint and every run.
"""

from __future__ import annotations

import re

from emulator.scenarios.script import Script, reply_script

GREETING = "Hello! I am the VIVI emulator. How can I help you today?"
_GREETING_WORDS = re.compile(r"^\s*(hello|hi|hey|good (morning|afternoon|evening))\b", re.I)


def builtin_script(message: str) -> Script:
    if _GREETING_WORDS.match(message):
        return reply_script(GREETING, scenario="greeting")
    return reply_script(f"You said: {message}", scenario="echo")
