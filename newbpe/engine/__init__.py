"""The merge engine: the one object every BPE-family trainer drives.

A trainer is a short loop over these operations (design.md, "the engine's contract"):

- ``best()`` / ``head()``: the valid head of the queue (pair by count desc, then smallest
  (left, right) on ids — HF's tie rule; Scaffold token items before pairs at equal count);
- ``merge(a, b)``: rewrite every occurrence of (a, b), find or create the token a+b; returns
  ``(new_id, merged_count, created)``;
- ``replace(token, pieces)``: replace every occurrence of a token by a sequence (Picky's removal);
- ``token_freq(t)``, ``head_count()``: read access (Picky's IoS, Scaffold's flags);
- a veto set at build time (max token length, max words, forbidden substrings);
- ``replay(merges)``: apply a given merge list, then carry on (SuperBPE stage 2);
- ``run_bpe(...)``: the plain greedy loop, run inside numba for speed;
  ``PartitionedEngine`` (partitioned.py) runs the same loop over word partitions, one per thread,
  with the same result;
- ``merge_events``: the append-only log of (a, b, new, merged_count).

Every count is int64 and exact; nothing outside this package touches the arrays.

Layout: state.py (arrays, flags, status codes), tables.py, queue.py, rewrite.py, loops.py and
partition_kernels.py (the numba kernels), engine.py (`Engine`), partitioned.py (`PartitionedEngine`).
"""
from .state import FLAG_ATOMIC, FLAG_ABSENT, FLAG_SCAFFOLD, FLAG_SPECIAL  # noqa: F401
from .engine import Engine  # noqa: F401
from .partitioned import PartitionedEngine, PARALLEL_THRESHOLD  # noqa: F401
