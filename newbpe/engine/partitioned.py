"""Plain BPE over word partitions, one partition per thread (partition_kernels.run_bpe_parts).

The word table is cut into P contiguous word ranges of about equal slot counts; each is an ordinary
`EngineState` built by `Engine.build` (same base tokens, same veto) without a queue of its own. Every
partition holds the whole token table: a merge finds or creates its token in each, in the same order,
so token ids agree. One global lazy max-heap holds (total, key) with total the pair's count summed
over the partitions, ordered like the engine's queue (count desc, then the smallest
``left << 32 | right``: HF's rule), so the merges, their counts and the token ids are exactly those of
the single `Engine`, for any P. A merge rewrites the partitions on all threads at once when its
occurrence lists are long (`PARALLEL_THRESHOLD`), else one after the other (a parallel region costs
microseconds to start and most merges touch a few words).

Only plain BPE runs here: Picky and Scaffold drive the single engine step by step.
"""
import numpy as np

from .driver import Rows, drive
from .engine import Engine, _k
from . import state as S

# Total occurrence-list length (slots, over all partitions) from which a merge rewrites its
# partitions in parallel. Measured on 2 cores (gutenberg 10 / 100 MB, gpt2, 32k merges; merge phase,
# P=2): 2000 and 5000 were the best and equal within noise (10 MB: 0.55-0.60 s, 100 MB: 0.89-0.94 s),
# 20000 and never-parallel slower (0.58-0.65 / 0.90-1.01 s). A parallel region costs ~2 µs to
# start; a merge of 5000 slots takes ~1.5 ms.
PARALLEL_THRESHOLD = 5_000
NEVER = 1 << 62


def split_words(offsets, n_parts):
    """Word boundaries [0, …, n_words] of `n_parts` contiguous ranges with about equal slot counts
    (a word of n units takes n + 1 slots). Ranges may be empty on tiny tables."""
    offsets = np.asarray(offsets, dtype=np.int64)
    n_words = len(offsets) - 1
    ends = offsets[1:] + np.arange(1, n_words + 1, dtype=np.int64)       # slot end of each word
    total = int(ends[-1]) if n_words else 0
    bounds = [0]
    for k in range(1, n_parts):
        target = total * k // n_parts
        i = int(np.searchsorted(ends, target, side="right"))        # words ending at or before it
        if i < n_words and ends[i] - target < target - (ends[i - 1] if i else 0):
            i += 1                                                  # the next word end is nearer
        bounds.append(max(i, bounds[-1]))
    return bounds + [n_words]


