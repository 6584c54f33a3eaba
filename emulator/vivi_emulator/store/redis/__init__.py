"""The Redis store: every worker and replica on one Redis is one emulator.

Built on redis-py's asyncio client. Every step that changes more than one thing is one Lua
script (``lua/*.lua``), never read-then-write from Python: opening a turn (the count, the
thread's last exchange, and the shared view a request needs, in one round trip), giving it back,
committing it with its journal entry, keeping uploaded files under the byte quota, pushing a
queued reply within its bound, claiming one by its id, and every change of a channel (a removal
takes everything of it). Each override field is a hash field, set on its own. Each step that a
request of a channel makes carries the channel's generation, and is refused or dropped once the
channel was deleted.

Bounds are Redis's own where it has them (a thread's idle time and a file's lifetime are key
TTLs, the journal is a capped stream) and kept in sorted sets where it has not (the least
recently used threads beyond ``max_threads``; the bytes of files not yet expired; each
channel's files), so nothing scans every file, and only a channel's reset walks the threads'
index (at most ``max_threads``).

Redis lost while serving: every call raises ``StoreUnavailable`` (a JSON 503), and the next
call reconnects, so service resumes by itself when Redis is back. Standalone Redis only (the
scripts touch keys they compute, which Redis Cluster does not allow).

The parts: ``url`` (the store's URL and address, without redis-py), ``client`` (the connection,
the key names, the scripts, the guard that turns Redis errors into 503s, the configured
channels and the epoch of the Redis they were seeded in), ``batch`` (the hot steps pipelined),
one part per kind of state, each built on the client (``keys``, ``threads`` with the journal,
``queue`` with the overrides, ``files``), and ``store``, which composes them into
``RedisStore``.
"""
