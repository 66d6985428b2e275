"""Rewriting the word table: occurrence lists, room checks, laying out the words, and the two
rewrites — a merge of every occurrence of a pair, a replacement of every occurrence of a token.

Exactness rules (specs README §3, bpe.md §5): pair counts count overlapping windows weighted by word
count, int64, never negative; a merge rewrites each word left to right, non-overlapping, applying
local deltas per occurrence; every pair whose count rose gets a fresh queue entry (decreases are
found lazily at the head, queue.py). Occurrences are read from the pair's index segment plus its
append-only list (slots.py, `_pair_slots`) and validated on visit; a symbol's predecessor and word
come from tail markers and the block index (slots.prev_start, slots.word_of), not per-slot arrays.

Room: a kernel that adds pairs, nodes, tokens or queue entries first checks `has_room` and, if a pool
is short, returns NO_ROOM / STOP_ROOM without touching anything; `Engine` grows the pools (by
`merge_room` / `replace_room`) and calls again. So no kernel allocates state.
"""
import numpy as np
from .._jit import njit

from .state import (DEAD, SEP, FLAG_ATOMIC, PAIR_MERGED, NO_ROOM, STOP_LENGTH_CONFLICT, M_TOKENS, M_PAIRS,
                    M_OCC, M_TOCC, M_HEAP, M_POOL, M_STAMP, M_TRACK_TOKENS, M_BLOCK_SHIFT)
from .slots import _tail, prev_start, word_of, _pair_slots
from .tables import LEAF, pair_find, _pair_get_or_add, add_token, find_or_add_token
from .queue import push_pair


@njit(**LEAF)
def _occ_add(pairs, meta, pid, slot):
    n = meta[M_OCC]
    meta[M_OCC] = n + 1
    pairs.occ_slot[n] = slot
    pairs.occ_next[n] = pairs.pair_occ_head[pid]
    pairs.pair_occ_head[pid] = n
    pairs.pair_occ_n[pid] += 1


@njit(**LEAF)
def _tocc_add(tokens, meta, t, slot):
    if meta[M_TRACK_TOKENS] != 0 and (tokens.tok_flags[t] & FLAG_ATOMIC) == 0:
        n = meta[M_TOCC]
        meta[M_TOCC] = n + 1
        tokens.tocc_slot[n] = slot
        tokens.tocc_next[n] = tokens.tok_occ_head[t]
        tokens.tok_occ_head[t] = n


@njit(cache=True)
def _list_len(head, nxt):
    n = 0
    node = head
    while node >= 0:
        n += 1
        node = nxt[node]
    return n


@njit(cache=True)
def _sorted_list(head, slot, nxt, n=-1):
    """The slots of one occurrence list, ascending (so each word is rewritten left to right).
    n: the list's length when known (pair lists keep it in `pair_occ_n`), else it is walked."""
    out = np.empty(_list_len(head, nxt) if n < 0 else n, dtype=np.int64)
    node = head
    i = 0
    while node >= 0:
        out[i] = slot[node]
        i += 1
        node = nxt[node]
    out.sort()
    return out


@njit(cache=True)
def pair_occ_len(st, pid):
    """Occurrence entries of pair `pid` (index segment + appended nodes, stale ones included)."""
    return st.pairs.pair_idx_n[pid] + st.pairs.pair_occ_n[pid]


@njit(cache=True)
def token_occ_len(st, t):
    return _list_len(st.tokens.tok_occ_head[t], st.tokens.tocc_next)


@njit(cache=True)
def has_room(st, n_pairs, n_occ, n_tocc, n_heap, n_tokens, n_bytes):
    """True if the pools can take that many more entries (pair table kept at most half full)."""
    p = st.meta[M_PAIRS] + n_pairs
    if p > len(st.pairs.pair_left) or 2 * p > len(st.pairs.ptab):
        return False
    if st.meta[M_OCC] + n_occ > len(st.pairs.occ_slot):
        return False
    if st.meta[M_TOCC] + n_tocc > len(st.tokens.tocc_slot):
        return False
    if st.meta[M_HEAP] + n_heap > len(st.heap.heap_count):
        return False
    t = st.meta[M_TOKENS] + n_tokens
    if t > len(st.tokens.tok_len) or 2 * t > len(st.tokens.strtab):
        return False
    if st.meta[M_POOL] + n_bytes > len(st.tokens.pool):
        return False
    return True


