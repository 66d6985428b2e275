"""Numba kernels of the merge engine: the only code that indexes the state arrays (see state.py).

Every kernel is `@njit(cache=True)` and works on an `EngineState`. Kernels that add pairs, nodes,
tokens or queue entries first check that the pools have room and, if not, return a negative code
without touching anything; `Engine` grows the pools and calls again. So no kernel allocates state.

Exactness rules (specs README §3, bpe.md §5):
- pair counts count overlapping windows, weighted by word count, int64, never negative;
- a merge rewrites each word left to right, non-overlapping, applying local deltas per occurrence;
- every pair whose count increased gets a fresh queue entry; decreases are found lazily on pop.
"""
import numpy as np
from numba import njit

from .state import (DEAD, SEP, FLAG_ATOMIC, FLAG_SCAFFOLD, PAIR_VETOED, PAIR_MERGED, TOKEN_KEY_BASE,
                    M_TOKENS, M_PAIRS, M_OCC, M_TOCC, M_HEAP, M_POOL, M_STAMP, M_ALLOW_REMERGE,
                    M_TRACK_TOKENS, V_MAX_LEN, V_LEN_MODE, V_MAX_WORDS)

NO_ROOM = -1          # returned (as a status) when a pool must grow first

# ----------------------------------------------------------------------------------------------
# hashing


@njit(cache=True, inline="always")
def _mix64(key):
    """splitmix64 finalizer on a non-negative int64 key; returns an int64 hash (top bit cleared)."""
    x = np.uint64(key)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return np.int64(x >> np.uint64(1))


@njit(cache=True, inline="always")
def _pair_key(a, b):
    return (np.int64(a) << np.int64(32)) | np.int64(b)


@njit(cache=True)
def pair_find(st, a, b):
    """Pair id of (a, b), or -1."""
    mask = len(st.ptab) - 1
    key = _pair_key(a, b)
    i = _mix64(key) & mask
    while True:
        k = st.ptab[i, 0]
        if k == key:
            return st.ptab[i, 1]
        if k < 0:
            return -1
        i = (i + 1) & mask


@njit(cache=True)
def _pair_get_or_add(st, a, b):
    mask = len(st.ptab) - 1
    key = _pair_key(a, b)
    i = _mix64(key) & mask
    while True:
        k = st.ptab[i, 0]
        if k == key:
            return st.ptab[i, 1]
        if k < 0:
            pid = st.meta[M_PAIRS]
            st.meta[M_PAIRS] = pid + 1
            st.ptab[i, 0] = key
            st.ptab[i, 1] = pid
            st.pair_left[pid] = a
            st.pair_right[pid] = b
            st.pair_count[pid] = 0
            st.pair_flags[pid] = 0
            st.pair_occ_head[pid] = -1
            st.pair_stamp[pid] = 0
            return pid
        i = (i + 1) & mask


@njit(cache=True)
def rehash_pairs(st):
    """Rebuild `ptab` (after Engine gave it a new, larger, all -1 array)."""
    mask = len(st.ptab) - 1
    for pid in range(st.meta[M_PAIRS]):
        key = _pair_key(st.pair_left[pid], st.pair_right[pid])
        i = _mix64(key) & mask
        while st.ptab[i, 0] >= 0:
            i = (i + 1) & mask
        st.ptab[i, 0] = key
        st.ptab[i, 1] = pid


@njit(cache=True, inline="always")
def _fnv_step(h, byte):
    return (h ^ np.uint64(byte)) * np.uint64(0x100000001B3)


