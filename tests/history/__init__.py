"""A history checker of the shared state (Jepsen/Elle-style, small).

Many concurrent clients talk to two ``vivi-emulator serve`` processes (two workers each) on one
real ``redis-server`` while faults are injected (Redis killed and restarted empty, ``SCRIPT
FLUSH``, clients hanging up, channels deleted and re-created, keys rotated, resets racing
uploads near the quota, override changes from both processes). Every request and answer is
recorded with its times and process (``record.py``); at quiet points the journal, the usage, the
queue, the files and the overrides are read; then named properties are checked on the history
(``properties.py``). The schedule of operations and faults derives from the seed, so
``python -m tests.history --seed N`` replays a run.
"""
