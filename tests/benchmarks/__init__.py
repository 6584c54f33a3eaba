"""Tests of the benchmark harness's own logic (benchmarks/): its parsers and its judgements."""
