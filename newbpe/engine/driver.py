"""The one Python driver of every numba merge loop (loops.run_bpe, run_scaffold, run_picky and
partition_kernels.run_bpe_parts).

A loop kernel merges until it must hand back and says why (state.STOP_*). What to do then is the same
for every loop, so it lives here once:

- STOP_ROOM: a pool or an output table is short. Kernels never allocate (state.py), so the driver
  doubles every output table that cannot take one more step (`Rows.full`) or, if none is full, asks
  the engine to grow its pools (`grow_pools`), and calls again;
- STOP_STEPS: the kernel did the steps it was allowed: report progress and carry on, unless the
  caller's own step budget (`max_steps`) is spent;
- STOP_LENGTH_CONFLICT: a merge spells an existing token of another length (tables.py): an error;
- anything else ends the loop.

Output tables start small and grow on demand, so a huge target (``vocab_size=10**9``) costs nothing
up front: the number of merges is bounded by the corpus, not by the target.
"""
import numpy as np

from . import state as S
from ..errors import NewbpeError


STOP_NAMES = {S.STOP_DONE: "done", S.STOP_EMPTY: "empty", S.STOP_MIN_FREQ: "min_frequency",
              S.STOP_STEPS: "steps", S.STOP_REMOVAL: "removal"}

# First capacity (rows) of an output table: 65,536 merge rows are 2 MB; a 32k-vocab run never grows.
FIRST_ROWS = 1 << 16
UNBOUNDED = 1 << 62     # "no step limit" for a kernel's max_steps


class Rows:
    """An int64 table a loop kernel appends rows to (merges, Scaffold events): ``array[:n]`` is
    written. `need` is the most rows one step may append: the kernel stops with STOP_ROOM when fewer
    are left, and the driver doubles the array."""

    def __init__(self, width, expected, need=1):
        self.array = np.zeros((max(min(int(expected), FIRST_ROWS), need, 1), width), dtype=np.int64)
        self.n = 0
        self.need = need

    def full(self):
        return self.n + self.need > len(self.array)

    def grow(self):
        self.array = np.concatenate([self.array, np.zeros_like(self.array)])

    def rows(self):
        return self.array[:self.n]


def drive(step, grow_pools, visible, target, tables, progress=None, report_every=1000, max_steps=None,
          conflict=None):
    """Run a merge loop to its end. step(visible, max_steps) calls the kernel once with the current
    `tables` (their ``array`` and ``n``, which it updates) and returns (status, visible, steps done);
    grow_pools() grows the engine's pools for the step the kernel could not take and returns whether
    anything grew. Progress is reported as ("merges", visible - start, target - start) after every
    call that did not stop for room. report_every: steps per kernel call (None: no intermediate
    stops); max_steps: the caller's step budget (None: none); conflict(): the message of the
    NewbpeError raised on STOP_LENGTH_CONFLICT. Returns (visible, stop) with stop in STOP_NAMES'
    values."""
    start = visible
    left = max_steps
    while True:
        budget = min(x for x in (report_every, left, UNBOUNDED) if x is not None)
        status, visible, done = step(visible, budget)
        if left is not None:
            left -= done
        if status == S.STOP_LENGTH_CONFLICT:
            raise NewbpeError(conflict() if conflict else "a merge spells a token of another length")
        if status == S.STOP_ROOM:
            full = [t for t in tables if t.full()]
            for t in full:
                t.grow()
            if not full and not grow_pools():
                raise RuntimeError("a merge loop stopped for room, but no pool or table was short")
            continue
        if progress:
            progress("merges", max(visible - start, 0), target - start)
        if status == S.STOP_STEPS and (left is None or left > 0):
            continue
        return visible, STOP_NAMES[status]
