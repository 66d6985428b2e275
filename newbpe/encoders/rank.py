"""Rank-based BPE encoding (the classic "apply the best-ranked merge, repeat" algorithm).

This reproduces HF tokenizers' `Word::merge_all` on unit ids. The caller has already
turned text into base-unit ids (bytes or characters) and cut it into pre-tokens
("pieces"); this module never sees text. For one piece:

1. With `ignore_merges`, a piece whose whole unit sequence spells a vocabulary token is
   emitted as that token alone.
2. Otherwise start from the units and repeatedly merge the adjacent pair with the lowest
   merge rank, the leftmost occurrence if that pair occurs several times, until no
   adjacent pair has a merge rule. `a a a` with a rule (a, a) becomes `aa a`.

We always run this lowest-rank-first loop rather than "apply merge 0 everywhere, then
merge 1, ...": two different merges may output the same token (e.g. ab+c and a+bc both
make abc), so a merge of a *later* rank can create a symbol that an *earlier* rule
consumes, and a single pass in rank order would miss it.

Two implementations of the loop, picked by piece length:

* `_merge_linear`: rescans all pairs for the minimum after each merge, O(n^2), but with
  tiny constants; it works in place in the output buffer. Used for short pieces.
* `_merge_heap`: symbols linked through the output slots they cover plus a binary min-heap
  of (rank, position) with lazy invalidation and compaction, O(n log n) in at most 22 bytes
  per unit besides the units. A one-million-unit piece (a long run of one character, a
  minified file without spaces) stays fast and small.

`_rank_piece` is the piece kernel of the shared driver (`_driver.py`), which also does the
ignore_merges shortcut, the per-thread piece caches and the threads.

Merge rules live in an open-addressing hash table keyed by (left << 32) | right whose
value packs (rank << 32) | out_id; packed values compare by rank first, which the
linear scan exploits. All ids must be below 2**31.
"""

import numpy as np
from .._jit import njit

from ._driver import CACHE_MAX_UNITS, DEFAULT_CACHE_POOL, DEFAULT_CACHE_SLOTS, MAX_ID, DrivenEncoder, \
    PieceKernel

__all__ = ["CACHE_MAX_UNITS", "HEAP_THRESHOLD", "RankEncoder", "build_merge_table", "lookup_merge"]

# Pieces at least this long use the heap; shorter ones the linear rescan. Measured with
# 32k byte-level merges on random slices of real text (no cache): linear wins up to ~32
# units (18 vs 13 M units/s at 8), the heap from ~40 (10 vs 8.5 M units/s at 64, 8 vs
# 2.3 at 512).
HEAP_THRESHOLD = 40
_LOW32 = 0xFFFFFFFF


# --------------------------------------------------------------------------------------
# merge table


@njit(cache=True)
def _pair_slot(key, bits):
    """Fibonacci hashing: the top `bits` bits of key * 2**64/phi."""
    return np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits))


@njit(cache=True)
def build_merge_table(merges):
    """Build the pair -> (rank, out) table from an (m, 3) array of (left, right, out).

    Returns (table, bits): `table` interleaves key and packed value per slot (2 * 2**bits
    cells, key -1 = empty). A pair listed twice keeps its later row, like HF.
    """
    m = merges.shape[0]
    bits = 4
    while (1 << bits) < 2 * m:
        bits += 1
    mask = (1 << bits) - 1
    table = np.full(2 << bits, -1, np.int64)
    for rank in range(m):
        key = (merges[rank, 0] << 32) | merges[rank, 1]
        slot = _pair_slot(key, bits)
        while table[2 * slot] != -1 and table[2 * slot] != key:
            slot = (slot + 1) & mask
        table[2 * slot] = key
        table[2 * slot + 1] = (np.int64(rank) << 32) | merges[rank, 2]
    return table, bits


@njit(cache=True)
def lookup_merge(table, bits, left, right):
    """Packed (rank << 32) | out for the pair (left, right), or -1 if it has no rule."""
    key = (left << 32) | right
    mask = (1 << bits) - 1
    slot = _pair_slot(key, bits)
    while True:
        k = table[2 * slot]
        if k == key:
            return table[2 * slot + 1]
        if k == -1:
            return -1
        slot = (slot + 1) & mask


# --------------------------------------------------------------------------------------
# the merge loop, two ways