@njit(cache=True)
def merge_room(st, pid):
    """Room a merge of pair `pid` may need: (pairs, occ, tocc, heap, tokens, bytes)."""
    n = pair_occ_len(st, pid)
    nb = st.tokens.tok_blen[st.pairs.pair_left[pid]] + st.tokens.tok_blen[st.pairs.pair_right[pid]]
    # new pairs and queue entries are (x, new) or (new, y): at most 2 per token id, however many
    # occurrences (asking 2 per occurrence grew the pair table to 8M rows on a 30M-unit word)
    k = min(2 * n, 2 * st.meta[M_TOKENS] + 2) + 2
    return k, 2 * n, n if st.meta[M_TRACK_TOKENS] != 0 else 0, k, 1, nb


@njit(cache=True)
def replace_room(st, t, k):
    n = token_occ_len(st, t)
    return (k + 1) * n + 2, (k + 1) * n, k * n, (k + 1) * n + 2, 0, 0


# ----------------------------------------------------------------------------------------------
# building


@njit(cache=True)
def build_words(st, units, unit_map, offsets, counts, first_word, first_unit, first_slot, step):
    """Lay out the words from unit `first_unit` of word `first_word` on, at slot `first_slot`: count
    token frequencies and all overlapping pairs (Engine.build then indexes their occurrences,
    Engine._rebuild_index). Word w's base units are units[offsets[w]:offsets[w+1]], mapped through
    `unit_map` when it is not empty (byte mode passes the counted bytes themselves, no int array of
    ids). A unit u takes tok_len[u] slots (u, DEAD…, its tail marker). Returns (next word, next unit,
    next slot), the word len(counts) when done. Room is checked for at most `step` units at a time,
    so a word longer than that (a whole text pre-tokenized with 'none') is laid out in several calls:
    the pools then follow the distinct pairs actually met, not the word's length (asking room for a
    30M-unit word at once made the pair table 3.2 GB for a few thousand pairs). Stops early when the
    pair pools are full so that Engine can grow them. word_end and block_word are set by Engine.build."""
    words, tokens, pairs, meta = st.words, st.tokens, st.pairs, st.meta
    n_words = len(counts)
    mapped = len(unit_map) > 0
    j = first_unit
    s = first_slot
    for w in range(first_word, n_words):
        end = offsets[w + 1]
        c = counts[w]
        if j < offsets[w]:
            j = offsets[w]
        p = prev_start(words.sym, s)    # start slot of the previous unit (-1 at the word's start)
        while j < end:
            n = min(end - j, step)
            if not has_room(st, n, 0, 0, 0, 0, 0):
                return w, j, s
            for jj in range(j, j + n):
                u = np.int32(unit_map[units[jj]]) if mapped else np.int32(units[jj])
                words.sym[s] = u
                tokens.tok_freq[u] += c
                words.slot_pair[s] = -1
                if p >= 0:
                    pid = _pair_get_or_add(pairs, meta, np.int64(words.sym[p]), np.int64(u))
                    pairs.pair_count[pid] += c
                    words.slot_pair[p] = pid
                p = s
                s += 1
                length = tokens.tok_len[u]
                if length > 1:                   # the other slots of a longer base unit
                    for _ in range(length - 2):
                        words.sym[s] = DEAD
                        words.slot_pair[s] = -1
                        s += 1
                    words.sym[s] = _tail(length - 1)
                    words.slot_pair[s] = -1
                    s += 1
            j += n
        words.sym[s] = SEP
        words.slot_pair[s] = -1
        s += 1
    return n_words, j, s


# ----------------------------------------------------------------------------------------------
# merge and replace


@njit(**LEAF)
def _inc(pairs, words, meta, a, b, c, slot, touched, n_touched, stamp):
    """Add c to pair (a, b) occurring at `slot`; record it as the slot's pair. Returns n_touched."""
    pid = _pair_get_or_add(pairs, meta, a, b)
    pairs.pair_count[pid] += c
    words.slot_pair[slot] = pid
    _occ_add(pairs, meta, pid, slot)
    if pairs.pair_stamp[pid] != stamp:
        pairs.pair_stamp[pid] = stamp
        touched[n_touched] = pid
        n_touched += 1
    return n_touched


