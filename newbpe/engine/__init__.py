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
  ``pair_was_queued(a, b)``: whether a pair ever had a queue entry (SuperBPE's replay skip rule);
  ``n_vetoed_pairs()``: how many pairs the veto discarded;
- the method loops ``run_bpe``, ``run_scaffold``, ``run_picky``, run inside numba for speed behind
  one grow-and-retry driver; ``PartitionedEngine`` (partitioned.py) runs plain BPE's loop over word
  partitions, one per thread, with the same result;
- ``merge_events``: the append-only log of (a, b, new, merged_count).

Token identity is (identity flag, bytes) (design.md): ``Engine.build(base_idents=...)`` gives base
tokens a flag (ByteSpan's word-initial / continuation; 0 for every other method), a merge's token
takes its left part's flag, and the string table keys on both (``token_ident``, ``find_token``).

Every count is int64 and exact; nothing outside this package touches the arrays.

Layout (each module's docstring says why it is cut there):

- state.py: the array layout (a namedtuple of four groups of numpy arrays), engine flags, status
  codes; no numba, so it loads instantly;
- tables.py: the pair hash table, the string table ((flag, bytes) -> id) and token creation;
- slots.py: word table navigation (tail markers, block index) and the pair occurrence index rebuilt
  from the slots (memory bounded per piece: issue 12);
- queue.py: the lazy max-heap, its valid head, pair eligibility (the veto);
- rewrite.py: occurrence lists, room checks, laying out the words, the merge and replace rewrites
  (`merge_step`: one merge from Python);
- loops.py: the method loops (plain BPE, Scaffold-BPE, Picky BPE's merges) and Picky's option slots;
- partition_kernels.py: the partitioned loop's kernels (one global queue, parallel rewrite);
- driver.py: the one Python driver of every loop (grow on STOP_ROOM, retry, report progress);
- engine.py: `Engine`, which owns a state, grows its pools and calls the kernels;
- partitioned.py: `PartitionedEngine`.

Imports go one way, tables <- queue <- rewrite <- loops <- partition_kernels (slots <- rewrite), and the kernel modules
load on first use (engine._k), so `import newbpe` stays instant.

numba's on-disk cache caveat: every kernel is ``@njit(cache=True)``, and numba keys a cached kernel
only by the timestamp of the file that defines it, not by its callees in other modules. After editing
a kernel that other modules call (or moving kernels between files), delete
``newbpe/engine/__pycache__/*.nbi`` and ``*.nbc`` before testing, or callers keep the old code.
"""
from .state import FLAG_ATOMIC, FLAG_ABSENT, FLAG_SCAFFOLD, FLAG_SPECIAL  # noqa: F401
from .engine import Engine  # noqa: F401
from .partitioned import PartitionedEngine, PARALLEL_THRESHOLD  # noqa: F401
