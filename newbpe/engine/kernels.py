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
from .._jit import njit, prange

from .state import (Words, Tokens, Pairs, DEAD, SEP, FLAG_ATOMIC, FLAG_ABSENT, FLAG_SCAFFOLD, PAIR_VETOED, PAIR_MERGED, TOKEN_KEY_BASE,
                    M_TOKENS, M_PAIRS, M_OCC, M_TOCC, M_HEAP, M_POOL, M_STAMP, M_ALLOW_REMERGE,
                    M_TRACK_TOKENS, M_TOKEN_LAST, V_MAX_LEN, V_LEN_MODE, V_MAX_WORDS)

# Leaf helpers allocate nothing, so they are compiled without numba's reference counting: with it,
# every call paid an atomic incref/decref per array of each tuple argument (~100 ns per call here).
LEAF = dict(cache=True, _nrt=False)

TOKEN_KEY_LAST = np.int64(2**63 - 1 - 2**31)   # token keys above every pair key
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


@njit(**LEAF)
def _probe(ptab, key):
    """Row of `key` in the pair table, or the empty row where it would go."""
    mask = len(ptab) - 1
    i = _mix64(key) & mask
    while ptab[i, 0] != key and ptab[i, 0] >= 0:
        i = (i + 1) & mask
    return i


@njit(**LEAF)
def pair_find(pairs, a, b):
    """Pair id of (a, b), or -1."""
    key = _pair_key(a, b)
    i = _probe(pairs.ptab, key)
    return pairs.ptab[i, 1] if pairs.ptab[i, 0] == key else -1


@njit(**LEAF)
def _pair_get_or_add(pairs, meta, a, b):
    key = _pair_key(a, b)
    i = _probe(pairs.ptab, key)
    if pairs.ptab[i, 0] == key:
        return pairs.ptab[i, 1]
    pid = meta[M_PAIRS]
    meta[M_PAIRS] = pid + 1
    pairs.ptab[i, 0] = key
    pairs.ptab[i, 1] = pid
    pairs.pair_left[pid] = a
    pairs.pair_right[pid] = b
    pairs.pair_count[pid] = 0
    pairs.pair_flags[pid] = 0
    pairs.pair_occ_head[pid] = -1
    pairs.pair_occ_n[pid] = 0
    pairs.pair_stamp[pid] = 0
    return pid


@njit(cache=True)
def rehash_pairs(st):
    """Rebuild `ptab` (after Engine gave it a new, larger, all -1 array)."""
    mask = len(st.pairs.ptab) - 1
    for pid in range(st.meta[M_PAIRS]):
        key = _pair_key(st.pairs.pair_left[pid], st.pairs.pair_right[pid])
        i = _mix64(key) & mask
        while st.pairs.ptab[i, 0] >= 0:
            i = (i + 1) & mask
        st.pairs.ptab[i, 0] = key
        st.pairs.ptab[i, 1] = pid


@njit(cache=True, inline="always")
def _fnv_step(h, byte):
    return (h ^ np.uint64(byte)) * np.uint64(0x100000001B3)


@njit(cache=True)
def _token_hash(st, t):
    h = np.uint64(0xCBF29CE484222325)
    off = st.tokens.tok_boff[t]
    for i in range(st.tokens.tok_blen[t]):
        h = _fnv_step(h, st.tokens.pool[off + i])
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def _concat_hash(st, a, b):
    h = np.uint64(0xCBF29CE484222325)
    for t in (a, b):
        off = st.tokens.tok_boff[t]
        for i in range(st.tokens.tok_blen[t]):
            h = _fnv_step(h, st.tokens.pool[off + i])
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def _token_equals_concat(st, t, a, b):
    la = st.tokens.tok_blen[a]
    lb = st.tokens.tok_blen[b]
    if st.tokens.tok_blen[t] != la + lb:
        return False
    ot = st.tokens.tok_boff[t]
    oa = st.tokens.tok_boff[a]
    ob = st.tokens.tok_boff[b]
    for i in range(la):
        if st.tokens.pool[ot + i] != st.tokens.pool[oa + i]:
            return False
    for i in range(lb):
        if st.tokens.pool[ot + la + i] != st.tokens.pool[ob + i]:
            return False
    return True