@njit(cache=True)
def _token_hash(st, t):
    h = np.uint64(0xCBF29CE484222325)
    off = st.tok_boff[t]
    for i in range(st.tok_blen[t]):
        h = _fnv_step(h, st.pool[off + i])
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def _concat_hash(st, a, b):
    h = np.uint64(0xCBF29CE484222325)
    for t in (a, b):
        off = st.tok_boff[t]
        for i in range(st.tok_blen[t]):
            h = _fnv_step(h, st.pool[off + i])
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def _token_equals_concat(st, t, a, b):
    la = st.tok_blen[a]
    lb = st.tok_blen[b]
    if st.tok_blen[t] != la + lb:
        return False
    ot = st.tok_boff[t]
    oa = st.tok_boff[a]
    ob = st.tok_boff[b]
    for i in range(la):
        if st.pool[ot + i] != st.pool[oa + i]:
            return False
    for i in range(lb):
        if st.pool[ot + la + i] != st.pool[ob + i]:
            return False
    return True


@njit(cache=True)
def _strtab_insert(st, t):
    mask = len(st.strtab) - 1
    i = _token_hash(st, t) & mask
    while st.strtab[i] >= 0:
        i = (i + 1) & mask
    st.strtab[i] = t


@njit(cache=True)
def rehash_strings(st):
    """Rebuild `strtab` (after Engine gave it a new, larger, all -1 array). Lower ids win lookups
    because they are inserted first and lookups take the first equal entry."""
    for t in range(st.meta[M_TOKENS]):
        _strtab_insert(st, t)


@njit(cache=True)
def find_concat(st, a, b):
    """Id of the token whose bytes are bytes(a) + bytes(b), or -1 (duplicate-string detection)."""
    mask = len(st.strtab) - 1
    i = _concat_hash(st, a, b) & mask
    while True:
        t = st.strtab[i]
        if t < 0:
            return -1
        if _token_equals_concat(st, t, a, b):
            return t
        i = (i + 1) & mask


@njit(cache=True)
def add_token(st, a, b):
    """Create the token a+b (parents a, b). Caller checked room (1 token, len bytes)."""
    t = st.meta[M_TOKENS]
    st.meta[M_TOKENS] = t + 1
    off = st.meta[M_POOL]
    la = st.tok_blen[a]
    lb = st.tok_blen[b]
    for i in range(la):
        st.pool[off + i] = st.pool[st.tok_boff[a] + i]
    for i in range(lb):
        st.pool[off + la + i] = st.pool[st.tok_boff[b] + i]
    st.meta[M_POOL] = off + la + lb
    st.tok_boff[t] = off
    st.tok_blen[t] = la + lb
    st.tok_len[t] = st.tok_len[a] + st.tok_len[b]
    st.tok_left[t] = a
    st.tok_right[t] = b
    st.tok_freq[t] = 0
    st.tok_flags[t] = 0
    st.tok_occ_head[t] = -1
    _strtab_insert(st, t)
    return t


@njit(cache=True)
def add_base_token(st, data, flags):
    """Append an atomic token with the given bytes (build time)."""
    t = st.meta[M_TOKENS]
    st.meta[M_TOKENS] = t + 1
    off = st.meta[M_POOL]
    for i in range(len(data)):
        st.pool[off + i] = data[i]
    st.meta[M_POOL] = off + len(data)
    st.tok_boff[t] = off
    st.tok_blen[t] = len(data)
    st.tok_len[t] = 1
    st.tok_left[t] = -1
    st.tok_right[t] = -1
    st.tok_freq[t] = 0
    st.tok_flags[t] = flags
    st.tok_occ_head[t] = -1
    _strtab_insert(st, t)
    return t


# ----------------------------------------------------------------------------------------------
# the queue: a lazy max-heap on (count desc, key asc)


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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
def heap_push(st, count, key, item):
    n = st.meta[M_HEAP]
    st.meta[M_HEAP] = n + 1
    _heap_insert(st.heap_count, st.heap_key, st.heap_item, n, count, key, item)


@njit(cache=True)
def _heap_pop(st):
    n = st.meta[M_HEAP] - 1
    st.meta[M_HEAP] = n
    if n > 0:
        _heap_swap(st.heap_count, st.heap_key, st.heap_item, 0, n)
        _sift_down(st.heap_count, st.heap_key, st.heap_item, 0, n)


