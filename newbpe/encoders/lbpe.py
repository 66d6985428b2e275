"""LBPE: long-token-first encoding (Lian et al., "LBPE: Long-token-first Tokenization to Improve
Large Language Models", arXiv 2411.05504; specs/lbpe.md). Training is unchanged; only encoding
differs. Within each pre-token (never across pre-tokens):

    for L = longest token length down to 2:
        scan windows of L units left to right; take a window whose units are all uncovered and
        whose string is a vocabulary token, cover it, jump past it
    every uncovered unit becomes its own base token

This equals recursive global-longest-first with leftmost ties (FLOTA / TkTkT `LongestFirst`).
`lbpe_ties="rank"` takes, at each length, the uncovered match whose token has the lowest BPE rank
(earliest creating merge) first, then its leftmost occurrence.

Implementation, per piece of n units (O(n * m) trie steps, m = longest token):
1. walk a trie of the vocabulary's unit sequences from every start: every (start, length) match;
2. bucket the matches by length (a counting sort keeps starts increasing within a bucket; the rank
   rule sorts each bucket by (rank, start));
3. covering pass from the longest bucket down: take a match if none of its units is covered.
Taking the matches of a bucket in start order and skipping overlaps is exactly the sliding window:
after taking (i, L) the window jumps to i + L, and every match starting inside was overlapping.

The trie is an open-addressing hash of (node, unit) -> child. Pieces shorter than 256 units are
cached per thread (results never depend on the cache).
"""
import numpy as np
from .._jit import njit, prange

from .._threads import threads_limit
from ._cache import cache_create, cache_view, piece_lookup, piece_store
from ._chunks import gather, plan
from .rank import DEFAULT_CACHE_POOL, DEFAULT_CACHE_SLOTS, _check_inputs

CACHE_MAX_UNITS = 256
NO_RANK = np.int64(2**62)


@njit(cache=True, inline="always")
def _slot(node, unit, mask):
    key = (np.uint64(node) << np.uint64(32)) | np.uint64(unit)
    return np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20)) & mask


@njit(cache=True)
def build_trie(flat_units, token_offsets, token_ids, token_rank):
    """Trie over token unit sequences. Returns (table, node_token, node_rank): table rows are
    (node, unit, child); node 0 is the root; node_token[n] is the token spelled by the path to n
    (-1 if none; on two tokens with the same units the first listed wins)."""
    n_nodes_max = flat_units.shape[0] + 1
    size = 16
    while size < 2 * n_nodes_max:
        size <<= 1
    mask = size - 1
    table = np.full((size, 3), -1, dtype=np.int64)
    node_token = np.full(n_nodes_max, -1, dtype=np.int64)
    node_rank = np.full(n_nodes_max, NO_RANK, dtype=np.int64)
    n_nodes = 1
    for t in range(token_ids.shape[0]):
        node = 0
        for j in range(token_offsets[t], token_offsets[t + 1]):
            u = flat_units[j]
            s = _slot(node, u, mask)
            child = -1
            while table[s, 0] >= 0:
                if table[s, 0] == node and table[s, 1] == u:
                    child = table[s, 2]
                    break
                s = (s + 1) & mask
            if child < 0:
                child = n_nodes
                n_nodes += 1
                table[s, 0] = node
                table[s, 1] = u
                table[s, 2] = child
            node = child
        if node_token[node] < 0:
            node_token[node] = token_ids[t]
            node_rank[node] = token_rank[t]
    return table, node_token[:n_nodes].copy(), node_rank[:n_nodes].copy()


@njit(cache=True, inline="always")
def _child(table, node, unit):
    mask = table.shape[0] - 1
    s = _slot(node, unit, mask)
    while table[s, 0] >= 0:
        if table[s, 0] == node and table[s, 1] == unit:
            return table[s, 2]
        s = (s + 1) & mask
    return -1


