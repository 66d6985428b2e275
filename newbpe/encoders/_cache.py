"""A bounded cache from int64 id sequences to int64 id sequences, usable inside numba kernels.

Encoders see the same short pre-tokens (" the", " and", ...) over and over, so remembering
"this unit sequence encodes to these ids" skips almost all merge work on real text. The
cache lives inside compiled code, so it cannot be a Python dict, and a numba class object cannot
be cached to disk; instead a cache is a plain tuple of numpy arrays that njit functions pass
around:

    slots  int64[n_slots, 2]  per table slot: the key's full 64-bit hash, and the packed
                              entry (pool_start << 24) | (key_len << 12) | value_len,
                              or -1 if the slot is empty
    pool   int64[pool_size]   keys and values back to back: key ids then value ids
    meta   int64[16]          counters, see the META_* constants

Hash and entry share a cache line, so a lookup touches two places in memory, its slot
and the pool (a separate entries array cost a third cache miss per lookup). Keys and
values are limited to MAX_LEN ids each.

The hash table uses open addressing with linear probing and never holds more than
n_slots // 2 entries, so a probe always reaches an empty slot. Nothing is ever deleted one
by one: when the entry budget or the pool is exhausted the whole cache is cleared. That
is crude but cheap, and for the Zipf-shaped distribution of pre-tokens the frequent keys
come right back after a clear.

Several caches (one per worker thread) are created together as a "bank": the same three
arrays with a leading cache axis. `cache_view(bank, c)` gives cache number c as a tuple of
row views, which is what lookup/insert/clear take. Inserts and lookups mutate the arrays,
so one cache must only ever be used by one thread at a time.
"""

import numpy as np
from .._jit import njit

# Indices into the `meta` array of a cache.
META_ENTRIES = 0  # number of entries in use
META_POOL_USED = 1  # number of pool cells in use
META_HITS = 2  # lookups that found their key
META_MISSES = 3  # lookups that did not
META_CLEARS = 4  # times the cache was emptied because it was full
# Row length of `meta`: padded to 128 bytes so that the counters of two caches used by
# two threads never share a cache line (false sharing made 2 threads slower than 1).
META_SIZE = 16

# Longest key and longest value a cache can hold (12 bits each in the packed entry).
MAX_LEN = 4095
_LEN_BITS = 12
_LEN_MASK = (1 << _LEN_BITS) - 1


@njit(cache=True)
def cache_create(n_caches, n_slots, pool_size):
    """Allocate a bank of `n_caches` empty caches. `n_slots` must be a power of two >= 2.

    Each cache holds at most n_slots // 2 entries and pool_size ids of keys plus values.
    """
    if n_slots < 2 or (n_slots & (n_slots - 1)) != 0:
        raise ValueError("n_slots must be a power of two >= 2")
    if pool_size < 1 or pool_size >= (1 << 39) or n_caches < 1:
        raise ValueError("need n_caches >= 1 and 1 <= pool_size < 2**39")
    slots = np.full((n_caches, n_slots, 2), -1, np.int64)
    pool = np.zeros((n_caches, pool_size), np.int64)
    meta = np.zeros((n_caches, META_SIZE), np.int64)
    return slots, pool, meta


@njit(cache=True)
def cache_view(bank, c):
    """Cache number `c` of a bank, as the tuple the other functions take (views, no copy)."""
    slots, pool, meta = bank
    return slots[c], pool[c], meta[c]


@njit(cache=True)
def hash_ids(ids):
    """64-bit hash of an int64 sequence: FNV-1a over whole ids, then a final avalanche.

    Plain word-wise FNV-1a only propagates bits upwards (multiplication), so the low bits
    we index the table with would depend only on the low bits of the ids; the murmur3
    finaliser mixes the high bits back down.
    """
    h = np.uint64(14695981039346656037)
    prime = np.uint64(1099511628211)
    for i in range(ids.shape[0]):
        h ^= np.uint64(ids[i])
        h *= prime
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return np.int64(h)


@njit(cache=True)
def cache_lookup(cache, key, out, out_pos):
    """Look `key` up. On a hit, copy its value to out[out_pos:] and return the value's
    length; on a miss return -1 and leave `out` alone."""
    slots, pool, meta = cache
    h = hash_ids(key)
    mask = slots.shape[0] - 1
    slot = h & mask
    n = key.shape[0]
    while True:
        packed = slots[slot, 1]
        if packed < 0:
            meta[META_MISSES] += 1
            return -1
        if slots[slot, 0] == h and ((packed >> _LEN_BITS) & _LEN_MASK) == n:
            start = packed >> (2 * _LEN_BITS)
            same = True
            for i in range(n):
                if pool[start + i] != key[i]:
                    same = False
                    break
            if same:
                vlen = packed & _LEN_MASK
                vstart = start + n
                for i in range(vlen):
                    out[out_pos + i] = pool[vstart + i]
                meta[META_HITS] += 1
                return vlen
        slot = (slot + 1) & mask


@njit(cache=True)
def cache_clear(cache):
    """Forget every entry (the pool is not zeroed: entries are simply unreachable)."""
    slots, pool, meta = cache
    slots[:, 1] = -1
    meta[META_ENTRIES] = 0
    meta[META_POOL_USED] = 0


@njit(cache=True)
def cache_insert(cache, key, value):
    """Store key -> value, clearing the whole cache first if it is full.

    The caller must know that `key` is not already present (typically: it just missed in
    cache_lookup); inserting a key twice wastes space but stays correct, the older copy
    wins lookups. Returns False (and stores nothing) if key or value is longer than
    MAX_LEN or the pair could never fit the pool.
    """
    slots, pool, meta = cache
    n = key.shape[0]
    m = value.shape[0]
    need = n + m
    if n > MAX_LEN or m > MAX_LEN or need > pool.shape[0]:
        return False
    if meta[META_ENTRIES] >= slots.shape[0] // 2 or meta[META_POOL_USED] + need > pool.shape[0]:
        cache_clear(cache)
        meta[META_CLEARS] += 1
    h = hash_ids(key)
    mask = slots.shape[0] - 1
    slot = h & mask
    while slots[slot, 1] >= 0:
        slot = (slot + 1) & mask
    start = meta[META_POOL_USED]
    for i in range(n):
        pool[start + i] = key[i]
    for i in range(m):
        pool[start + n + i] = value[i]
    slots[slot, 0] = h
    slots[slot, 1] = (start << (2 * _LEN_BITS)) | (n << _LEN_BITS) | m
    meta[META_ENTRIES] += 1
    meta[META_POOL_USED] = start + need
    return True