@njit(cache=True)
def _merge_linear(units, start, n, table, bits, out, pos, pair_buf):
    """Encode units[start:start+n] into out[pos:], rescanning for the best pair each step.

    `out[pos:pos+n]` is the working symbol array (it shrinks by one per merge) and
    `pair_buf[k]` holds the packed merge of symbols k, k+1 (-1: none). Returns the number
    of output ids.
    """
    for k in range(n):
        out[pos + k] = units[start + k]
    for k in range(n - 1):
        pair_buf[k] = lookup_merge(table, bits, out[pos + k], out[pos + k + 1])
    m = n
    while m > 1:
        best = -1
        best_val = np.int64(0x7FFFFFFFFFFFFFFF)
        for k in range(m - 1):
            v = pair_buf[k]
            # Packed values order by rank; "<" keeps the leftmost of equal ranks.
            if v >= 0 and v < best_val:
                best_val = v
                best = k
        if best < 0:
            break
        out[pos + best] = best_val & _LOW32
        for k in range(best + 1, m - 1):
            out[pos + k] = out[pos + k + 1]
        for k in range(best + 1, m - 2):
            pair_buf[k] = pair_buf[k + 1]
        m -= 1
        if best > 0:
            pair_buf[best - 1] = lookup_merge(table, bits, out[pos + best - 1], out[pos + best])
        if best < m - 1:
            pair_buf[best] = lookup_merge(table, bits, out[pos + best], out[pos + best + 1])
    return m