class PartitionedEngine:
    """`Engine.run_bpe` over P word partitions (see the module doc). Exposes what the BPE trainer
    reads: `run_bpe`, `merge_events`, `n_tokens`, `n_base`, `vocab_bytes()`, `token_idents()`,
    `token_freqs()`."""

    def __init__(self, parts, n_base, gheap, gmeta, parallel_threshold):
        self.parts = parts
        self.n_base = n_base
        self.gheap = gheap
        self.gmeta = gmeta
        self.parallel_threshold = int(parallel_threshold)
        self.merge_events = []

    @classmethod
    def build(cls, units, offsets, counts, base_tokens, n_specials=0, *, partitions=2,
              parallel_threshold=PARALLEL_THRESHOLD, unit_map=None, **options):
        """Build `partitions` partition engines over the word table (arguments as `Engine.build`;
        `options`: its veto options). parallel_threshold: total occurrence-list length from which
        a merge runs its partitions in parallel (None: never)."""
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, not {partitions}")
        units = np.asarray(units)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        counts = np.ascontiguousarray(counts, dtype=np.int64)
        bounds = split_words(offsets, partitions)
        parts = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            u0, u1 = int(offsets[lo]), int(offsets[hi])
            parts.append(Engine.build(units[u0:u1], offsets[lo:hi + 1] - u0, counts[lo:hi], base_tokens,
                                      n_specials, queue=False, unit_map=unit_map, **options))
        cap = sum(int(p.st.meta[S.M_PAIRS]) for p in parts) + 1024
        gheap = S.Heap(heap_count=np.zeros(cap, np.int64), heap_key=np.zeros(cap, np.int64),
                       heap_item=np.zeros(cap, np.int32))
        gmeta = np.zeros(S.M_SIZE, dtype=np.int64)
        engine = cls(parts, len(base_tokens), gheap, gmeta,
                     NEVER if parallel_threshold is None else parallel_threshold)
        _k().parts.part_heapify(engine._states(), gheap, gmeta)
        return engine

    # ------------------------------------------------------------------ kernel arguments
    def _states(self):
        return tuple(p.st for p in self.parts)

    def _fields(self):
        """Every array the parallel rewrite needs, each as a tuple over the partitions (numba's
        parallel regions take no namedtuples): Words, Tokens, Pairs fields, then meta."""
        out = []
        for group in ("words", "tokens", "pairs"):
            for name in getattr(self.parts[0].st, group)._fields:
                out.append(tuple(getattr(getattr(p.st, group), name) for p in self.parts))
        out.append(tuple(p.st.meta for p in self.parts))
        return tuple(out)

    def _grow_queue(self, need):
        """Make the global queue take `need` more entries; returns whether it grew."""
        n = int(self.gmeta[S.M_HEAP])
        have = len(self.gheap.heap_count)
        if n + need <= have:
            return False
        cap = max(2 * have, n + need + 1024)
        repl = {}
        for name in S.HEAP_ARRAYS:
            old = getattr(self.gheap, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[:n] = old[:n]
            repl[name] = new
        self.gheap = self.gheap._replace(**repl)
        return True

    # ------------------------------------------------------------------ the loop
    def run_bpe(self, visible, target, min_count=1, progress=None, report_every=1000):
        """Plain greedy BPE until `visible` reaches `target`, exactly as `Engine.run_bpe`. Returns
        (visible, stop) with stop in {'done', 'empty', 'min_frequency'}."""
        K = _k()
        need = np.zeros(K.parts.PART_NEED, dtype=np.int64)
        out = Rows(4, target - visible)

        def step(visible, max_steps):
            n = out.n
            status, visible, out.n = K.parts.run_bpe_parts(
                self._states(), self._fields(), self.gheap, self.gmeta, visible, target, min_count, max_steps,
                self.parallel_threshold, out.array, n, need)
            return status, visible, out.n - n

        def grow_pools():
            if need[0] < 0:
                return self._grow_queue(int(need[1]))
            return self.parts[int(need[0])]._ensure(tuple(int(x) for x in need[1:7]))
        visible, stop = drive(step, grow_pools, visible, target, (out,), progress, report_every,
                              conflict=self._length_conflict)
        self.merge_events.extend(map(tuple, out.rows().tolist()))
        return visible, stop

    def _length_conflict(self):
        key = int(self.gheap.heap_key[0])                 # the head pair the loop stopped at
        return self.parts[0]._length_conflict(key >> 32, key & 0xFFFFFFFF)

    # ------------------------------------------------------------------ read access
    @property
    def n_tokens(self):
        return self.parts[0].n_tokens

    def token_freqs(self):
        """Standalone frequency of every token: the sum over the partitions."""
        return np.sum([p.token_freqs() for p in self.parts], axis=0)

    def vocab_bytes(self):
        return self.parts[0].vocab_bytes()

    def token_idents(self):
        return self.parts[0].token_idents()

    def check_tokens(self):
        """Raise if the partitions' token tables differ (debug and tests)."""
        ref = self.parts[0]
        n = ref.n_tokens
        for i, p in enumerate(self.parts[1:], 1):
            if p.n_tokens != n or p.vocab_bytes() != ref.vocab_bytes() or \
                    p.token_idents() != ref.token_idents() or \
                    not np.array_equal(p.st.tokens.tok_left[:n], ref.st.tokens.tok_left[:n]) or \
                    not np.array_equal(p.st.tokens.tok_right[:n], ref.st.tokens.tok_right[:n]):
                raise AssertionError(f"partition {i}'s token table differs from partition 0's")

    def pair_counts(self):
        """{(a, b): count} summed over the partitions, non-zero counts only (tests)."""
        out = {}
        for p in self.parts:
            for key, c in p.pair_counts().items():
                out[key] = out.get(key, 0) + c
        return {key: c for key, c in out.items() if c}

    def memory_bytes(self):
        return sum(p.memory_bytes() for p in self.parts) + sum(a.nbytes for a in self.gheap) + self.gmeta.nbytes
