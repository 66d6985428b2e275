"""The queue: a lazy max-heap of pair items (and Scaffold's token items), and pair eligibility.

Order: count descending, then the smallest key; a pair's key is ``left << 32 | right``, so ties go
to the smallest (left, right) on ids (HF's rule, specs README §4). The heap is lazy: a count that
drops leaves a stale entry, found and re-queued with its live count (or dropped) when it reaches the
head (`queue_head`); every count that rises pushes a fresh entry. Eligibility — the veto (max token
length, max words, forbidden substrings) and "a pair is merged at most once" — is decided at the
head, once per pair (`pair_allowed`; a vetoed pair is flagged and never queued again).

The heap helpers take the three heap arrays, not the state: passing a namedtuple of arrays into a
reference-counted call costs ~100 ns (see tables.LEAF).
"""
import numpy as np
from .._jit import njit

from .state import (FLAG_ATOMIC, FLAG_SCAFFOLD, PAIR_VETOED, PAIR_MERGED, PAIR_QUEUED, TOKEN_KEY_BASE, M_PAIRS, M_HEAP,
                    M_ALLOW_REMERGE, M_TOKEN_LAST, V_MAX_LEN, V_LEN_MODE, V_MAX_WORDS)
from .tables import LEAF, _pair_key

TOKEN_KEY_LAST = np.int64(2**63 - 1 - 2**31)   # token keys above every pair key


@njit(cache=True, inline="always")
def _above(c1, k1, c2, k2):
    return c1 > c2 or (c1 == c2 and k1 < k2)


@njit(cache=True, inline="always")
def _heap_swap(hc, hk, hi, i, j):
    c = hc[i]
    k = hk[i]
    it = hi[i]
    hc[i] = hc[j]
    hk[i] = hk[j]
    hi[i] = hi[j]
    hc[j] = c
    hk[j] = k
    hi[j] = it


@njit(**LEAF)
def _sift_down(hc, hk, hi, i, n):
    while True:
        l = 2 * i + 1
        if l >= n:
            return
        best = l
        r = l + 1
        if r < n and _above(hc[r], hk[r], hc[l], hk[l]):
            best = r
        if _above(hc[best], hk[best], hc[i], hk[i]):
            _heap_swap(hc, hk, hi, i, best)
            i = best
        else:
            return


@njit(**LEAF)
def _heap_insert(hc, hk, hi, n, count, key, item):
    """Put an entry at position n (the heap's size) and sift it up. Heap helpers take only the
    three heap arrays: a call that passes the whole state costs ~100 ns of reference counting."""
    hc[n] = count
    hk[n] = key
    hi[n] = item
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if _above(hc[i], hk[i], hc[p], hk[p]):
            _heap_swap(hc, hk, hi, i, p)
            i = p
        else:
            break


@njit(**LEAF)
def heap_push(heap, meta, count, key, item):
    n = meta[M_HEAP]
    meta[M_HEAP] = n + 1
    _heap_insert(heap.heap_count, heap.heap_key, heap.heap_item, n, count, key, item)


@njit(**LEAF)
def _heap_pop(heap, meta):
    n = meta[M_HEAP] - 1
    meta[M_HEAP] = n
    if n > 0:
        _heap_swap(heap.heap_count, heap.heap_key, heap.heap_item, 0, n)
        _sift_down(heap.heap_count, heap.heap_key, heap.heap_item, 0, n)


@njit(**LEAF)
def push_pair(pairs, heap, meta, pid):
    if pairs.pair_count[pid] > 0 and (pairs.pair_flags[pid] & PAIR_VETOED) == 0:
        pairs.pair_flags[pid] |= PAIR_QUEUED
        heap_push(heap, meta, pairs.pair_count[pid], _pair_key(pairs.pair_left[pid], pairs.pair_right[pid]), np.int64(pid))


@njit(**LEAF)
def push_token(tokens, heap, meta, t):
    """Queue a token item (Scaffold-BPE): valid while the token is scaffold with this frequency.
    Its key sorts before every pair key at equal count (ids < 2**31 keep pair keys below 2**63 -
    2**32), or after all of them with M_TOKEN_LAST; among token items, the smaller id first."""
    if tokens.tok_freq[t] > 0:
        if meta[M_TOKEN_LAST] != 0:
            key = TOKEN_KEY_LAST + np.int64(t)
        else:
            key = np.int64(t) - TOKEN_KEY_BASE
        heap_push(heap, meta, tokens.tok_freq[t], key, -1 - np.int64(t))