@njit(cache=True)
def push_pair(st, pid):
    if st.pair_count[pid] > 0 and (st.pair_flags[pid] & PAIR_VETOED) == 0:
        heap_push(st, st.pair_count[pid], _pair_key(st.pair_left[pid], st.pair_right[pid]), pid)


@njit(cache=True)
def push_token(st, t):
    """Queue a token item (Scaffold-BPE): valid while the token is scaffold with this frequency."""
    if st.tok_freq[t] > 0:
        heap_push(st, st.tok_freq[t], np.int64(t) - TOKEN_KEY_BASE, -1 - np.int64(t))


@njit(cache=True)
def heapify_all_pairs(st):
    """Queue every pair with a positive count (build time), in O(n)."""
    n = 0
    for pid in range(st.meta[M_PAIRS]):
        if st.pair_count[pid] > 0:
            st.heap_count[n] = st.pair_count[pid]
            st.heap_key[n] = _pair_key(st.pair_left[pid], st.pair_right[pid])
            st.heap_item[n] = pid
            n += 1
    st.meta[M_HEAP] = n
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(st.heap_count, st.heap_key, st.heap_item, i, n)


@njit(cache=True)
def pair_allowed(st, a, b):
    """The veto: max token length (exact or HF semantics), max words, forbidden substrings."""
    max_len = st.veto[V_MAX_LEN]
    if max_len > 0:
        total = st.tok_len[a] + st.tok_len[b]
        if st.veto[V_LEN_MODE] == 1:
            if total > max_len:
                return False
        else:
            both_atomic = (st.tok_flags[a] & FLAG_ATOMIC) != 0 and (st.tok_flags[b] & FLAG_ATOMIC) != 0
            if not both_atomic and total >= max_len:
                return False
    max_words = st.veto[V_MAX_WORDS]
    n_forbidden = len(st.veto_offsets) - 1
    if max_words == 0 and n_forbidden <= 0:
        return True
    la = st.tok_blen[a]
    n = la + st.tok_blen[b]
    oa = st.tok_boff[a]
    ob = st.tok_boff[b] - la
    if max_words > 0:
        words = 0
        in_word = False
        for i in range(n):
            c = st.pool[oa + i] if i < la else st.pool[ob + i]
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
                c = st.pool[oa + i] if i < la else st.pool[ob + i]
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
        cnt = st.heap_count[0]
        item = st.heap_item[0]
        if item >= 0:
            pid = item
            flags = st.pair_flags[pid]
            live = st.pair_count[pid]
            if (flags & PAIR_VETOED) != 0 or ((flags & PAIR_MERGED) != 0 and not allow_remerge) or live <= 0:
                _heap_pop(st)
                continue
            if live != cnt:
                _heap_pop(st)
                heap_push(st, live, _pair_key(st.pair_left[pid], st.pair_right[pid]), pid)
                continue
            if not pair_allowed(st, st.pair_left[pid], st.pair_right[pid]):
                st.pair_flags[pid] |= PAIR_VETOED
                _heap_pop(st)
                continue
            if pop:
                _heap_pop(st)
            return 1, cnt, pid
        t = -1 - item
        live = st.tok_freq[t]
        if (st.tok_flags[t] & FLAG_SCAFFOLD) == 0 or live <= 0:
            _heap_pop(st)
            continue
        if live != cnt:
            _heap_pop(st)
            push_token(st, t)
            continue
        if pop:
            _heap_pop(st)
        return 2, cnt, t
    return 0, np.int64(0), np.int64(-1)


# ----------------------------------------------------------------------------------------------
# occurrence lists and room


@njit(cache=True, inline="always")
def _occ_add(st, pid, slot):
    n = st.meta[M_OCC]
    st.meta[M_OCC] = n + 1
    st.occ_slot[n] = slot
    st.occ_next[n] = st.pair_occ_head[pid]
    st.pair_occ_head[pid] = n


