"""The bytes every reference app answers: byte for byte the emulator's default reply to
``{"message": "hello", ...}`` with ``--latency none`` (18 SSE frames, one LLM-like token each).

Shared by the floor (``bare_app.py``) and the raw apps (``raw_asgi_app.py``, ``raw_rsgi_app.py``),
so that every reference sends the same bytes and only the framework between them differs.
"""

REPLY = b"Hello! I am the VIVI emulator. How can I help you today?"
THREAD = b"0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"
INVOKE = b'{"message": "%s", "threadId": "%s"}' % (REPLY, THREAD)
TOKENS = [
    b"Hello", b"!", b" I", b" am", b" the", b" VIVI", b" emul", b"ator", b".",
    b" How", b" can", b" I", b" help", b" you", b" today", b"?",
]  # fmt: skip
assert b"".join(TOKENS) == REPLY
FRAMES = [b'data: {"message": "", "event": "on_chat_model_start"}\n\n']
FRAMES += [b'data: {"message": "%s", "event": "on_chat_model_stream"}\n\n' % t for t in TOKENS]
FRAMES += [b'data: {"message": "", "event": "on_chat_model_end"}\n\n']
SCRIPTED = [
    b'data: {"message": "t%02d", "event": "on_chat_model_stream"}\n\n' % i for i in range(20)
]