@njit(cache=True)
def heapify_all_pairs(st):
    """Queue every pair with a positive count (build time), in O(n)."""
    n = 0
    for pid in range(st.meta[M_PAIRS]):
        if st.pairs.pair_count[pid] > 0:
            st.heap.heap_count[n] = st.pairs.pair_count[pid]
            st.heap.heap_key[n] = _pair_key(st.pairs.pair_left[pid], st.pairs.pair_right[pid])
            st.heap.heap_item[n] = pid
            st.pairs.pair_flags[pid] |= PAIR_QUEUED
            n += 1
    st.meta[M_HEAP] = n
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(st.heap.heap_count, st.heap.heap_key, st.heap.heap_item, i, n)


@njit(**LEAF)
def pair_allowed(st, a, b):
    """The veto: max token length (exact or HF semantics), max words, forbidden substrings."""
    max_len = st.veto[V_MAX_LEN]
    if max_len > 0:
        total = st.tokens.tok_len[a] + st.tokens.tok_len[b]
        if st.veto[V_LEN_MODE] == 1:
            if total > max_len:
                return False
        else:
            both_atomic = (st.tokens.tok_flags[a] & FLAG_ATOMIC) != 0 and (st.tokens.tok_flags[b] & FLAG_ATOMIC) != 0
            if not both_atomic and total >= max_len:
                return False
    max_words = st.veto[V_MAX_WORDS]
    n_forbidden = len(st.veto_offsets) - 1
    if max_words == 0 and n_forbidden <= 0:
        return True
    la = st.tokens.tok_blen[a]
    n = la + st.tokens.tok_blen[b]
    oa = st.tokens.tok_boff[a]
    ob = st.tokens.tok_boff[b] - la
    if max_words > 0:
        words = 0
        in_word = False
        for i in range(n):
            c = st.tokens.pool[oa + i] if i < la else st.tokens.pool[ob + i]
            if c == 0x20:
                in_word = False
            elif not in_word:
                in_word = True
                words += 1
        if words > max_words:
            return False
    for f in range(n_forbidden):
        fs = st.veto_offsets[f]
        fl = st.veto_offsets[f + 1] - fs
        for start in range(n - fl + 1):
            ok = True
            for j in range(fl):
                i = start + j
                c = st.tokens.pool[oa + i] if i < la else st.tokens.pool[ob + i]
                if c != st.veto_bytes[fs + j]:
                    ok = False
                    break
            if ok:
                return False
    return True


@njit(cache=True)
def queue_head(st, pop):
    """The valid head of the queue as (kind, count, ident): kind 0 = empty, 1 = pair (ident = pair
    id), 2 = token item (ident = token id). Stale entries met on the way are re-queued with their
    live count or dropped; vetoed pairs are dropped for good. With pop=True the head is removed."""
    allow_remerge = st.meta[M_ALLOW_REMERGE] != 0
    while st.meta[M_HEAP] > 0:
        cnt = st.heap.heap_count[0]
        item = st.heap.heap_item[0]
        if item >= 0:
            pid = item
            flags = st.pairs.pair_flags[pid]
            live = st.pairs.pair_count[pid]
            if (flags & PAIR_VETOED) != 0 or ((flags & PAIR_MERGED) != 0 and not allow_remerge) or live <= 0:
                _heap_pop(st.heap, st.meta)
                continue
            if live != cnt:
                _heap_pop(st.heap, st.meta)
                heap_push(st.heap, st.meta, live, _pair_key(st.pairs.pair_left[pid], st.pairs.pair_right[pid]), np.int64(pid))
                continue
            if not pair_allowed(st, st.pairs.pair_left[pid], st.pairs.pair_right[pid]):
                st.pairs.pair_flags[pid] |= PAIR_VETOED
                _heap_pop(st.heap, st.meta)
                continue
            if pop:
                _heap_pop(st.heap, st.meta)
            return 1, cnt, pid
        t = -1 - item
        live = st.tokens.tok_freq[t]
        if (st.tokens.tok_flags[t] & FLAG_SCAFFOLD) == 0 or live <= 0:
            _heap_pop(st.heap, st.meta)
            continue
        if live != cnt:
            _heap_pop(st.heap, st.meta)
            push_token(st.tokens, st.heap, st.meta, t)
            continue
        if pop:
            _heap_pop(st.heap, st.meta)
        return 2, cnt, t
    return 0, np.int64(0), np.int64(-1)


@njit(cache=True)
def best_pair_count(st):
    """The count of the best eligible pair by a full scan, ignoring the queue (debug checks)."""
    allow_remerge = st.meta[M_ALLOW_REMERGE] != 0
    best = np.int64(0)
    for pid in range(st.meta[M_PAIRS]):
        c = st.pairs.pair_count[pid]
        flags = st.pairs.pair_flags[pid]
        if c <= best or (flags & PAIR_VETOED) != 0 or ((flags & PAIR_MERGED) != 0 and not allow_remerge):
            continue
        if pair_allowed(st, st.pairs.pair_left[pid], st.pairs.pair_right[pid]):
            best = c
    return best