@njit(cache=True)
def merge_rewrite(words, tokens, pairs, meta, pid, new, slots, touched):
    """Rewrite every occurrence of pair `pid` (left to right, non-overlapping, per word) into token
    `new`: the core of a merge, shared by `merge_pair` and the partitioned loop (`run_bpe_parts`).
    `slots` are the pair's occurrence slots, ascending (`slots._pair_slots`); the ids of the pairs whose
    count increased are written to `touched` (capacity >= min(2 * len(slots), 2 * tokens) + 2), each once (marked
    with this merge's `pair_stamp`), and not queued. Returns (F, n_touched) with F the number of
    merges applied weighted by word count. Caller ensured room. Removed pairs are found through
    `slot_pair` (no hash lookup); new pairs go through `_inc`."""
    a = pairs.pair_left[pid]
    b = pairs.pair_right[pid]
    la = tokens.tok_len[a]
    lb = tokens.tok_len[b]
    pairs.pair_occ_head[pid] = -1
    pairs.pair_occ_n[pid] = 0
    pairs.pair_idx_n[pid] = 0
    meta[M_STAMP] += 1
    stamp = meta[M_STAMP]
    shift = meta[M_BLOCK_SHIFT]
    n_touched = 0
    merged = np.int64(0)
    last = -1
    for s in slots:
        if s == last:
            continue
        last = s
        if words.sym[s] != a:
            continue
        q = s + la
        if words.sym[q] != b:
            continue
        c = words.word_count[word_of(words, shift, s)]
        p = prev_start(words.sym, s)
        if p >= 0:
            pairs.pair_count[words.slot_pair[p]] -= c                      # (x, a)
            n_touched = _inc(pairs, words, meta, np.int64(words.sym[p]), np.int64(new), c, p, touched, n_touched, stamp)
        r = q + lb
        nx = words.sym[r]
        if nx >= 0:
            pairs.pair_count[words.slot_pair[q]] -= c                      # (b, nx)
            n_touched = _inc(pairs, words, meta, np.int64(new), np.int64(nx), c, s, touched, n_touched, stamp)
        else:
            words.slot_pair[s] = -1
        pairs.pair_count[pid] -= c
        words.sym[s] = new
        words.sym[q] = DEAD
        words.sym[r - 1] = _tail(r - 1 - s)                                # may be q itself
        _tocc_add(tokens, meta, new, s)
        merged += c
    pairs.pair_flags[pid] |= PAIR_MERGED
    tokens.tok_freq[new] += merged
    tokens.tok_freq[a] -= merged
    tokens.tok_freq[b] -= merged
    return merged, n_touched


@njit(cache=True)
def merge_pair(st, pid, new):
    """Merge pair `pid` into token `new` (`merge_rewrite`) and queue every pair whose count
    increased. Returns F. Caller ensured room."""
    pairs = st.pairs
    slots = _pair_slots(pairs, pid)
    # each touched pair is (x, new) or (new, y), listed once: at most 2 per token id
    touched = np.empty(min(2 * len(slots), 2 * st.meta[M_TOKENS]) + 2, dtype=np.int64)
    merged, n_touched = merge_rewrite(st.words, st.tokens, pairs, st.meta, pid, new, slots, touched)
    for i in range(n_touched):
        push_pair(pairs, st.heap, st.meta, touched[i])
    return merged