@njit(cache=True, inline="always")
def _tocc_add(st, t, slot):
    if st.meta[M_TRACK_TOKENS] != 0 and (st.tok_flags[t] & FLAG_ATOMIC) == 0:
        n = st.meta[M_TOCC]
        st.meta[M_TOCC] = n + 1
        st.tocc_slot[n] = slot
        st.tocc_next[n] = st.tok_occ_head[t]
        st.tok_occ_head[t] = n


@njit(cache=True)
def _list_len(head, nxt):
    n = 0
    node = head
    while node >= 0:
        n += 1
        node = nxt[node]
    return n


@njit(cache=True)
def _sorted_list(head, slot, nxt):
    """The slots of one occurrence list, ascending (so each word is rewritten left to right)."""
    out = np.empty(_list_len(head, nxt), dtype=np.int64)
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
    return _list_len(st.pair_occ_head[pid], st.occ_next)


@njit(cache=True)
def token_occ_len(st, t):
    return _list_len(st.tok_occ_head[t], st.tocc_next)


@njit(cache=True)
def has_room(st, n_pairs, n_occ, n_tocc, n_heap, n_tokens, n_bytes):
    """True if the pools can take that many more entries (pair table kept at most half full)."""
    p = st.meta[M_PAIRS] + n_pairs
    if p > len(st.pair_left) or 2 * p > len(st.ptab):
        return False
    if st.meta[M_OCC] + n_occ > len(st.occ_slot):
        return False
    if st.meta[M_TOCC] + n_tocc > len(st.tocc_slot):
        return False
    if st.meta[M_HEAP] + n_heap > len(st.heap_count):
        return False
    t = st.meta[M_TOKENS] + n_tokens
    if t > len(st.tok_len) or 2 * t > len(st.strtab):
        return False
    if st.meta[M_POOL] + n_bytes > len(st.pool):
        return False
    return True


@njit(cache=True)
def merge_room(st, pid):
    """Room a merge of pair `pid` may need: (pairs, occ, tocc, heap, tokens, bytes)."""
    n = pair_occ_len(st, pid)
    nb = st.tok_blen[st.pair_left[pid]] + st.tok_blen[st.pair_right[pid]]
    return 2 * n + 2, 2 * n, n, 2 * n + 2, 1, nb


@njit(cache=True)
def replace_room(st, t, k):
    n = token_occ_len(st, t)
    return (k + 1) * n + 2, (k + 1) * n, k * n, (k + 1) * n + 2, 0, 0


# ----------------------------------------------------------------------------------------------
# building


@njit(cache=True)
def build_words(st, units, offsets, counts, first_word):
    """Lay out words first_word, first_word+1, …: count token frequencies and all overlapping pairs,
    index occurrences. Returns the next word to lay out (len(counts) when done); stops early when the
    pair or occurrence pools are full so that Engine can grow them (memory follows the real number of
    distinct pairs, not its upper bound)."""
    n_words = len(counts)
    for w in range(first_word, n_words):
        start = offsets[w] + w          # every earlier word has one separator slot
        length = offsets[w + 1] - offsets[w]
        if not has_room(st, length, length, 0, 0, 0, 0):
            return w
        c = counts[w]
        s = start
        for j in range(offsets[w], offsets[w + 1]):
            u = units[j]
            st.sym[s] = u
            st.slot_word[s] = w
            st.tok_freq[u] += c
            st.slot_pair[s] = -1
            if s > start:
                st.prv[s] = s - 1
                pid = _pair_get_or_add(st, st.sym[s - 1], u)
                st.pair_count[pid] += c
                st.slot_pair[s - 1] = pid
                _occ_add(st, pid, s - 1)
            else:
                st.prv[s] = -1
            s += 1
        st.sym[s] = SEP
        st.prv[s] = -1
        st.slot_pair[s] = -1
        st.slot_word[s] = w
    return n_words


# ----------------------------------------------------------------------------------------------
# merge and replace


