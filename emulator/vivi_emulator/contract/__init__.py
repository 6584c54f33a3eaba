"""``vivi-emulator contract``: the emulator, the real API or recordings checked against the
contract (``openapi/vivi-channels-api.yaml``).

``options`` what a live run may do, ``run`` the schemathesis run, ``compare`` the same checks on
recorded answers (``--compare``), ``marks`` which contract part a finding touches and how it is
marked, ``result`` the findings, ``report`` the summary, Markdown and JUnit files, ``cli`` the
command. Only ``run`` and ``compare`` import schemathesis.
"""
