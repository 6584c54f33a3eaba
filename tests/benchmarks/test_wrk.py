"""What the harness reads from wrk's report."""

from __future__ import annotations

import pytest
from harness.wrk import _parse

REPORT = """\
Running 1s test @ http://127.0.0.1:18767/channelsApi/demo-channel/nope
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   458.35us    1.31ms  18.03ms   97.03%
    Req/Sec    14.20k     4.18k   22.86k    72.73%
  Latency Distribution
     50%  273.00us
     75%  360.00us
     90%  426.00us
     99%    6.43ms
  15511 requests in 1.10s, 2.20MB read
  Non-2xx or 3xx responses: 15511
Requests/sec:  14107.89
Transfer/sec:      2.00MB
"""


def test_the_report_gives_requests_non_2xx_and_the_p99_in_ms() -> None:
    out = _parse(REPORT)
    assert out["requests"] == 15511
    assert out["non2xx"] == 15511
    assert out["p99_ms"] == pytest.approx(6.43)


@pytest.mark.parametrize(("text", "ms"), [("99%  812.00us", 0.812), ("99%    1.20s", 1200.0)])
def test_the_p99_is_read_in_any_unit(text: str, ms: float) -> None:
    assert _parse(REPORT.replace("99%    6.43ms", text))["p99_ms"] == pytest.approx(ms)


def test_a_report_without_errors_counts_no_non_2xx() -> None:
    out = _parse(REPORT.replace("  Non-2xx or 3xx responses: 15511\n", ""))
    assert out["non2xx"] == 0
    assert out["socket_errors"] == ""
