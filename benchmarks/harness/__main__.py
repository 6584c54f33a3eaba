"""`python -m harness` (with benchmarks/ on the path), as `benchmarks/run` calls it."""

import sys

from .cli import main

sys.exit(main())
