"""Numba word table: count unique byte strings (pre-tokens) without creating Python objects.

The fast counting path cuts text with the numba scanner and inserts every piece here: an
open-addressing hash table over entries whose bytes live in one pool. Entries keep their first-seen
order, so the table is the same for any number of threads as long as pieces arrive in text order.
Memory is proportional to the unique pieces (pool bytes + 5 int64 per entry + 2 slots per entry).
"""
import numpy as np
from ._jit import njit, prange

ENTRY_FIELDS = 4      # off, len, count, hash


@njit(cache=True, inline="always")
def _hash_bytes(data, start, end):
    h = np.uint64(0xCBF29CE484222325)
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * np.uint64(0x100000001B3)
    h ^= h >> np.uint64(29)
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def _insert_pieces(data, bounds, first, weights, slots, entries, pool, meta):
    """Insert pieces data[bounds[i]:bounds[i+1]] for i >= first, each counted weights[i] times
    (once if `weights` is empty). meta = [n_entries, pool_used]. Stops early (returning the next
    piece index) when the table or pool needs to grow."""
    unweighted = len(weights) == 0
    mask = len(slots) - 1
    n = meta[0]
    used = meta[1]
    max_entries = min(len(entries), len(slots) // 2)
    for i in range(first, len(bounds) - 1):
        s = bounds[i]
        e = bounds[i + 1]
        ln = e - s
        if ln == 0:
            continue
        weight = np.int64(1) if unweighted else weights[i]
        h = _hash_bytes(data, s, e)
        j = h & mask
        while True:
            k = slots[j]
            if k < 0:
                if n >= max_entries or used + ln > len(pool):
                    meta[0] = n
                    meta[1] = used
                    return i
                for t in range(ln):
                    pool[used + t] = data[s + t]
                entries[n, 0] = used
                entries[n, 1] = ln
                entries[n, 2] = weight
                entries[n, 3] = h
                slots[j] = n
                used += ln
                n += 1
                break
            if entries[k, 3] == h and entries[k, 1] == ln:
                off = entries[k, 0]
                same = True
                for t in range(ln):
                    if pool[off + t] != data[s + t]:
                        same = False
                        break
                if same:
                    entries[k, 2] += weight
                    break
            j = (j + 1) & mask
    meta[0] = n
    meta[1] = used
    return len(bounds) - 1


@njit(cache=True, parallel=True)
def _insert_halves(data, bounds_a, first_a, slots_a, entries_a, pool_a, meta_a,
                   bounds_b, first_b, slots_b, entries_b, pool_b, meta_b, reached):
    """Count two runs of pieces into two tables at once (one per core)."""
    no_weights = np.zeros(0, dtype=np.int64)
    for part in prange(2):
        if part == 0:
            reached[0] = _insert_pieces(data, bounds_a, first_a, no_weights, slots_a, entries_a, pool_a, meta_a)
        else:
            reached[1] = _insert_pieces(data, bounds_b, first_b, no_weights, slots_b, entries_b, pool_b, meta_b)


@njit(cache=True)
def _rehash(entries, n, slots):
    mask = len(slots) - 1
    for k in range(n):
        j = entries[k, 3] & mask
        while slots[j] >= 0:
            j = (j + 1) & mask
        slots[j] = k


def line_bounds(data):
    """Offsets just after every '\\n' (plus 0 and len): one document per line (HF `train(files)`).
    Plain numpy: a parallel kernel was no faster and cost the first run a parfors compile."""
    n = len(data)
    nl = np.flatnonzero(np.asarray(data) == 10)
    ends = nl + 1
    if len(nl) and ends[-1] == n:
        ends = ends[:-1]
    out = np.empty(len(ends) + 2, dtype=np.int64)
    out[0] = 0
    out[1:-1] = ends
    out[-1] = n
    return out


class WordTable:
    """Unique byte strings with int64 counts, filled from (data, piece bounds) batches."""

    def __init__(self, capacity=1 << 16, pool=1 << 20):
        self.slots = np.full(2 * capacity, -1, dtype=np.int64)
        self.entries = np.zeros((capacity, ENTRY_FIELDS), dtype=np.int64)
        self.pool = np.zeros(pool, dtype=np.uint8)
        self.meta = np.zeros(2, dtype=np.int64)

    def __len__(self):
        return int(self.meta[0])

    def add_pieces(self, data, bounds, weights=None):
        """Count the pieces data[bounds[i]:bounds[i+1]] (weights[i] times each, default once)."""
        data = np.ascontiguousarray(data, dtype=np.uint8)
        data = data.view()
        data.flags.writeable = False            # as the scanner's input is: one compile of _insert_pieces
        bounds = np.ascontiguousarray(bounds, dtype=np.int64)
        weights = np.zeros(0, np.int64) if weights is None else np.ascontiguousarray(weights, dtype=np.int64)
        i = 0
        while True:
            i = _insert_pieces(data, bounds, i, weights, self.slots, self.entries, self.pool, self.meta)
            if i >= len(bounds) - 1:
                return self
            self._grow(int(bounds[i + 1] - bounds[i]))

    def add_pieces_parallel(self, data, bounds, side):
        """Like add_pieces, but the second half of the pieces is counted into `side` (an empty
        WordTable) on the other core, then folded in. The halves are fixed by piece index, so the
        result, entry order included, does not depend on the thread count."""
        data = np.ascontiguousarray(data, dtype=np.uint8)
        data = data.view()
        data.flags.writeable = False
        bounds = np.ascontiguousarray(bounds, dtype=np.int64)
        n = len(bounds) - 1
        mid = n // 2
        bounds_a, bounds_b = bounds[:mid + 1], bounds[mid:]
        reached = np.zeros(2, dtype=np.int64)
        first_a = first_b = 0
        while True:
            _insert_halves(data, bounds_a, first_a, self.slots, self.entries, self.pool, self.meta,
                           bounds_b, first_b, side.slots, side.entries, side.pool, side.meta, reached)
            first_a, first_b = int(reached[0]), int(reached[1])
            done_a, done_b = first_a >= len(bounds_a) - 1, first_b >= len(bounds_b) - 1
            if done_a and done_b:
                break
            if not done_a:
                self._grow(int(bounds_a[first_a + 1] - bounds_a[first_a]))
            if not done_b:
                side._grow(int(bounds_b[first_b + 1] - bounds_b[first_b]))
        data_b, offsets_b, counts_b = side.arrays(copy=False)
        self.add_pieces(data_b, offsets_b, counts_b)
        side.clear()
        return self

    def clear(self):
        self.slots[:] = -1
        self.meta[:] = 0

    def _grow(self, need_bytes):
        n, used = int(self.meta[0]), int(self.meta[1])
        if n >= min(len(self.entries), len(self.slots) // 2):
            entries = np.zeros((2 * len(self.entries), ENTRY_FIELDS), dtype=np.int64)
            entries[:n] = self.entries[:n]
            self.entries = entries
            self.slots = np.full(2 * len(entries), -1, dtype=np.int64)
            _rehash(self.entries, n, self.slots)
        if used + need_bytes > len(self.pool):
            pool = np.zeros(max(2 * len(self.pool), used + need_bytes), dtype=np.uint8)
            pool[:used] = self.pool[:used]
            self.pool = pool

    def arrays(self, copy=True):
        """(data, offsets, counts) in first-seen order."""
        n, used = int(self.meta[0]), int(self.meta[1])
        offsets = np.zeros(n + 1, dtype=np.int64)
        offsets[1:] = self.entries[:n, 0] + self.entries[:n, 1]
        data, counts = self.pool[:used], self.entries[:n, 2]
        return (data.copy(), offsets, counts.copy()) if copy else (data, offsets, np.ascontiguousarray(counts))
