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
* `_merge_heap`: a doubly linked list over positions plus a binary min-heap of
  (rank, position) with lazy invalidation, O(n log n). A one-million-unit piece (a long
  run of one character, a minified file without spaces) stays fast.

Results of pieces shorter than CACHE_MAX_UNITS units are memoised in a bounded cache
(see `_cache.py`), one per worker thread.

Merge rules live in an open-addressing hash table keyed by (left << 32) | right whose
value packs (rank << 32) | out_id; packed values compare by rank first, which the
linear scan exploits. All ids must be below 2**31.
"""

import numpy as np
from .._jit import njit, prange

from newbpe._threads import threads_limit
from newbpe.encoders._chunks import gather, plan
from newbpe.encoders._cache import (
    META_CLEARS,
    META_ENTRIES,
    META_HITS,
    META_MISSES,
    cache_create,
    cache_insert,
    cache_lookup,
    cache_view,
    piece_lookup,
    piece_store,
)

# Pieces at least this long use the heap; shorter ones the linear rescan. Measured with
# 32k byte-level merges on random slices of real text (no cache): linear wins up to ~32
# units (18 vs 13 M units/s at 8), the heap from ~40 (10 vs 8.5 M units/s at 64, 8 vs
# 2.3 at 512).
HEAP_THRESHOLD = 40
# Only pieces shorter than this are cached: long pieces are rare and would flood the pool.
CACHE_MAX_UNITS = 256
# Default per-thread cache size: at most 2**16 entries and 2**20 pooled ids (8 MiB).
DEFAULT_CACHE_SLOTS = 1 << 17
DEFAULT_CACHE_POOL = 1 << 20

_LOW32 = 0xFFFFFFFF
_MAX_ID = 2**31


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
def _merge_heap(units, start, n, table, bits, out, pos):
    """Encode units[start:start+n] into out[pos:] in O(n log n); returns the output length.

    Symbols live at the position of their first unit and are chained by `nxt`/`prv`;
    merging the pair at p keeps p and unlinks its right neighbour. `pair_val[p]` is the
    packed merge of the pair currently starting at p (-1: none, or p was absorbed).
    Heap keys are (rank << 32) | p, so the heap minimum is the lowest rank, leftmost.
    Entries are never removed when a pair changes: on pop an entry is acted on only if
    the pair at p still has that rank. A rank identifies one pair (the table keeps a
    single row per pair), so that check is exact, and every live pair always has an
    entry in the heap; so the pops act exactly like the rescanning loop.

    (HF's merge_all checks only that the pair at p still yields the entry's output id.
    With a consistent vocabulary, where an id stands for one unit string, a pair starting
    at p with the same output covers the same units and so is the same pair: the two
    checks agree. With arbitrary ids they could differ; we keep the exact rule.)
    """
    sym = np.empty(n, np.int64)
    nxt = np.empty(n, np.int64)
    prv = np.empty(n, np.int64)
    pair_val = np.full(n, -1, np.int64)
    # n - 1 initial pairs, at most 2 pushes per merge, at most n - 1 merges.
    heap = np.empty(3 * n, np.int64)
    for k in range(n):
        sym[k] = units[start + k]
        nxt[k] = k + 1
        prv[k] = k - 1
    size = 0
    for k in range(n - 1):
        v = lookup_merge(table, bits, sym[k], sym[k + 1])
        pair_val[k] = v
        if v >= 0:
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
        v = pair_val[p]
        if v < 0 or (v >> 32) != (top >> 32):
            continue  # stale: the pair at p changed (or p was absorbed) since the push
        new_id = v & _LOW32
        q = nxt[p]
        r = nxt[q]
        sym[p] = new_id
        nxt[p] = r
        if r < n:
            prv[r] = p
        pair_val[q] = -1
        left = prv[p]
        if left >= 0:
            v = lookup_merge(table, bits, sym[left], new_id)
            pair_val[left] = v
            if v >= 0:
                size = _heap_push(heap, size, ((v >> 32) << 32) | left)
        if r < n:
            v = lookup_merge(table, bits, new_id, sym[r])
            pair_val[p] = v
            if v >= 0:
                size = _heap_push(heap, size, ((v >> 32) << 32) | p)
        else:
            pair_val[p] = -1

    m = 0
    p = 0
    while p < n:
        out[pos + m] = sym[p]
        m += 1
        p = nxt[p]
    return m


# --------------------------------------------------------------------------------------
# driving many pieces


@njit(cache=True)
def _encode_range(units, offsets, lo, hi, table, bits, vocab, use_vocab, cache,
                  out, out_pos, out_len, heap_threshold):
    """Encode pieces lo..hi-1, writing ids contiguously from out[out_pos] and each piece's
    output length to out_len[i]. Returns the position after the last id written.

    A piece's output is never longer than its input, so out[out_pos:] needs no more room
    than the units of these pieces.
    """
    longest_linear = 1
    for i in range(lo, hi):
        n = offsets[i + 1] - offsets[i]
        if n < heap_threshold and n > longest_linear:
            longest_linear = n
    pair_buf = np.empty(longest_linear, np.int64)
    for i in range(lo, hi):
        a = offsets[i]
        n = offsets[i + 1] - a
        if n == 0:
            out_len[i] = 0
            continue
        if n == 1:
            out[out_pos] = units[a]
            out_len[i] = 1
            out_pos += 1
            continue
        piece = units[a:a + n]
        got = piece_lookup(cache, piece, out, out_pos, CACHE_MAX_UNITS)
        if got < 0:
            if use_vocab:
                got = cache_lookup(vocab, piece, out, out_pos)
            if got < 0 and n < heap_threshold:
                got = _merge_linear(units, a, n, table, bits, out, out_pos, pair_buf)
            elif got < 0:
                got = _merge_heap(units, a, n, table, bits, out, out_pos)
            piece_store(cache, piece, out, out_pos, got, CACHE_MAX_UNITS)
        out_len[i] = got
        out_pos += got
    return out_pos


@njit(cache=True, parallel=True)
def _encode_chunks(units, offsets, chunk_bounds, table, bits, vocab, use_vocab, bank,
                   out, out_len, heap_threshold):
    """Encode each chunk of pieces on its own thread with its own cache. Chunk c writes
    its ids into out starting at the offset of its first unit (so chunks never overlap)."""
    base = offsets[0]
    for c in prange(chunk_bounds.shape[0] - 1):
        lo = chunk_bounds[c]
        hi = chunk_bounds[c + 1]
        _encode_range(units, offsets, lo, hi, table, bits, vocab, use_vocab,
                      cache_view(bank, c), out, offsets[lo] - base, out_len,
                      heap_threshold)


@njit(cache=True)
def _check_inputs(units, offsets, n_tokens):
    """0 if the inputs are well formed, else a code for the error: 1 bad offsets, 2 a unit
    id outside [0, n_tokens). One pass over the data, no temporaries (numpy's min/max/diff
    took ~10% of a warm encode)."""
    for i in range(offsets.shape[0] - 1):
        if offsets[i + 1] < offsets[i]:
            return 1
    if offsets[0] < 0 or offsets[-1] > units.shape[0]:
        return 1
    for i in range(offsets[0], offsets[-1]):
        if units[i] < 0 or units[i] >= n_tokens:
            return 2
    return 0


@njit(cache=True)
def _build_vocab_table(flat_units, token_offsets, token_ids):
    """A cache holding (unit sequence -> [token id]) for every vocabulary token, used by
    ignore_merges. Sized so it never needs clearing; on a duplicate unit sequence the
    token listed first (the lowest id) wins."""
    n = token_ids.shape[0]
    n_slots = 2
    while n_slots < 2 * (n + 1):
        n_slots *= 2
    bank = cache_create(1, n_slots, flat_units.shape[0] + n + 1)
    table = cache_view(bank, 0)
    scratch = np.empty(1, np.int64)
    for t in range(n):
        key = flat_units[token_offsets[t]:token_offsets[t + 1]]
        if cache_lookup(table, key, scratch, 0) < 0:
            scratch[0] = token_ids[t]
            if not cache_insert(table, key, scratch):
                raise ValueError("a token is longer than the cache's MAX_LEN units")
    return bank


# --------------------------------------------------------------------------------------
# public API


class RankEncoder:
    """Encode pre-tokenised unit ids with a ranked list of BPE merges (HF semantics).

    Keeps one bounded cache per worker thread across calls. Not safe to call from
    several Python threads at once (the kernels hold the GIL, so that cannot happen
    by accident).
    """

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
        n_tokens = int(n_tokens)
        if not 0 < n_tokens <= _MAX_ID:
            raise ValueError(f"n_tokens must be in 1..2**31, got {n_tokens}")
        if merges.shape[0] >= _MAX_ID:
            raise ValueError("too many merges")
        if merges.size and (merges.min() < 0 or merges.max() >= n_tokens):
            raise ValueError("merge ids must be in [0, n_tokens)")
        if cache_slots < 2 or cache_slots & (cache_slots - 1):
            raise ValueError("cache_slots must be a power of two >= 2")
        self.merges = merges
        self.n_tokens = n_tokens
        self.ignore_merges = bool(ignore_merges)
        self.cache_slots = int(cache_slots)
        self.cache_pool = int(cache_pool)
        # Tuning knob: pieces at least this long use the heap (tests force either path).
        self.heap_threshold = HEAP_THRESHOLD
        self._table, self._bits = build_merge_table(merges)
        if self.ignore_merges:
            if token_units is None:
                raise ValueError("ignore_merges needs token_units")
            self._vocab = self._vocab_table(token_units, n_tokens)
        else:
            self._vocab = cache_create(1, 2, 1)  # never consulted, but keeps types fixed
        self._vocab_cache = cache_view(self._vocab, 0)
        self._bank = None

    @staticmethod
    def _vocab_table(token_units, n_tokens):
        if len(token_units) > n_tokens:
            raise ValueError("token_units has more entries than n_tokens")
        ids, seqs = [], []
        for token_id, seq in enumerate(token_units):
            if seq is None:
                continue
            seq = np.asarray(seq, dtype=np.int64).ravel()
            if seq.size == 0:
                continue
            ids.append(token_id)
            seqs.append(seq)
        lengths = np.array([s.size for s in seqs], dtype=np.int64)
        token_offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=token_offsets[1:])
        flat = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
        return _build_vocab_table(flat, token_offsets, np.array(ids, dtype=np.int64))

    def _caches(self, n):
        """A bank of at least n per-thread caches (kept across calls)."""
        if self._bank is None or self._bank[0].shape[0] < n:
            self._bank = cache_create(n, self.cache_slots, self.cache_pool)
        return self._bank

    def clear_cache(self):
        """Drop all cached pieces and their memory. Results never depend on the cache."""
        self._bank = None

    def cache_stats(self):
        """Summed counters over the per-thread caches: entries, hits, misses, clears."""
        if self._bank is None:
            return dict(entries=0, hits=0, misses=0, clears=0)
        meta = self._bank[2].sum(axis=0)
        return dict(entries=int(meta[META_ENTRIES]), hits=int(meta[META_HITS]),
                    misses=int(meta[META_MISSES]), clears=int(meta[META_CLEARS]))

    def encode_units(self, units, offsets, threads=1):
        """units: 1-D int64 array of unit ids for all pieces concatenated; offsets: int64 array of
        length n_pieces+1 (piece i is units[offsets[i]:offsets[i+1]]). Returns (ids, out_offsets):
        ids int64 concatenated output, out_offsets int64 length n_pieces+1. threads>1 encodes
        contiguous chunks of pieces in parallel with numba prange (each chunk its own cache); the
        result must be identical for any thread count."""
        units = np.ascontiguousarray(units, dtype=np.int64).ravel()
        offsets = np.ascontiguousarray(offsets, dtype=np.int64).ravel()
        threads = int(threads)
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if offsets.size < 1:
            raise ValueError("offsets must have length n_pieces + 1 >= 1")
        n_pieces = offsets.size - 1
        error = _check_inputs(units, offsets, self.n_tokens)
        if error == 1:
            raise ValueError("offsets must be non-decreasing and within units")
        if error == 2:
            raise ValueError("unit ids must be in [0, n_tokens)")

        out = np.empty(offsets[-1] - offsets[0], dtype=np.int64)
        out_len = np.empty(n_pieces, dtype=np.int64)
        out_offsets = np.zeros(n_pieces + 1, dtype=np.int64)
        if n_pieces == 0:
            return np.zeros(0, np.int64), out_offsets
        use_vocab = self.ignore_merges
        if threads == 1:
            bank = self._caches(1)
            end = _encode_range(units, offsets, 0, n_pieces, self._table, self._bits,
                                self._vocab_cache, use_vocab, cache_view(bank, 0),
                                out, 0, out_len, self.heap_threshold)
            np.cumsum(out_len, out=out_offsets[1:])
            return out[:end].copy(), out_offsets

        bounds = plan(offsets, threads)
        bank = self._caches(threads)
        with threads_limit(threads):
            _encode_chunks(units, offsets, bounds, self._table, self._bits,
                           self._vocab_cache, use_vocab, bank, out, out_len,
                           self.heap_threshold)
        return gather(out, offsets, bounds, out_len)
