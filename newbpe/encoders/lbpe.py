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

The trie is the shared one of `_trie.py` (token payload: the BPE rank); `lbpe_piece` is the piece
kernel of the shared driver (`_driver.py`: per-thread piece caches, threads).
"""
import numpy as np
from .._jit import njit

from ._driver import DEFAULT_CACHE_POOL, DEFAULT_CACHE_SLOTS, DrivenEncoder, PieceKernel
from ._trie import ROOT, build_trie, trie_child

# Scratch arrays are sized for pieces of up to this many units; a longer piece gets its own.
SCRATCH_UNITS = 4096


@njit(cache=True)
def _scratch_arrays(n_max, max_len, m_cap=-1):
    """Work arrays for pieces of up to n_max units and m_cap matches (lbpe_piece grows past that)."""
    if m_cap < 0:
        m_cap = min(n_max * max(min(max_len, n_max) - 1, 1), 1 << 20)
    small = max_len + 2
    return (np.zeros(small, np.int64), np.zeros(small, np.int64),
            np.zeros(n_max, np.bool_), np.zeros(n_max, np.int64), np.zeros(n_max, np.int64),
            np.zeros(m_cap, np.int64), np.zeros(m_cap, np.int64), np.zeros(m_cap, np.int64),
            np.zeros(m_cap, np.int64), np.zeros(m_cap, np.int64))


@njit(cache=True)
def lbpe_piece(model, units, a, n, out, pos, scratch):
    """Encode units[a:a+n] longest-first into out[pos:]; returns the number of ids written. (The
    driver's piece kernel; model = the trie's three arrays, longest token in units, rank ties?)"""
    table, node_token, node_rank, max_len, rank_ties = model
    trie = (table, node_token, node_rank)
    top = min(max_len, n)
    if n > scratch[2].shape[0]:                          # longer than SCRATCH_UNITS: its own arrays
        scratch = _scratch_arrays(n, max_len)
    per_len, fill, covered, tok_at, len_at, t_start, t_len, t_node, m_start, m_node = scratch
    per_len[:top + 2] = 0
    total = 0
    for i in range(n):                                   # every (start, length) match, by start
        node = ROOT
        for L in range(1, min(top, n - i) + 1):
            node = trie_child(trie, node, units[a + i + L - 1])
            if node < 0:
                break
            if L >= 2 and node_token[node] >= 0:
                if total == t_start.shape[0]:            # grow (very long pieces only)
                    grown = _scratch_arrays(1, max_len, 2 * total)
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
def _lbpe_scratch(model, n_max):
    return _scratch_arrays(min(n_max, SCRATCH_UNITS), model[3])


class LBPEEncoder(DrivenEncoder):
    """Longest-first encoding over a set of tokens given as unit sequences.

    token_units: {internal id: 1-D int64 unit-id array}; tokens of one unit are ignored (units are
    emitted as themselves). rank: {internal id: BPE rank} for `ties="rank"` (missing: last)."""

    encode_piece = PieceKernel(lbpe_piece)
    new_scratch = PieceKernel(_lbpe_scratch)

    def __init__(self, token_units, n_tokens, ties="leftmost", rank=None,
                 cache_slots=DEFAULT_CACHE_SLOTS, cache_pool=DEFAULT_CACHE_POOL):
        if ties not in ("leftmost", "rank"):
            raise ValueError(f"lbpe_ties must be 'leftmost' or 'rank', not {ties!r}")
        super().__init__(n_tokens, None, cache_slots, cache_pool)
        longer = {t: u for t, u in token_units.items() if len(u) >= 2}
        self.trie = build_trie(longer, rank)
        self.max_len = int(max((len(u) for u in longer.values()), default=1))
        self.rank_ties = ties == "rank"

    def model(self):
        return self.trie + (self.max_len, self.rank_ties)