@njit(cache=True)
def new_scratch(n_max, max_len, m_cap=-1):
    """Work arrays for pieces of up to n_max units and m_cap matches (lbpe_piece grows past that)."""
    if m_cap < 0:
        m_cap = min(n_max * max(min(max_len, n_max) - 1, 1), 1 << 20)
    small = max_len + 2
    return (np.zeros(small, np.int64), np.zeros(small, np.int64),
            np.zeros(n_max, np.bool_), np.zeros(n_max, np.int64), np.zeros(n_max, np.int64),
            np.zeros(m_cap, np.int64), np.zeros(m_cap, np.int64), np.zeros(m_cap, np.int64),
            np.zeros(m_cap, np.int64), np.zeros(m_cap, np.int64))


@njit(cache=True)
def lbpe_piece(units, a, n, table, node_token, node_rank, max_len, rank_ties, out, pos, scratch):
    """Encode units[a:a+n] longest-first into out[pos:]; returns the number of ids written."""
    top = min(max_len, n)
    per_len, fill, covered, tok_at, len_at, t_start, t_len, t_node, m_start, m_node = scratch
    if n > covered.shape[0]:
        per_len, fill, covered, tok_at, len_at, t_start, t_len, t_node, m_start, m_node = new_scratch(n, max_len)
    per_len[:top + 2] = 0
    total = 0
    for i in range(n):                                   # every (start, length) match, by start
        node = 0
        for L in range(1, min(top, n - i) + 1):
            node = _child(table, node, units[a + i + L - 1])
            if node < 0:
                break
            if L >= 2 and node_token[node] >= 0:
                if total == t_start.shape[0]:            # grow (very long pieces only)
                    grown = new_scratch(1, max_len, 2 * total)
                    grown[5][:total] = t_start[:total]
                    grown[6][:total] = t_len[:total]
                    grown[7][:total] = t_node[:total]
                    t_start, t_len, t_node, m_start, m_node = grown[5], grown[6], grown[7], grown[8], grown[9]
                t_start[total] = i
                t_len[total] = L
                t_node[total] = node
                total += 1
                per_len[L] += 1
    fill[top + 1] = 0                                    # bucket L starts after all longer buckets
    fill[top] = 0
    for L in range(top - 1, 1, -1):
        fill[L] = fill[L + 1] + per_len[L + 1]
    for k in range(total):                               # stable counting sort: starts stay increasing
        L = t_len[k]
        m_start[fill[L]] = t_start[k]
        m_node[fill[L]] = t_node[k]
        fill[L] += 1
    covered[:n] = False
    tok_at[:n] = -1
    hi = 0
    for L in range(top, 1, -1):                          # covering pass, longest bucket first
        lo = hi
        hi = lo + per_len[L]
        if hi == lo:
            continue
        order = np.empty(0, np.int64)
        if rank_ties:
            keys = node_rank[m_node[lo:hi]] * np.int64(n + 1) + m_start[lo:hi]
            order = lo + np.argsort(keys, kind="mergesort")
        for r in range(hi - lo):
            k = order[r] if rank_ties else lo + r
            i = m_start[k]
            free = True
            for j in range(i, i + L):
                if covered[j]:
                    free = False
                    break
            if free:
                for j in range(i, i + L):
                    covered[j] = True
                tok_at[i] = node_token[m_node[k]]
                len_at[i] = L
    m = 0
    i = 0
    while i < n:
        if tok_at[i] >= 0:
            out[pos + m] = tok_at[i]
            i += len_at[i]
        else:
            out[pos + m] = units[a + i]
            i += 1
        m += 1
    return m


@njit(cache=True)
def _lbpe_range(units, offsets, lo, hi, table, node_token, node_rank, max_len, rank_ties, cache,
                out, out_pos, out_len):
    """Encode pieces lo..hi-1 contiguously from out[out_pos] (rank.py's driver, for LBPE)."""
    n_max = 1
    for i in range(lo, hi):
        n_max = max(n_max, min(offsets[i + 1] - offsets[i], 4096))
    scratch = new_scratch(n_max, max_len)
    for i in range(lo, hi):
        a = offsets[i]
        n = offsets[i + 1] - a
        if n <= 1:
            if n == 1:
                out[out_pos] = units[a]
                out_pos += 1
            out_len[i] = n
            continue
        piece = units[a:a + n]
        got = piece_lookup(cache, piece, out, out_pos, CACHE_MAX_UNITS)
        if got < 0:
            got = lbpe_piece(units, a, n, table, node_token, node_rank, max_len, rank_ties, out, out_pos, scratch)
            piece_store(cache, piece, out, out_pos, got, CACHE_MAX_UNITS)
        out_len[i] = got
        out_pos += got
    return out_pos