@njit(cache=True, inline="always")
def _inc(st, a, b, c, slot, touched, n_touched, stamp):
    """Add c to pair (a, b) occurring at `slot`; record it as the slot's pair. Returns n_touched."""
    pid = _pair_get_or_add(st, a, b)
    st.pair_count[pid] += c
    st.slot_pair[slot] = pid
    _occ_add(st, pid, slot)
    if st.pair_stamp[pid] != stamp:
        st.pair_stamp[pid] = stamp
        touched[n_touched] = pid
        n_touched += 1
    return n_touched


@njit(cache=True)
def merge_pair(st, pid, new):
    """Rewrite every occurrence of pair `pid` (left to right, non-overlapping, per word) into token
    `new`. Returns F, the number of merges applied weighted by word count. Caller ensured room.
    Removed pairs are found through `slot_pair` (no hash lookup); new pairs go through `_inc`."""
    a = st.pair_left[pid]
    b = st.pair_right[pid]
    la = st.tok_len[a]
    lb = st.tok_len[b]
    slots = _sorted_list(st.pair_occ_head[pid], st.occ_slot, st.occ_next)
    st.pair_occ_head[pid] = -1
    st.meta[M_STAMP] += 1
    stamp = st.meta[M_STAMP]
    touched = np.empty(2 * len(slots) + 2, dtype=np.int64)
    n_touched = 0
    merged = np.int64(0)
    last = -1
    for s in slots:
        if s == last:
            continue
        last = s
        if st.sym[s] != a:
            continue
        q = s + la
        if st.sym[q] != b:
            continue
        c = st.word_count[st.slot_word[s]]
        p = st.prv[s]
        if p >= 0:
            st.pair_count[st.slot_pair[p]] -= c                      # (x, a)
            n_touched = _inc(st, st.sym[p], new, c, p, touched, n_touched, stamp)
        r = q + lb
        nx = st.sym[r]
        if nx >= 0:
            st.pair_count[st.slot_pair[q]] -= c                      # (b, nx)
            n_touched = _inc(st, new, nx, c, s, touched, n_touched, stamp)
            st.prv[r] = s
        else:
            st.slot_pair[s] = -1
        st.pair_count[pid] -= c
        st.sym[s] = new
        st.sym[q] = DEAD
        _tocc_add(st, new, s)
        merged += c
    st.pair_flags[pid] |= PAIR_MERGED
    for i in range(n_touched):
        push_pair(st, touched[i])
    st.tok_freq[new] += merged
    st.tok_freq[a] -= merged
    st.tok_freq[b] -= merged
    return merged


@njit(cache=True)
def replace_token(st, x, pieces):
    """Replace every standalone occurrence of token `x` by `pieces` (whose bytes concatenate to
    x's), with exact pair and frequency updates. Returns the weighted number of occurrences."""
    slots = _sorted_list(st.tok_occ_head[x], st.tocc_slot, st.tocc_next)
    n = len(slots)
    st.tok_occ_head[x] = -1
    k = len(pieces)
    st.meta[M_STAMP] += 1
    stamp = st.meta[M_STAMP]
    touched = np.empty((k + 1) * n + 2, dtype=np.int64)
    n_touched = 0
    lx = st.tok_len[x]
    total = np.int64(0)
    last = -1
    for s in slots:
        if s == last:
            continue
        last = s
        if st.sym[s] != x:
            continue
        c = st.word_count[st.slot_word[s]]
        p = st.prv[s]
        r = s + lx
        nx = st.sym[r]
        if p >= 0:
            st.pair_count[st.slot_pair[p]] -= c                      # (prev, x)
            n_touched = _inc(st, st.sym[p], pieces[0], c, p, touched, n_touched, stamp)
        if nx >= 0:
            st.pair_count[st.slot_pair[s]] -= c                      # (x, next)
        pos = s
        prev_pos = p
        for j in range(k):
            t = pieces[j]
            st.sym[pos] = t
            st.prv[pos] = prev_pos
            _tocc_add(st, t, pos)
            if j > 0:
                n_touched = _inc(st, pieces[j - 1], t, c, prev_pos, touched, n_touched, stamp)
            prev_pos = pos
            pos += st.tok_len[t]
        st.slot_pair[prev_pos] = -1
        if nx >= 0:
            n_touched = _inc(st, pieces[k - 1], nx, c, prev_pos, touched, n_touched, stamp)
            st.prv[r] = prev_pos
        total += c
    for i in range(n_touched):
        push_pair(st, touched[i])
    st.tok_freq[x] -= total
    for j in range(k):
        st.tok_freq[pieces[j]] += total
    return total


