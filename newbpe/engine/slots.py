"""Word table navigation and the occurrence indexes of the merge engine (layout: state.py, "Word
table" and "Pair occurrences").

How to find a symbol's predecessor (tail markers) and a slot's word (block index), and how
occurrence indexes are read and rebuilt from the slots (Engine._rebuild_index,
Engine._token_lists_room). These replace per-slot arrays and ever-growing node pools: on a 30 MB
text pre-tokenized with 'none' (one 30M-unit word, 1000 merges) the engine went from 3.95 GB to
~0.43 GB. Imports only state.py: rewrite.py (and through it every loop) builds on it.
"""
import numpy as np
from .._jit import njit

from .state import SEP, FLAG_ATOMIC, M_OCC, M_PAIRS, M_TOCC, M_TOKENS


@njit(cache=True, inline="always")
def _tail(d):
    return -2 - d


@njit(cache=True, inline="always")
def prev_start(sym, s):
    """Start slot of the symbol before the one starting at s, or -1 at a word's first symbol: slot
    s - 1 is that symbol's last slot (its id for a one-unit token, else a tail pointing back)."""
    if s == 0:
        return -1
    v = sym[s - 1]
    if v >= 0:
        return s - 1
    if v == SEP:
        return -1
    return s + 1 + v            # v = -2 - d at the last slot of a token starting at s - 1 - d


@njit(cache=True, inline="always")
def word_of(words, shift, s):
    """The word holding slot s: its block's first word, then a binary search in word_end over the
    few words that start in the block."""
    b = s >> shift
    lo = words.block_word[b]
    hi = words.block_word[b + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if words.word_end[mid] < s:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _pair_slots(pairs, pid):
    """The occurrence slots of pair `pid`, ascending (so each word is rewritten left to right): its
    index segment (ascending already) and the nodes appended since the index was built."""
    n_idx = pairs.pair_idx_n[pid]
    n = n_idx + pairs.pair_occ_n[pid]
    out = np.empty(n, dtype=np.int64)
    lo = pairs.pair_idx_lo[pid]
    for i in range(n_idx):
        out[i] = pairs.idx_slot[lo + i]
    node = pairs.pair_occ_head[pid]
    i = n_idx
    while node >= 0:
        out[i] = pairs.occ_slot[node]
        i += 1
        node = pairs.occ_next[node]
    if n > n_idx:
        out.sort()
    return out


@njit(cache=True)
def index_count(st):
    """Rebuilding the pair occurrence index, phase 1: the live occurrences of every pair into
    pair_idx_n; returns their total (the caller then gives idx_slot that many entries). Slot s is an
    occurrence of pair slot_pair[s] exactly when a symbol starts there (sym[s] >= 0) and has a right
    neighbour (slot_pair[s] >= 0). O(slots + pairs)."""
    words, pairs, meta = st.words, st.pairs, st.meta
    for pid in range(meta[M_PAIRS]):
        pairs.pair_idx_n[pid] = 0
    total = np.int64(0)
    for s in range(len(words.sym)):
        if words.sym[s] >= 0:
            pid = words.slot_pair[s]
            if pid >= 0:
                pairs.pair_idx_n[pid] += 1
                total += 1
    return total


@njit(cache=True)
def index_fill(st):
    """Rebuilding the pair occurrence index, phase 2 (after `index_count`, idx_slot sized): one
    segment per pair id, slots ascending within it; the appended lists are emptied."""
    words, pairs, meta = st.words, st.pairs, st.meta
    lo = np.int64(0)
    for pid in range(meta[M_PAIRS]):
        pairs.pair_idx_lo[pid] = lo
        lo += pairs.pair_idx_n[pid]
        pairs.pair_idx_n[pid] = 0
        pairs.pair_occ_head[pid] = -1
        pairs.pair_occ_n[pid] = 0
    meta[M_OCC] = 0
    for s in range(len(words.sym)):
        if words.sym[s] >= 0:
            pid = words.slot_pair[s]
            if pid >= 0:
                pairs.idx_slot[pairs.pair_idx_lo[pid] + pairs.pair_idx_n[pid]] = s
                pairs.pair_idx_n[pid] += 1


@njit(cache=True)
def compact_token_occurrences(st):
    """Rebuild the per-token occurrence lists (track_tokens) from the word table, dropping stale
    nodes: slot s is an occurrence of token sym[s] when that token is tracked (not atomic). The
    lists are append-only in between, so without this their pool doubled with the merges. Returns
    the number of live nodes."""
    words, tokens, meta = st.words, st.tokens, st.meta
    for t in range(meta[M_TOKENS]):
        tokens.tok_occ_head[t] = -1
    meta[M_TOCC] = 0
    for s in range(len(words.sym)):
        t = words.sym[s]
        if t >= 0 and (tokens.tok_flags[t] & FLAG_ATOMIC) == 0:       # as rewrite._tocc_add
            n = meta[M_TOCC]
            meta[M_TOCC] = n + 1
            tokens.tocc_slot[n] = s
            tokens.tocc_next[n] = tokens.tok_occ_head[t]
            tokens.tok_occ_head[t] = n
    return meta[M_TOCC]
