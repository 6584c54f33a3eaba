"""The benchmark harness of vivi-emulator (issue 8). Run it through `benchmarks/run`.

Every figure it reports is a ratio measured in the same run against a reference running on the
same machine at the same time: targets are loaded in turn (A B A B ...), for several rounds, and
the medians are quoted. See benchmarks/README.md for what each number means.

Modules, in the order a run uses them: `cli` (options, the phases), `targets` and `peers` (what
is measured, and how it starts), `processes` (process groups, RSS and CPU from /proc),
`instances` and `probes` (start, wait for the first answer, check the answers), `wrk` and
`streams` (the loads), `phases` (rounds), `results`, `summary`, `report` and `machine`.
"""