@njit(cache=True)
def _strtab_insert(st, t):
    mask = len(st.tokens.strtab) - 1
    i = _token_hash(st, t) & mask
    while st.tokens.strtab[i] >= 0:
        i = (i + 1) & mask
    st.tokens.strtab[i] = t


@njit(cache=True)
def rehash_strings(st):
    """Rebuild `strtab` (after Engine gave it a new, larger, all -1 array). Lower ids win lookups
    because they are inserted first and lookups take the first equal entry."""
    for t in range(st.meta[M_TOKENS]):
        _strtab_insert(st, t)


@njit(cache=True)
def find_concat(st, a, b):
    """Id of the token whose bytes are bytes(a) + bytes(b), or -1 (duplicate-string detection)."""
    mask = len(st.tokens.strtab) - 1
    i = _concat_hash(st, a, b) & mask
    while True:
        t = st.tokens.strtab[i]
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
    la = st.tokens.tok_blen[a]
    lb = st.tokens.tok_blen[b]
    for i in range(la):
        st.tokens.pool[off + i] = st.tokens.pool[st.tokens.tok_boff[a] + i]
    for i in range(lb):
        st.tokens.pool[off + la + i] = st.tokens.pool[st.tokens.tok_boff[b] + i]
    st.meta[M_POOL] = off + la + lb
    st.tokens.tok_boff[t] = off
    st.tokens.tok_blen[t] = la + lb
    st.tokens.tok_len[t] = st.tokens.tok_len[a] + st.tokens.tok_len[b]
    st.tokens.tok_left[t] = a
    st.tokens.tok_right[t] = b
    st.tokens.tok_freq[t] = 0
    st.tokens.tok_flags[t] = 0
    st.tokens.tok_occ_head[t] = -1
    _strtab_insert(st, t)
    return t


@njit(cache=True)
def find_or_add_token(st, a, b):
    """The token a+b: the existing id when that string is already a token (a duplicate merge), else
    a new one. Returns (id, created). Caller checked room (1 token, len bytes)."""
    t = find_concat(st, a, b)
    if t >= 0:
        return t, False
    return add_token(st, a, b), True


@njit(cache=True)
def add_base_token(st, data, flags):
    """Append an atomic token with the given bytes (build time)."""
    t = st.meta[M_TOKENS]
    st.meta[M_TOKENS] = t + 1
    off = st.meta[M_POOL]
    for i in range(len(data)):
        st.tokens.pool[off + i] = data[i]
    st.meta[M_POOL] = off + len(data)
    st.tokens.tok_boff[t] = off
    st.tokens.tok_blen[t] = len(data)
    st.tokens.tok_len[t] = 1
    st.tokens.tok_left[t] = -1
    st.tokens.tok_right[t] = -1
    st.tokens.tok_freq[t] = 0
    st.tokens.tok_flags[t] = flags
    st.tokens.tok_occ_head[t] = -1
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
        heap_push(heap, meta, pairs.pair_count[pid], _pair_key(pairs.pair_left[pid], pairs.pair_right[pid]), pid)


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
                heap_push(st.heap, st.meta, live, _pair_key(st.pairs.pair_left[pid], st.pairs.pair_right[pid]), pid)
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