# ----------------------------------------------------------------------------------------------
# the plain BPE loop, run inside numba (BPE's trainer calls this; variants call the steps above)

STOP_DONE = 0        # reached the target
STOP_EMPTY = 1       # no eligible pair left
STOP_MIN_FREQ = 2    # best count below min_frequency
STOP_STEPS = 3       # did max_steps merges (progress report)
STOP_ROOM = 4        # pools must grow


@njit(cache=True)
def run_bpe(st, visible, target, min_count, max_steps, out, n_out):
    """Greedy BPE until `visible` reaches `target`: pop the best pair, find or create its token
    (duplicate strings reuse the id and do not add to `visible`), merge, record (a, b, new, F) in
    out[n_out]. Returns (status, visible, n_out)."""
    steps = 0
    while visible < target:
        if steps >= max_steps:
            return STOP_STEPS, visible, n_out
        kind, cnt, pid = queue_head(st, False)
        if kind == 0:
            return STOP_EMPTY, visible, n_out
        if cnt < min_count:
            return STOP_MIN_FREQ, visible, n_out
        r0, r1, r2, r3, r4, r5 = merge_room(st, pid)
        if not has_room(st, r0, r1, r2, r3, r4, r5) or n_out >= len(out):
            return STOP_ROOM, visible, n_out
        queue_head(st, True)
        a = st.pair_left[pid]
        b = st.pair_right[pid]
        new = find_concat(st, a, b)
        if new < 0:
            new = add_token(st, a, b)
            visible += 1
        f = merge_pair(st, pid, new)
        out[n_out, 0] = a
        out[n_out, 1] = b
        out[n_out, 2] = new
        out[n_out, 3] = f
        n_out += 1
        steps += 1
    return STOP_DONE, visible, n_out


# ----------------------------------------------------------------------------------------------
# read access


@njit(cache=True)
def segmentation(st):
    """Current segmentation: (tokens, offsets) with word w = tokens[offsets[w]:offsets[w+1]]."""
    n_words = len(st.word_count)
    offsets = np.zeros(n_words + 1, dtype=np.int64)
    n = 0
    for s in range(len(st.sym)):
        if st.sym[s] >= 0:
            n += 1
    tokens = np.empty(n, dtype=np.int64)
    i = 0
    for s in range(len(st.sym)):
        v = st.sym[s]
        if v >= 0:
            tokens[i] = v
            i += 1
        elif v == SEP:
            offsets[st.slot_word[s] + 1] = i
    return tokens, offsets


@njit(cache=True)
def live_pairs(st):
    """All pairs with a non-zero count: (left, right, count) arrays (tests compare to a recount)."""
    n = 0
    for pid in range(st.meta[M_PAIRS]):
        if st.pair_count[pid] != 0:
            n += 1
    left = np.empty(n, dtype=np.int64)
    right = np.empty(n, dtype=np.int64)
    count = np.empty(n, dtype=np.int64)
    i = 0
    for pid in range(st.meta[M_PAIRS]):
        if st.pair_count[pid] != 0:
            left[i] = st.pair_left[pid]
            right[i] = st.pair_right[pid]
            count[i] = st.pair_count[pid]
            i += 1
    return left, right, count