@njit(cache=True)
def replace_token(st, x, pieces):
    """Replace every standalone occurrence of token `x` by `pieces` (whose bytes concatenate to
    x's), with exact pair and frequency updates. Returns the weighted number of occurrences."""
    words, tokens, pairs, meta = st.words, st.tokens, st.pairs, st.meta
    slots = _sorted_list(tokens.tok_occ_head[x], tokens.tocc_slot, tokens.tocc_next)
    n = len(slots)
    tokens.tok_occ_head[x] = -1
    k = len(pieces)
    meta[M_STAMP] += 1
    stamp = meta[M_STAMP]
    # touched pairs, each listed once: (prev, pieces[0]), the k-1 inner pairs, (pieces[-1], next)
    touched = np.empty(min((k + 1) * n, 2 * meta[M_TOKENS] + k) + 2, dtype=np.int64)
    shift = meta[M_BLOCK_SHIFT]
    n_touched = 0
    lx = tokens.tok_len[x]
    total = np.int64(0)
    last = -1
    for s in slots:
        if s == last:
            continue
        last = s
        if words.sym[s] != x:
            continue
        c = words.word_count[word_of(words, shift, s)]
        p = prev_start(words.sym, s)
        r = s + lx
        nx = words.sym[r]
        if p >= 0:
            pairs.pair_count[words.slot_pair[p]] -= c                      # (prev, x)
            n_touched = _inc(pairs, words, meta, np.int64(words.sym[p]), np.int64(pieces[0]), c, p, touched, n_touched, stamp)
        if nx >= 0:
            pairs.pair_count[words.slot_pair[s]] -= c                      # (x, next)
        pos = s
        prev_pos = p
        for j in range(k):
            t = pieces[j]
            words.sym[pos] = t
            if tokens.tok_len[t] > 1:
                words.sym[pos + tokens.tok_len[t] - 1] = _tail(tokens.tok_len[t] - 1)
            _tocc_add(tokens, meta, t, pos)
            if j > 0:
                n_touched = _inc(pairs, words, meta, np.int64(pieces[j - 1]), np.int64(t), c, prev_pos, touched, n_touched, stamp)
            prev_pos = pos
            pos += tokens.tok_len[t]
        words.slot_pair[prev_pos] = -1
        if nx >= 0:
            n_touched = _inc(pairs, words, meta, np.int64(pieces[k - 1]), np.int64(nx), c, prev_pos, touched, n_touched, stamp)
        total += c
    for i in range(n_touched):
        push_pair(pairs, st.heap, meta, touched[i])
    tokens.tok_freq[x] -= total
    for j in range(k):
        tokens.tok_freq[pieces[j]] += total
    return total


@njit(cache=True)
def merge_step(st, a, b, new):
    """One merge of (a, b) as a single call from Python (each call unboxes the whole state, ~25 µs):
    find the pair, check room, find or create the output (`new` < 0: by its bytes; else that id),
    rewrite. Returns (status, new, merged, created) with status NO_ROOM when pools must grow first,
    STOP_LENGTH_CONFLICT when the output exists with another length (tables.py); both touch nothing."""
    pid = pair_find(st.pairs, a, b)
    if pid >= 0:
        r0, r1, r2, r3, r4, r5 = merge_room(st, pid)
    else:
        r0, r1, r2, r3, r4, r5 = 0, 0, 0, 0, 1, st.tokens.tok_blen[a] + st.tokens.tok_blen[b]
    if not has_room(st, r0, r1, r2, r3, r4, r5):
        return NO_ROOM, np.int64(-1), np.int64(0), False
    created = False
    if new < 0:
        new, created = find_or_add_token(st, a, b)
        if new < 0:
            return STOP_LENGTH_CONFLICT, np.int64(-1), np.int64(0), False
    elif new >= st.meta[M_TOKENS]:
        add_token(st, a, b)
        created = True
    elif st.tokens.tok_len[new] != st.tokens.tok_len[a] + st.tokens.tok_len[b]:
        return STOP_LENGTH_CONFLICT, np.int64(-1), np.int64(0), False
    merged = merge_pair(st, pid, new) if pid >= 0 else np.int64(0)
    return 0, np.int64(new), merged, created


@njit(cache=True)
def segmentation(st):
    """Current segmentation: (tokens, offsets) with word w = tokens[offsets[w]:offsets[w+1]]."""
    n_words = len(st.words.word_count)
    offsets = np.zeros(n_words + 1, dtype=np.int64)
    n = 0
    for s in range(len(st.words.sym)):
        if st.words.sym[s] >= 0:
            n += 1
    tokens = np.empty(n, dtype=np.int64)
    i = 0
    w = 0
    for s in range(len(st.words.sym)):
        v = st.words.sym[s]
        if v >= 0:
            tokens[i] = v
            i += 1
        elif v == SEP:
            w += 1
            offsets[w] = i
    return tokens, offsets