# ----------------------------------------------------------------------------------------------
# occurrence lists and room


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
    return st.pairs.pair_occ_n[pid]


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
    words, tokens, pairs, meta = st.words, st.tokens, st.pairs, st.meta
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
            words.sym[s] = u
            words.slot_word[s] = w
            tokens.tok_freq[u] += c
            words.slot_pair[s] = -1
            if s > start:
                words.prv[s] = s - 1
                pid = _pair_get_or_add(pairs, meta, words.sym[s - 1], u)
                pairs.pair_count[pid] += c
                words.slot_pair[s - 1] = pid
                _occ_add(pairs, meta, pid, s - 1)
            else:
                words.prv[s] = -1
            s += 1
        words.sym[s] = SEP
        words.prv[s] = -1
        words.slot_pair[s] = -1
        words.slot_word[s] = w
    return n_words


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
    `slots` are the pair's occurrence slots, ascending (`_sorted_list`); the ids of the pairs whose
    count increased are written to `touched` (capacity >= 2 * len(slots) + 2), each once (marked
    with this merge's `pair_stamp`), and not queued. Returns (F, n_touched) with F the number of
    merges applied weighted by word count. Caller ensured room. Removed pairs are found through
    `slot_pair` (no hash lookup); new pairs go through `_inc`."""
    a = pairs.pair_left[pid]
    b = pairs.pair_right[pid]
    la = tokens.tok_len[a]
    lb = tokens.tok_len[b]
    pairs.pair_occ_head[pid] = -1
    pairs.pair_occ_n[pid] = 0
    meta[M_STAMP] += 1
    stamp = meta[M_STAMP]
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
        c = words.word_count[words.slot_word[s]]
        p = words.prv[s]
        if p >= 0:
            pairs.pair_count[words.slot_pair[p]] -= c                      # (x, a)
            n_touched = _inc(pairs, words, meta, words.sym[p], new, c, p, touched, n_touched, stamp)
        r = q + lb
        nx = words.sym[r]
        if nx >= 0:
            pairs.pair_count[words.slot_pair[q]] -= c                      # (b, nx)
            n_touched = _inc(pairs, words, meta, new, nx, c, s, touched, n_touched, stamp)
            words.prv[r] = s
        else:
            words.slot_pair[s] = -1
        pairs.pair_count[pid] -= c
        words.sym[s] = new
        words.sym[q] = DEAD
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
    slots = _sorted_list(pairs.pair_occ_head[pid], pairs.occ_slot, pairs.occ_next, pairs.pair_occ_n[pid])
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
        c = words.word_count[words.slot_word[s]]
        p = words.prv[s]
        r = s + lx
        nx = words.sym[r]
        if p >= 0:
            pairs.pair_count[words.slot_pair[p]] -= c                      # (prev, x)
            n_touched = _inc(pairs, words, meta, words.sym[p], pieces[0], c, p, touched, n_touched, stamp)
        if nx >= 0:
            pairs.pair_count[words.slot_pair[s]] -= c                      # (x, next)
        pos = s
        prev_pos = p
        for j in range(k):
            t = pieces[j]
            words.sym[pos] = t
            words.prv[pos] = prev_pos
            _tocc_add(tokens, meta, t, pos)
            if j > 0:
                n_touched = _inc(pairs, words, meta, pieces[j - 1], t, c, prev_pos, touched, n_touched, stamp)
            prev_pos = pos
            pos += tokens.tok_len[t]
        words.slot_pair[prev_pos] = -1
        if nx >= 0:
            n_touched = _inc(pairs, words, meta, pieces[k - 1], nx, c, prev_pos, touched, n_touched, stamp)
            words.prv[r] = prev_pos
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
    rewrite. Returns (status, new, merged, created) with status NO_ROOM when pools must grow first."""
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
    elif new >= st.meta[M_TOKENS]:
        add_token(st, a, b)
        created = True
    merged = merge_pair(st, pid, new) if pid >= 0 else np.int64(0)
    return 0, np.int64(new), merged, created


@njit(cache=True)
def merge_best_step(st, min_count):
    """Pop the best eligible pair and merge it, in one call. Returns (status, a, b, new, merged,
    created): status STOP_EMPTY / STOP_MIN_FREQ when nothing qualifies, NO_ROOM when pools must grow."""
    kind, cnt, pid = queue_head(st, False)
    if kind == 0:
        return STOP_EMPTY, -1, -1, np.int64(-1), np.int64(0), False
    if kind != 1:
        return STOP_TOKEN_ITEM, -1, -1, np.int64(-1), np.int64(0), False
    if cnt < min_count:
        return STOP_MIN_FREQ, -1, -1, np.int64(-1), np.int64(0), False
    a = st.pairs.pair_left[pid]
    b = st.pairs.pair_right[pid]
    queue_head(st, True)                # pop before merging: merging pushes new entries
    status, new, merged, created = merge_step(st, a, b, -1)
    if status == NO_ROOM:
        push_pair(st.pairs, st.heap, st.meta, pid)      # put it back (the pop freed a heap slot)
    return status, a, b, new, merged, created


# ----------------------------------------------------------------------------------------------
# the plain BPE loop, run inside numba (BPE's trainer calls this; variants call the steps above)

STOP_DONE = 0        # reached the target
STOP_EMPTY = 1       # no eligible pair left
STOP_MIN_FREQ = 2    # best count below min_frequency
STOP_STEPS = 3       # did max_steps merges (progress report)
STOP_ROOM = 4        # pools must grow
STOP_TOKEN_ITEM = 5  # a token item (Scaffold) heads the queue


@njit(**LEAF)
def _record_merge(out, n_out, a, b, new, merged):
    out[n_out, 0] = a
    out[n_out, 1] = b
    out[n_out, 2] = new
    out[n_out, 3] = merged


@njit(cache=True)
def _pop_best_pair(st, min_count, out_full):
    """The start of every greedy merge step: the valid head pair, popped, or why not (STOP_EMPTY,
    STOP_MIN_FREQ, STOP_ROOM when a pool or the output is full). Returns (status, pair id)."""
    kind, cnt, pid = queue_head(st, False)
    if kind == 0:
        return STOP_EMPTY, pid
    if cnt < min_count:
        return STOP_MIN_FREQ, pid
    r0, r1, r2, r3, r4, r5 = merge_room(st, pid)
    if out_full or not has_room(st, r0, r1, r2, r3, r4, r5):
        return STOP_ROOM, pid
    queue_head(st, True)
    return 0, pid


@njit(cache=True)
def run_bpe(st, visible, target, min_count, max_steps, out, n_out):
    """Greedy BPE until `visible` reaches `target`: pop the best pair, find or create its token
    (duplicate strings reuse the id and do not add to `visible`), merge, record (a, b, new, F) in
    out[n_out]. Returns (status, visible, n_out)."""
    steps = 0
    while visible < target:
        if steps >= max_steps:
            return STOP_STEPS, visible, n_out
        status, pid = _pop_best_pair(st, min_count, n_out >= len(out))
        if status != 0:
            return status, visible, n_out
        a = st.pairs.pair_left[pid]
        b = st.pairs.pair_right[pid]
        new, created = find_or_add_token(st, a, b)
        if created:
            visible += 1
        _record_merge(out, n_out, a, b, new, merge_pair(st, pid, new))
        n_out += 1
        steps += 1
    return STOP_DONE, visible, n_out


SCAFFOLD_FLAG = 1        # log kinds of run_scaffold: a constituent became scaffold
SCAFFOLD_UNFLAG_POP = 2  # a scaffold token item reached the queue head
SCAFFOLD_REDERIVE = 3    # a merge produced the string of a scaffold token
SCAFFOLD_FLAG_GUARD = FLAG_ATOMIC   # base units and specials are never scaffold


@njit(cache=True)
def _scaffold_check(st, x, h, merge_index, log, n_log):
    """Flag constituent x if its standalone frequency is below h (strict). Returns (flagged, n_log)."""
    flags = st.tokens.tok_flags[x]
    if (flags & SCAFFOLD_FLAG_GUARD) != 0 or (flags & FLAG_SCAFFOLD) != 0:
        return False, n_log
    f = st.tokens.tok_freq[x]
    if f >= h:
        return False, n_log
    st.tokens.tok_flags[x] = flags | FLAG_SCAFFOLD
    push_token(st.tokens, st.heap, st.meta, x)
    log[n_log, 0] = SCAFFOLD_FLAG
    log[n_log, 1] = x
    log[n_log, 2] = f
    log[n_log, 3] = h
    log[n_log, 4] = merge_index
    return True, n_log + 1


@njit(cache=True)
def run_scaffold(st, visible, target, min_count, max_steps, head_after, out, n_out, log, n_log):
    """Scaffold-BPE's loop (specs/scaffold.md §3.2) until `visible` (non-scaffold tokens) reaches
    `target`. One mixed queue holds pair items and scaffold token items (token_item before/after
    pairs at equal priority: M_TOKEN_LAST). Each iteration either
      - pops a token item: the scaffold token becomes normal again (no merge), or
      - merges the best pair exactly as run_bpe (creating a token, re-deriving a scaffold token, or
        a duplicate merge), refreshes the items of scaffold constituents, reads the head priority h
        (after those updates, or before the merge with head_after=False) and flags each constituent
        (a, then b) whose standalone frequency is now < h.
    Records merges in out (a, b, new, F) and events in log (kind, token, freq, h, merge index).
    Returns (status, visible, n_out, n_log)."""
    steps = 0
    while visible < target:
        if steps >= max_steps:
            return STOP_STEPS, visible, n_out, n_log
        kind, cnt, ident = queue_head(st, False)
        if kind == 0:
            return STOP_EMPTY, visible, n_out, n_log
        if n_log + 3 > len(log) or n_out >= len(out):
            return STOP_ROOM, visible, n_out, n_log
        if kind == 2:                                   # a scaffold token's frequency beats every pair
            queue_head(st, True)
            st.tokens.tok_flags[ident] &= ~FLAG_SCAFFOLD
            visible += 1
            log[n_log, 0] = SCAFFOLD_UNFLAG_POP
            log[n_log, 1] = ident
            log[n_log, 2] = cnt
            log[n_log, 3] = cnt
            log[n_log, 4] = n_out
            n_log += 1
            steps += 1
            continue
        if cnt < min_count:
            return STOP_MIN_FREQ, visible, n_out, n_log
        pid = ident
        r0, r1, r2, r3, r4, r5 = merge_room(st, pid)
        if not has_room(st, r0, r1, r2, r3 + 4, r4, r5):
            return STOP_ROOM, visible, n_out, n_log
        queue_head(st, True)
        a = st.pairs.pair_left[pid]
        b = st.pairs.pair_right[pid]
        h = np.int64(0)
        if not head_after:
            h_kind, h, h_ident = queue_head(st, False)
        new, created = find_or_add_token(st, a, b)
        if created:
            visible += 1
        elif (st.tokens.tok_flags[new] & FLAG_SCAFFOLD) != 0:
            st.tokens.tok_flags[new] &= ~FLAG_SCAFFOLD
            visible += 1
            log[n_log, 0] = SCAFFOLD_REDERIVE
            log[n_log, 1] = new
            log[n_log, 2] = st.tokens.tok_freq[new]
            log[n_log, 3] = cnt
            log[n_log, 4] = n_out
            n_log += 1
        _record_merge(out, n_out, a, b, new, merge_pair(st, pid, new))
        for x in (a, b):                                # refresh the priority of scaffold constituents
            if (st.tokens.tok_flags[x] & FLAG_SCAFFOLD) != 0:
                push_token(st.tokens, st.heap, st.meta, x)
        if head_after:
            h_kind, h, h_ident = queue_head(st, False)
        flagged, n_log = _scaffold_check(st, a, h, n_out, log, n_log)
        if flagged:
            visible -= 1
        if b != a:
            flagged, n_log = _scaffold_check(st, b, h, n_out, log, n_log)
            if flagged:
                visible -= 1
        n_out += 1
        steps += 1
    return STOP_DONE, visible, n_out, n_log


STOP_REMOVAL = 6     # Picky: a constituent of the last merge passes the IoS test (Python removes it)

# Picky options packed as ints: picky[P_*]
P_GE = 0             # 1: IoS >= T (reference), 0: IoS > T
P_CHILD_TOTAL = 1    # 1: numerator f(new) ("child_total"), 0: the merge count
P_SELF_MODE = 2      # self-pair IoS: 0 paper, 1 reference, 2 occupancy
P_COUNT_DUP = 3      # 1: duplicate merges count towards the vocabulary (reference)
P_SIZE = 4


@njit(cache=True)
def picky_ios(st, x, merged, new, self_pair, picky):
    """Intersection over Self of constituent x right after a merge of `merged` occurrences into
    `new` (f(x) already decremented): specs/picky.md §3 and its quirk options."""
    f = st.tokens.tok_freq[x]
    if self_pair:
        mode = picky[P_SELF_MODE]
        if mode == 1:
            return merged / (f + merged) if f + merged > 0 else 0.0
        if mode == 0:
            return merged / (f + 2 * merged)
        return 2 * merged / (f + 2 * merged)
    numerator = st.tokens.tok_freq[new] if picky[P_CHILD_TOTAL] != 0 else merged
    return numerator / (f + merged)


@njit(cache=True)
def picky_passes(st, x, merged, new, self_pair, picky, threshold):
    """True if constituent x is removable (not atomic, not removed) and its IoS passes T."""
    if (st.tokens.tok_flags[x] & (FLAG_ATOMIC | FLAG_ABSENT)) != 0:
        return False
    ios = picky_ios(st, x, merged, new, self_pair, picky)
    return ios >= threshold if picky[P_GE] != 0 else ios > threshold


@njit(cache=True)
def run_picky(st, present, target, min_count, max_steps, picky, threshold, out, n_out, stats):
    """Picky BPE's merges inside numba until `present` reaches `target` or a merge leaves a
    constituent that must be removed (STOP_REMOVAL, after that merge is recorded): removals and
    their decompositions stay in Python (trainers/picky.py). Each merge creates a token (+1), restores
    a removed one (+1, stats[1]) or is a duplicate (stats[2]; +1 only with P_COUNT_DUP). On
    STOP_REMOVAL, stats[3] and stats[4] say whether a and b passed the test right after the merge.
    Returns (status, present, n_out)."""
    steps = 0
    while present < target:
        if steps >= max_steps:
            return STOP_STEPS, present, n_out
        status, pid = _pop_best_pair(st, min_count, n_out >= len(out))
        if status != 0:
            return status, present, n_out
        a = st.pairs.pair_left[pid]
        b = st.pairs.pair_right[pid]
        new, created = find_or_add_token(st, a, b)
        if created:
            present += 1
        elif (st.tokens.tok_flags[new] & FLAG_ABSENT) != 0:
            st.tokens.tok_flags[new] &= ~FLAG_ABSENT
            present += 1
            stats[1] += 1
        else:
            stats[2] += 1
            if picky[P_COUNT_DUP] != 0:
                present += 1
        merged = merge_pair(st, pid, new)
        _record_merge(out, n_out, a, b, new, merged)
        n_out += 1
        stats[0] += 1
        steps += 1
        pass_a = picky_passes(st, a, merged, new, a == b, picky, threshold)
        pass_b = a != b and picky_passes(st, b, merged, new, False, picky, threshold)
        if pass_a or pass_b:
            stats[3] = pass_a
            stats[4] = pass_b
            return STOP_REMOVAL, present, n_out
    return STOP_DONE, present, n_out


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


# ----------------------------------------------------------------------------------------------
# partitioned plain BPE (PartitionedEngine): the words split into P partitions, each an ordinary
# EngineState (own pair table, counts, occurrence lists; same token table, tokens created in the same
# order), and one global queue over the counts summed over the partitions. Its entries are
# (total, key = left << 32 | right, 0), ordered like the engine's queue (`_above`), so the merges are
# exactly those of the single engine. The partitions' own queues are unused (tiny).

PART_NEED = 7        # need[0]: partition to grow (-1: the global queue or `out`), need[1:7]: room


@njit(**LEAF)
def _part_total(states, a, b):
    """(count of (a, b) summed over the partitions, dead) with dead = merged or vetoed somewhere
    (a pair is flagged in every partition that has it when it is merged or vetoed)."""
    total = np.int64(0)
    dead = False
    for p in range(len(states)):
        pairs = states[p].pairs
        pid = pair_find(pairs, a, b)
        if pid >= 0:
            if (pairs.pair_flags[pid] & (PAIR_VETOED | PAIR_MERGED)) != 0:
                dead = True
            total += pairs.pair_count[pid]
    return total, dead


@njit(cache=True)
def part_heapify(states, gheap, gmeta):
    """Queue every pair with a positive total once (build time), in O(n). The global heap holds at
    least the sum of the partitions' pair counts."""
    n = 0
    for p in range(len(states)):
        pairs = states[p].pairs
        for pid in range(states[p].meta[M_PAIRS]):
            a = pairs.pair_left[pid]
            b = pairs.pair_right[pid]
            seen = False
            for q in range(p):
                if pair_find(states[q].pairs, a, b) >= 0:
                    seen = True
                    break
            if seen:
                continue
            total, dead = _part_total(states, a, b)
            if total > 0 and not dead:
                gheap.heap_count[n] = total
                gheap.heap_key[n] = _pair_key(a, b)
                gheap.heap_item[n] = 0
                n += 1
    gmeta[M_HEAP] = n
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(gheap.heap_count, gheap.heap_key, gheap.heap_item, i, n)


@njit(**LEAF)
def _part_head(states, gheap, gmeta):
    """The valid head of the global queue as (total, key), (0, -1) when empty; `queue_head` for
    pairs: stale entries are re-queued with their live total or dropped, a pair failing the veto
    is flagged vetoed in every partition that has it and dropped."""
    while gmeta[M_HEAP] > 0:
        cnt = gheap.heap_count[0]
        key = gheap.heap_key[0]
        a = key >> np.int64(32)
        b = key & np.int64(0xFFFFFFFF)
        live, dead = _part_total(states, a, b)
        if dead or live <= 0:
            _heap_pop(gheap, gmeta)
            continue
        if live != cnt:
            _heap_pop(gheap, gmeta)
            heap_push(gheap, gmeta, live, key, 0)
            continue
        if not pair_allowed(states[0], a, b):
            for p in range(len(states)):
                pid = pair_find(states[p].pairs, a, b)
                if pid >= 0:
                    states[p].pairs.pair_flags[pid] |= PAIR_VETOED
            _heap_pop(gheap, gmeta)
            continue
        return cnt, key
    return np.int64(0), np.int64(-1)


@njit(cache=True)
def _rewrite_part(st, pid, new, touched):
    """`merge_rewrite` of one partition (serial path)."""
    pairs = st.pairs
    slots = _sorted_list(pairs.pair_occ_head[pid], pairs.occ_slot, pairs.occ_next, pairs.pair_occ_n[pid])
    return merge_rewrite(st.words, st.tokens, pairs, st.meta, pid, new, slots, touched)


@njit(cache=True, parallel=True)
def _rewrite_parts_parallel(sym, prv, slot_word, slot_pair, word_count,
                            tok_len, tok_left, tok_right, tok_freq, tok_flags, tok_boff, tok_blen, tok_occ_head,
                            pool, strtab, tocc_slot, tocc_next,
                            ptab, pair_left, pair_right, pair_count, pair_flags, pair_occ_head, pair_occ_n,
                            pair_stamp, occ_slot, occ_next, meta, pids, new, offs, touched, res):
    """`merge_rewrite` of every partition with pids[p] >= 0, one partition per thread. numba's
    parallel regions take arrays and tuples of arrays, not namedtuples: each argument is one state
    array of every partition (PartitionedEngine._fields), and the groups are rebuilt here."""
    for p in prange(len(pids)):
        pid = pids[p]
        if pid >= 0:
            words = Words(sym[p], prv[p], slot_word[p], slot_pair[p], word_count[p])
            tokens = Tokens(tok_len[p], tok_left[p], tok_right[p], tok_freq[p], tok_flags[p], tok_boff[p],
                            tok_blen[p], tok_occ_head[p], pool[p], strtab[p], tocc_slot[p], tocc_next[p])
            pairs = Pairs(ptab[p], pair_left[p], pair_right[p], pair_count[p], pair_flags[p], pair_occ_head[p],
                          pair_occ_n[p], pair_stamp[p], occ_slot[p], occ_next[p])
            slots = _sorted_list(pair_occ_head[p][pid], occ_slot[p], occ_next[p], pair_occ_n[p][pid])
            merged, n_touched = merge_rewrite(words, tokens, pairs, meta[p], pid, new, slots,
                                              touched[offs[p]:offs[p + 1]])
            res[p, 0] = merged
            res[p, 1] = n_touched


@njit(**LEAF)
def _queue_touched(states, gheap, gmeta, pids, p, touched):
    """Queue the new total of every pair in `touched` (ids in partition p whose count increased in
    this merge), skipping those also touched in an earlier partition (queued from there): one
    lookup per other partition and pair."""
    own = states[p].pairs
    for i in range(len(touched)):
        tp = touched[i]
        left = own.pair_left[tp]
        right = own.pair_right[tp]
        total = own.pair_count[tp]
        dead = (own.pair_flags[tp] & (PAIR_VETOED | PAIR_MERGED)) != 0
        for q in range(len(states)):
            if q == p:
                continue
            pairs = states[q].pairs
            pq = pair_find(pairs, left, right)
            if pq < 0:
                continue
            if q < p and pids[q] >= 0 and pairs.pair_stamp[pq] == states[q].meta[M_STAMP]:
                dead = True                      # touched in partition q too: queued from there
                break
            if (pairs.pair_flags[pq] & (PAIR_VETOED | PAIR_MERGED)) != 0:
                dead = True
            total += pairs.pair_count[pq]
        if total > 0 and not dead:
            heap_push(gheap, gmeta, total, _pair_key(left, right), 0)


@njit(cache=True)
def run_bpe_parts(states, F, gheap, gmeta, visible, target, min_count, max_steps, par_threshold, out, n_out,
                  need):
    """`run_bpe` over partitions: pop the best pair from the global queue, find or create its token
    (in every partition, same id), rewrite it in every partition that has it — on all threads at
    once when the occurrence lists hold >= `par_threshold` slots in total, else one partition after
    the other — then queue the new total of every pair whose count increased (once per key).
    `F`: the state arrays as tuples over the partitions (for the parallel rewrite). On STOP_ROOM,
    need[0] is the partition that must grow by need[1:7] (merge_room's order), or -1 when the
    global queue must take need[1] more entries or `out` is full. Returns (status, visible, n_out)."""
    P = len(states)
    pids = np.empty(P, dtype=np.int64)
    offs = np.zeros(P + 1, dtype=np.int64)
    res = np.zeros((P, 2), dtype=np.int64)
    steps = 0
    while visible < target:
        if steps >= max_steps:
            return STOP_STEPS, visible, n_out
        cnt, key = _part_head(states, gheap, gmeta)
        if cnt <= 0:
            return STOP_EMPTY, visible, n_out
        if cnt < min_count:
            return STOP_MIN_FREQ, visible, n_out
        a = key >> np.int64(32)
        b = key & np.int64(0xFFFFFFFF)
        nb = states[0].tokens.tok_blen[a] + states[0].tokens.tok_blen[b]
        n_occ = np.int64(0)
        for p in range(P):
            st = states[p]
            pid = pair_find(st.pairs, a, b)
            pids[p] = pid
            n = pair_occ_len(st, pid) if pid >= 0 else np.int64(-1)
            room = (2 * n + 2, 2 * n, n, np.int64(0), np.int64(1), nb) if pid >= 0 else \
                (np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(1), nb)
            if not has_room(st, room[0], room[1], room[2], room[3], room[4], room[5]):
                need[0] = p
                for i in range(6):
                    need[1 + i] = room[i]
                return STOP_ROOM, visible, n_out
            offs[p + 1] = offs[p] + (2 * n + 2 if pid >= 0 else 0)
            n_occ += max(n, 0)
        if n_out >= len(out) or gmeta[M_HEAP] + offs[P] > len(gheap.heap_count):
            need[0] = -1
            need[1] = offs[P]
            return STOP_ROOM, visible, n_out
        _heap_pop(gheap, gmeta)
        new = find_concat(states[0], a, b)
        if new < 0:
            for p in range(P):
                new = add_token(states[p], a, b)
            visible += 1
        touched = np.empty(offs[P], dtype=np.int64)
        res[:] = 0
        if n_occ >= par_threshold:
            _rewrite_parts_parallel(F[0], F[1], F[2], F[3], F[4], F[5], F[6], F[7], F[8], F[9], F[10], F[11],
                                    F[12], F[13], F[14], F[15], F[16], F[17], F[18], F[19], F[20], F[21], F[22],
                                    F[23], F[24], F[25], F[26], F[27], pids, new, offs, touched, res)
        else:
            for p in range(P):
                if pids[p] >= 0:
                    merged_p, n_p = _rewrite_part(states[p], pids[p], new, touched[offs[p]:offs[p + 1]])
                    res[p, 0] = merged_p
                    res[p, 1] = n_p
        merged = np.int64(0)
        for p in range(P):
            merged += res[p, 0]
            if pids[p] >= 0:
                _queue_touched(states, gheap, gmeta, pids, p, touched[offs[p]:offs[p] + res[p, 1]])
        _record_merge(out, n_out, a, b, new, merged)
        n_out += 1
        steps += 1
    return STOP_DONE, visible, n_out


# ----------------------------------------------------------------------------------------------
# read access


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
    for s in range(len(st.words.sym)):
        v = st.words.sym[s]
        if v >= 0:
            tokens[i] = v
            i += 1
        elif v == SEP:
            offsets[st.words.slot_word[s] + 1] = i
    return tokens, offsets


@njit(cache=True)
def live_pairs(st):
    """All pairs with a non-zero count: (left, right, count) arrays (tests compare to a recount)."""
    n = 0
    for pid in range(st.meta[M_PAIRS]):
        if st.pairs.pair_count[pid] != 0:
            n += 1
    left = np.empty(n, dtype=np.int64)
    right = np.empty(n, dtype=np.int64)
    count = np.empty(n, dtype=np.int64)
    i = 0
    for pid in range(st.meta[M_PAIRS]):
        if st.pairs.pair_count[pid] != 0:
            left[i] = st.pairs.pair_left[pid]
            right[i] = st.pairs.pair_right[pid]
            count[i] = st.pairs.pair_count[pid]
            i += 1
    return left, right, count