@njit(cache=True, parallel=True)
def _lbpe_chunks(units, offsets, bounds, table, node_token, node_rank, max_len, rank_ties, bank,
                 out, out_len):
    base = offsets[0]
    for c in prange(bounds.shape[0] - 1):
        lo = bounds[c]
        hi = bounds[c + 1]
        _lbpe_range(units, offsets, lo, hi, table, node_token, node_rank, max_len, rank_ties,
                    cache_view(bank, c), out, offsets[lo] - base, out_len)


class LBPEEncoder:
    """Longest-first encoding over a set of tokens given as unit sequences.

    token_units: {internal id: 1-D int64 unit-id array}; tokens of one unit are ignored (units are
    emitted as themselves). rank: {internal id: BPE rank} for `ties="rank"` (missing: last)."""

    def __init__(self, token_units, n_tokens, ties="leftmost", rank=None,
                 cache_slots=DEFAULT_CACHE_SLOTS, cache_pool=DEFAULT_CACHE_POOL):
        if ties not in ("leftmost", "rank"):
            raise ValueError(f"lbpe_ties must be 'leftmost' or 'rank', not {ties!r}")
        ids = sorted(t for t, u in token_units.items() if len(u) >= 2)
        seqs = [np.asarray(token_units[t], dtype=np.int64) for t in ids]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in seqs], out=offsets[1:])
        flat = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
        rank = rank or {}
        ranks = np.array([rank.get(t, NO_RANK) for t in ids], dtype=np.int64)
        self.table, self.node_token, self.node_rank = build_trie(flat, offsets, np.array(ids, dtype=np.int64), ranks)
        self.max_len = int(max((len(s) for s in seqs), default=1))
        self.rank_ties = ties == "rank"
        self.n_tokens = int(n_tokens)
        self.cache_slots, self.cache_pool = cache_slots, cache_pool
        self._bank = None

    def _caches(self, n):
        if self._bank is None or self._bank[0].shape[0] < n:
            self._bank = cache_create(n, self.cache_slots, self.cache_pool)
        return self._bank

    def encode_units(self, units, offsets, threads=1):
        """Same contract as RankEncoder.encode_units."""
        units = np.ascontiguousarray(units, dtype=np.int64).ravel()
        offsets = np.ascontiguousarray(offsets, dtype=np.int64).ravel()
        n_pieces = offsets.size - 1
        if n_pieces < 0 or _check_inputs(units, offsets, self.n_tokens) != 0:
            raise ValueError("malformed units/offsets")
        out = np.empty(offsets[-1] - offsets[0], dtype=np.int64)
        out_len = np.zeros(n_pieces, dtype=np.int64)
        if n_pieces == 0:
            return np.zeros(0, np.int64), np.zeros(1, np.int64)
        threads = max(1, int(threads))
        args = (self.table, self.node_token, self.node_rank, self.max_len, self.rank_ties)
        if threads == 1:
            end = _lbpe_range(units, offsets, 0, n_pieces, *args, cache_view(self._caches(1), 0),
                              out, 0, out_len)
            out_offsets = np.zeros(n_pieces + 1, dtype=np.int64)
            np.cumsum(out_len, out=out_offsets[1:])
            return out[:end].copy(), out_offsets
        bounds = plan(offsets, threads)
        with threads_limit(threads):
            _lbpe_chunks(units, offsets, bounds, *args, self._caches(threads), out, out_len)
        return gather(out, offsets, bounds, out_len)
