"""Hash tables and the token table: the lookups every other kernel module builds on.

- the pair table ``ptab``: (left, right) -> pair id, open addressing on a splitmix64 hash, key and
  id side by side so a probe touches one cache line;
- the string table ``strtab``: token identity (ident, bytes) -> token id (open addressing on FNV-1a
  seeded by the identity flag), so that a merge whose result already is a token reuses that id (a
  "duplicate merge", bpe.md; ByteSpan §6: "an existing (flag, bytes) is reused");
- token creation: base tokens at build time (with their identity flag), the token a+b of a merge
  (`find_or_add_token`): (ident(a), bytes(a) + bytes(b)) — flags follow the left part, ByteSpan §6.
  With every identity flag 0 (all methods but ByteSpan) this is the plain bytes -> id table.

Lengths: a token covers ``tok_len`` slots of the word table (state.py), the sum of its parts'. So a
merge may reuse an existing token only if that token has the merge's length: a base token of several
bytes built with length 1 (a special, ByteSpan's "0x20 b" or a seeded span) spelled by a merge of
shorter units cannot. `find_or_add_token` reports that conflict (id -1) and the loops stop with
STOP_LENGTH_CONFLICT instead of corrupting the word table; `Engine.build(base_lengths=...)` gives such
tokens their length in atoms (bytes or characters), which makes every reuse consistent.

Kernels here never allocate: callers check room first (rewrite.has_room) and `Engine` grows the
arrays and rehashes (`rehash_pairs`, `rehash_strings`). This module imports no other kernel module.
"""
import numpy as np
from .._jit import njit

from .state import FLAG_SPECIAL, M_TOKENS, M_PAIRS, M_POOL

# Leaf helpers allocate nothing, so they are compiled without numba's reference counting: with it,
# every call paid an atomic incref/decref per array of each tuple argument (~100 ns per call here).
# Every kernel module uses this for its leaf helpers.
LEAF = dict(cache=True, _nrt=False)


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
    pairs.pair_idx_n[pid] = 0
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


@njit(cache=True, inline="always")
def _ident_seed(ident):
    """FNV-1a's offset basis perturbed by the identity flag (flag 0 keeps the plain bytes hash)."""
    return np.uint64(0xCBF29CE484222325) ^ (np.uint64(ident) * np.uint64(0x9E3779B97F4A7C15))


@njit(cache=True)
def _token_hash(st, t):
    h = _ident_seed(st.tokens.tok_ident[t])
    off = st.tokens.tok_boff[t]
    for i in range(st.tokens.tok_blen[t]):
        h = _fnv_step(h, st.tokens.pool[off + i])
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def _concat_hash(st, a, b):
    """Hash of the token a+b would be: (ident(a), bytes(a) + bytes(b))."""
    h = _ident_seed(st.tokens.tok_ident[a])
    for t in (a, b):
        off = st.tokens.tok_boff[t]
        for i in range(st.tokens.tok_blen[t]):
            h = _fnv_step(h, st.tokens.pool[off + i])
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def _token_equals_concat(st, t, a, b):
    """Token t is (ident(a), bytes(a) + bytes(b))."""
    la = st.tokens.tok_blen[a]
    lb = st.tokens.tok_blen[b]
    if st.tokens.tok_blen[t] != la + lb or st.tokens.tok_ident[t] != st.tokens.tok_ident[a]:
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
    because they are inserted first and lookups take the first equal entry. Special tokens are
    never in it (see add_base_token)."""
    for t in range(st.meta[M_TOKENS]):
        if not st.tokens.tok_flags[t] & FLAG_SPECIAL:
            _strtab_insert(st, t)


@njit(cache=True)
def find_concat(st, a, b):
    """Id of the token (ident(a), bytes(a) + bytes(b)), or -1 (duplicate-string detection)."""
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
def find_bytes(st, data, ident):
    """Id of the token (ident, data), or -1 (`Engine.find_token`)."""
    h = _ident_seed(ident)
    for i in range(len(data)):
        h = _fnv_step(h, data[i])
    mask = len(st.tokens.strtab) - 1
    i = np.int64(h >> np.uint64(1)) & mask
    n = len(data)
    while True:
        t = st.tokens.strtab[i]
        if t < 0:
            return -1
        if st.tokens.tok_blen[t] == n and st.tokens.tok_ident[t] == ident:
            off = st.tokens.tok_boff[t]
            same = True
            for j in range(n):
                if st.tokens.pool[off + j] != data[j]:
                    same = False
                    break
            if same:
                return t
        i = (i + 1) & mask


@njit(cache=True)
def add_token(st, a, b):
    """Create the token a+b (parents a, b; identity flag of a). Caller checked room (1 token, len bytes)."""
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
    st.tokens.tok_ident[t] = st.tokens.tok_ident[a]
    st.tokens.tok_occ_head[t] = -1
    _strtab_insert(st, t)
    return t


@njit(cache=True)
def find_or_add_token(st, a, b):
    """The token a+b: the existing id when (ident(a), bytes(a) + bytes(b)) is already a token (a
    duplicate merge), else a new one. Returns (id, created); id -1 when that token exists with another
    length (module doc). Caller checked room (1 token, len bytes)."""
    t = find_concat(st, a, b)
    if t >= 0:
        if st.tokens.tok_len[t] != st.tokens.tok_len[a] + st.tokens.tok_len[b]:
            return np.int64(-1), False                # another length: see the module doc
        return t, False
    return add_token(st, a, b), True


@njit(cache=True)
def add_base_token(st, data, flags, ident, length):
    """Append an atomic token with the given bytes, engine flags, identity flag and length in slots
    (build time)."""
    t = st.meta[M_TOKENS]
    st.meta[M_TOKENS] = t + 1
    off = st.meta[M_POOL]
    for i in range(len(data)):
        st.tokens.pool[off + i] = data[i]
    st.meta[M_POOL] = off + len(data)
    st.tokens.tok_boff[t] = off
    st.tokens.tok_blen[t] = len(data)
    st.tokens.tok_len[t] = length
    st.tokens.tok_left[t] = -1
    st.tokens.tok_right[t] = -1
    st.tokens.tok_freq[t] = 0
    st.tokens.tok_flags[t] = flags
    st.tokens.tok_ident[t] = ident
    st.tokens.tok_occ_head[t] = -1
    if not flags & FLAG_SPECIAL:      # a merge that spells a special's text makes an ordinary token:
        _strtab_insert(st, t)         # specials never take part in merges (HF would reuse the id)
    return t


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