@njit(cache=True)
def _heap_push(heap, size, key):
    """Push `key` onto the binary min-heap heap[:size]; returns the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = key
    return size + 1


@njit(cache=True)
def _heap_sift_down(heap, size, i):
    """Move heap[i] down until both children are larger (binary min-heap heap[:size]).
    A 4-ary heap was tried for the million-unit case and was no faster."""
    key = heap[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= key:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = key


@njit(cache=True)
def _heap_compact(heap, size, prank):
    """Drop the stale entries of heap[:size] (their position's pair no longer has their rank) and
    restore the heap order; returns the new size. O(size)."""
    k = 0
    for i in range(size):
        e = heap[i]
        if prank[e & _LOW32] == (e >> 32):
            heap[k] = e
            k += 1
    for i in range(k // 2 - 1, -1, -1):
        _heap_sift_down(heap, k, i)
    return k


@njit(cache=True, inline="always")
def _next_start(out, pos, n, p):
    """Start of the symbol after the one starting at p (`_merge_heap`'s layout): p + 1 after a
    one-unit symbol; else out[pos + p + 1] points forward to it, or back to p for a two-unit one."""
    if p + 1 >= n:
        return n
    w = out[pos + p + 1]
    if w >= 0:
        return p + 1
    v = -w - 1
    return v if v > p else p + 2


@njit(cache=True, inline="always")
def _prev_start(out, pos, p):
    """Start of the symbol before the one starting at p (-1 at the first): p - 1 after a one-unit
    symbol, else the back pointer in that symbol's last slot."""
    if p == 0:
        return -1
    w = out[pos + p - 1]
    return p - 1 if w >= 0 else -w - 1


@njit(cache=True)
def _merge_heap(units, start, n, table, bits, rank_out, out, pos):
    """Encode units[start:start+n] into out[pos:] in O(n log n); returns the output length.

    Symbols live at the position of their first unit, in out[pos + p] itself; the slots a symbol of
    L >= 2 units covers hold its links, as negative values -1 - position: its last slot points back
    to its start, its second slot (when L >= 3) forward to the next symbol (`_next_start`,
    `_prev_start`). Merging the pair at p keeps p and absorbs its right neighbour. `prank[p]` is
    the merge rank of the pair currently starting at p (-1: none, or p was absorbed), its output id
    rank_out[rank]. Heap keys are (rank << 32) | p, so the heap minimum is the lowest rank,
    leftmost. Entries are never removed when a pair changes: on pop an entry is acted on only if
    the pair at p still has that rank. A rank identifies one pair (the table keeps a single row
    per pair), so that check is exact, and every live pair always has an entry in the heap; so the
    pops act exactly like the rescanning loop. When the heap is full its stale entries are dropped
    (`_heap_compact`): live entries are at most one per position, so a heap of 1.25 n entries
    needs a compaction at most every n / 8 merges.

    (HF's merge_all checks only that the pair at p still yields the entry's output id.
    With a consistent vocabulary, where an id stands for one unit string, a pair starting
    at p with the same output covers the same units and so is the same pair: the two
    checks agree. With arbitrary ids they could differ; we keep the exact rule.)

    Memory per unit: 8 bytes in `out` (needed anyway), 4 in `prank`, at most 10 in the heap. The
    int64 symbol, link and pair arrays and the 3n heap this replaced took 56 (one 30 MB piece
    peaked at 1.75 GB).
    """
    prank = np.full(n, -1, np.int32)
    cap = n + n // 4 + 64
    heap = np.empty(cap, np.int64)
    for k in range(n):
        out[pos + k] = units[start + k]
    size = 0
    for k in range(n - 1):
        v = lookup_merge(table, bits, out[pos + k], out[pos + k + 1])
        if v >= 0:
            prank[k] = v >> 32
            heap[size] = ((v >> 32) << 32) | k
            size += 1
    for i in range(size // 2 - 1, -1, -1):
        _heap_sift_down(heap, size, i)

    while size > 0:
        top = heap[0]
        size -= 1
        if size > 0:
            heap[0] = heap[size]
            _heap_sift_down(heap, size, 0)
        p = top & _LOW32
        rank = prank[p]
        if rank < 0 or rank != (top >> 32):
            continue  # stale: the pair at p changed (or p was absorbed) since the push
        if size + 2 > cap:
            size = _heap_compact(heap, size, prank)
        new_id = rank_out[rank]
        q = _next_start(out, pos, n, p)
        r = _next_start(out, pos, n, q)
        left = _prev_start(out, pos, p)
        out[pos + p] = new_id
        if r - p == 2:
            out[pos + p + 1] = -1 - p                 # back pointer (also says: two units)
        else:
            out[pos + p + 1] = -1 - r                 # forward pointer
            out[pos + r - 1] = -1 - p                 # back pointer
        prank[q] = -1
        if left >= 0:
            v = lookup_merge(table, bits, out[pos + left], new_id)
            prank[left] = v >> 32 if v >= 0 else -1
            if v >= 0:
                size = _heap_push(heap, size, ((v >> 32) << 32) | left)
        if r < n:
            v = lookup_merge(table, bits, new_id, out[pos + r])
            prank[p] = v >> 32 if v >= 0 else -1
            if v >= 0:
                size = _heap_push(heap, size, ((v >> 32) << 32) | p)
        else:
            prank[p] = -1

    m = 0
    p = 0
    while p < n:
        v = out[pos + p]
        nx = _next_start(out, pos, n, p)      # read before out[pos + m] (m <= p) is written
        out[pos + m] = v
        m += 1
        p = nx
    return m


# --------------------------------------------------------------------------------------
# the encoder


@njit(cache=True)
def _rank_piece(model, units, a, n, out, pos, pair_buf):
    """The driver's piece kernel: the linear rescan below HEAP_THRESHOLD units, else the heap."""
    table, bits, heap_threshold, rank_out = model
    if n < heap_threshold:
        return _merge_linear(units, a, n, table, bits, out, pos, pair_buf)
    return _merge_heap(units, a, n, table, bits, rank_out, out, pos)


@njit(cache=True)
def _rank_scratch(model, n_max):
    """pair_buf for _merge_linear: one cell per pair of the longest linearly merged piece."""
    return np.empty(max(1, min(n_max, model[2])), np.int64)


class RankEncoder(DrivenEncoder):
    """Encode pre-tokenised unit ids with a ranked list of BPE merges (HF semantics)."""

    encode_piece = PieceKernel(_rank_piece)
    new_scratch = PieceKernel(_rank_scratch)
    unit_dtype = np.int32              # the Tokenizer passes int32 units: 4 bytes per unit less

    def __init__(self, merges, n_tokens, token_units=None, ignore_merges=False,
                 cache_slots=DEFAULT_CACHE_SLOTS, cache_pool=DEFAULT_CACHE_POOL):
        """merges: int64 array shape (m, 3) of (left_id, right_id, out_id), rank = row index.
        If the same (left, right) pair is listed twice, the LATER rank wins (HF behaviour).
        n_tokens: number of ids (for sanity checks). token_units: needed only for ignore_merges:
        a list (indexed by token id) of 1-D int64 arrays giving each token's base-unit sequence
        (None for special tokens). If two tokens have the same unit sequence, the lower id is
        the one emitted. A one-unit piece is always emitted as its own unit id.
        cache_slots (power of two) and cache_pool size each thread's piece cache."""
        merges = np.ascontiguousarray(np.asarray(merges, dtype=np.int64).reshape(-1, 3))
        whole = None
        if ignore_merges:
            if token_units is None:
                raise ValueError("ignore_merges needs token_units")
            if len(token_units) > int(n_tokens):
                raise ValueError("token_units has more entries than n_tokens")
            whole = {t: u for t, u in enumerate(token_units) if u is not None}
        super().__init__(n_tokens, whole, cache_slots, cache_pool)
        if merges.shape[0] >= MAX_ID:
            raise ValueError("too many merges")
        if merges.size and (merges.min() < 0 or merges.max() >= self.n_tokens):
            raise ValueError("merge ids must be in [0, n_tokens)")
        self.merges = merges
        self.ignore_merges = bool(ignore_merges)
        # Tuning knob: pieces at least this long use the heap (tests force either path).
        self.heap_threshold = HEAP_THRESHOLD
        self._table, self._bits = build_merge_table(merges)
        self._rank_out = np.ascontiguousarray(merges[:, 2])       # output id of each rank

    def model(self):
        return self._table, self._bits, int(self.heap_threshold), self._rank_out
