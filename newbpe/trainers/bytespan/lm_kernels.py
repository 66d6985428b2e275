"""numba kernels of the byte n-gram LM (specs bytespan.md §3.3); the Python side is lm.py.

Counting. An event is (context h, outcome x): for byte j of a document (and once more for the
end-of-document symbol, x = 256) and every context length k = 0 .. min(j, n-1), h = the k bytes
before j. A context of k <= 7 bytes is packed exactly into one int64 key, ``k << 56 | bytes`` (the
most recent byte lowest), so the hash table never confuses two contexts (orders up to 8). Two open
addressing tables: contexts (key -> context id, with c(h) and N1+(h .)) and events (key
``id * 257 + x`` -> c(h x)). A kernel stops when a table passes half full and the Python side
(lm.py) doubles it and resumes: memory follows the number of distinct contexts, not the corpus.
After counting, the events become a CSR: the children (x, c(h x)) of every context sorted by x.

Scoring. The distribution of a context is the one of its longest suffix with c > 0 (if c(h) = 0,
p_k = p_{k-1}). Writing lambda_k = D N1+(h_k .) / c(h_k), a_k(x) = max(c(h_k x) - D, 0) / c(h_k),
W_K = 1 and W_{k-1} = W_k lambda_k:

    p(x) = W_0 q(x) + sum_{k=1..K} W_k a_k(x),     q = the order-0 level (interpolated with 1/257)

so p differs from W_0 q only on S, the outcomes seen after one of the contexts h_1 .. h_K, and

    H = -sum_{x in S} p log p - W_0 [ (sum_all q log q - sum_S q log q) + log W_0 (1 - sum_S q) ]

costs |S| instead of 257 per byte; on top, H is cached per (longest) context id. Surprisal is one
binary search per level. Natural logarithms (nats).
"""
import numpy as np

from ..._jit import njit, prange

EOS = 256
N_OUT = 257
EMPTY = -1


@njit(cache=True, inline="always")
def _slot(key, mask):
    z = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    z = z ^ (z >> np.uint64(29))
    return np.int64(z & np.uint64(mask))


@njit(cache=True)
def table_find(keys, key):
    """Row of `key` in an open addressing key table, or -1."""
    mask = keys.shape[0] - 1
    s = _slot(key, mask)
    while keys[s] != EMPTY:
        if keys[s] == key:
            return s
        s = (s + 1) & mask
    return -1


@njit(cache=True, inline="always")
def _find_or_add(keys, key):
    """(row, added) of `key`, inserting it into the first empty row of its probe."""
    mask = keys.shape[0] - 1
    s = _slot(key, mask)
    while keys[s] != EMPTY:
        if keys[s] == key:
            return s, False
        s = (s + 1) & mask
    keys[s] = key
    return s, True


@njit(cache=True)
def count_events(data, doc_off, docs, d, j, order, ckeys, cids, c_total, c_n1, ekeys, ecount, used):
    """Count the events of documents docs[d:], starting at byte j of docs[d], into the tables;
    used = [contexts, events]. Returns (d, j, done): stops early (done False) when a table would pass
    half full (c_total and c_n1 have a row per context table row); the caller grows and calls again."""
    cmask_lim = ckeys.shape[0] // 2
    emask_lim = ekeys.shape[0] // 2
    while d < docs.shape[0]:
        a = doc_off[docs[d]]
        n = doc_off[docs[d] + 1] - a
        while j <= n:
            if used[0] + order > cmask_lim or used[1] + order > emask_lim:
                return d, j, False
            x = EOS if j == n else np.int64(data[a + j])
            key = np.int64(0)
            for k in range(min(j, order - 1) + 1):
                if k > 0:
                    key = (key & np.int64((1 << 56) - 1)) | (np.int64(data[a + j - k]) << np.int64(8 * (k - 1)))
                    key |= np.int64(k) << np.int64(56)
                row, added = _find_or_add(ckeys, key)
                if added:
                    cids[row] = used[0]
                    used[0] += 1
                cid = cids[row]
                c_total[cid] += 1
                erow, eadded = _find_or_add(ekeys, cid * N_OUT + x)
                if eadded:
                    ecount[erow] = 0
                    c_n1[cid] += 1
                    used[1] += 1
                ecount[erow] += 1
            j += 1
        d += 1
        j = 0
    return d, j, True


@njit(cache=True)
def rehash(keys, values, size):
    """The table (keys, values) moved into `size` rows."""
    nk = np.full(size, EMPTY, np.int64)
    nv = np.zeros(size, values.dtype)
    for s in range(keys.shape[0]):
        if keys[s] != EMPTY:
            r, _ = _find_or_add(nk, keys[s])
            nv[r] = values[s]
    return nk, nv


@njit(cache=True)
def children_csr(ekeys, ecount, n_ctx):
    """(start[n_ctx + 1], x, count): the outcomes seen after every context, sorted by x."""
    m = 0
    for s in range(ekeys.shape[0]):
        if ekeys[s] != EMPTY:
            m += 1
    keys = np.empty(m, np.int64)
    cnt = np.empty(m, np.int64)
    m = 0
    for s in range(ekeys.shape[0]):
        if ekeys[s] != EMPTY:
            keys[m] = ekeys[s]
            cnt[m] = ecount[s]
            m += 1
    order = np.argsort(keys)
    start = np.zeros(n_ctx + 1, np.int64)
    xs = np.empty(m, np.int64)
    cs = np.empty(m, np.int64)
    for i in range(m):
        key = keys[order[i]]
        xs[i] = key % N_OUT
        cs[i] = cnt[order[i]]
        start[key // N_OUT + 1] += 1
    for c in range(n_ctx):
        start[c + 1] += start[c]
    return start, xs, cs


@njit(cache=True)
def base_level(c_total, c_n1, start, xs, cs, root, discount):
    """q: the order-0 distribution (empty context interpolated with 1/257)."""
    q = np.full(N_OUT, 1.0 / N_OUT)
    if root < 0 or c_total[root] == 0:
        return q
    c = c_total[root]
    lam = discount * c_n1[root] / c
    q *= lam
    for i in range(start[root], start[root + 1]):
        q[xs[i]] += max(cs[i] - discount, 0.0) / c
    return q


@njit(cache=True, inline="always")
def _child_count(start, xs, cs, cid, x):
    lo = start[cid]
    hi = start[cid + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if xs[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    if lo < start[cid + 1] and xs[lo] == x:
        return cs[lo]
    return 0


@njit(cache=True)
def suffix_links(ckeys, cids, n_ctx):
    """parent[cid] = id of the context without its oldest byte (-1 for the empty context): the chain
    of a context is its suffix links, no hash probe per level."""
    parent = np.full(n_ctx, -1, np.int64)
    for s in range(ckeys.shape[0]):
        key = ckeys[s]
        if key == EMPTY:
            continue
        k = key >> np.int64(56)
        if k == 0:
            continue
        pkey = (key & np.int64((1 << (8 * (k - 1))) - 1)) | ((k - 1) << np.int64(56))
        parent[cids[s]] = cids[table_find(ckeys, pkey)]
    return parent


@njit(cache=True)
def _chain(data, a, j, order, ckeys, cids, parent, chain):
    """Context ids of the suffixes of the history of byte a+j that were seen, shortest first, into
    chain; returns their number (the empty context is chain[0] when the model saw anything). The
    longest seen suffix is found by probing from the longest down (one probe for most bytes of
    seen text); the shorter ones follow by suffix links."""
    top_k = min(j, order - 1)
    key = np.int64(0)
    for k in range(1, top_k + 1):
        key |= np.int64(data[a + j - k]) << np.int64(8 * (k - 1))
    cid = -1
    k = top_k
    while k >= 0:
        row = table_find(ckeys, (key & np.int64((1 << (8 * k)) - 1)) | (np.int64(k) << np.int64(56)))
        if row >= 0:
            cid = cids[row]
            break
        k -= 1
    if cid < 0:
        return 0
    m = k + 1
    for level in range(k, -1, -1):
        chain[level] = cid
        cid = parent[cid]
    return m


@njit(cache=True)
def _weights(chain, m, c_total, c_n1, discount, w):
    """w[k] = W_k for the levels of the chain (w[m-1] = 1)."""
    w[m - 1] = 1.0
    for k in range(m - 1, 0, -1):
        cid = chain[k]
        w[k - 1] = w[k] * discount * c_n1[cid] / c_total[cid]


@njit(cache=True)
def _entropy(chain, m, c_total, c_n1, start, xs, cs, q, qlogq, discount, w, acc, touched):
    _weights(chain, m, c_total, c_n1, discount, w)
    n_t = 0
    for k in range(m - 1, 0, -1):
        cid = chain[k]
        inv = 1.0 / c_total[cid]
        for i in range(start[cid], start[cid + 1]):
            x = xs[i]
            if not touched[x]:
                touched[x] = True
                acc[N_OUT + n_t] = x
                n_t += 1
            acc[x] += w[k] * max(cs[i] - discount, 0.0) * inv
    w0 = w[0] if m > 0 else 1.0
    h = 0.0
    sq = 0.0
    sqlq = 0.0
    for t in range(n_t):
        x = np.int64(acc[N_OUT + t])
        p = acc[x] + w0 * q[x]
        if p > 0.0:
            h -= p * np.log(p)
        sq += q[x]
        sqlq += q[x] * np.log(q[x])
        acc[x] = 0.0
        touched[x] = False
    if w0 > 0.0:
        h -= w0 * ((qlogq - sqlq) + np.log(w0) * max(1.0 - sq, 0.0))
    return h


@njit(cache=True)
def _prob(chain, m, x, c_total, c_n1, start, xs, cs, q, discount, w):
    _weights(chain, m, c_total, c_n1, discount, w)
    p = (w[0] if m > 0 else 1.0) * q[x]
    for k in range(1, m):
        cid = chain[k]
        p += w[k] * max(_child_count(start, xs, cs, cid, x) - discount, 0.0) / c_total[cid]
    return p


@njit(cache=True, parallel=True)
def score(data, doc_off, docs, order, discount, ckeys, cids, parent, c_total, c_n1, start, xs, cs, q, h_cache,
          ent, sur, top):
    """Entropy and surprisal of every byte of documents `docs` (into ent / sur at the bytes'
    positions in `data`; into top, when it is not empty, the id of the byte's longest seen context,
    which with the byte determines both values). h_cache[cid] (NaN = not yet) caches the entropy of
    a longest context; the threads may write one entry twice, with the same value."""
    qlogq = 0.0
    for x in range(N_OUT):
        qlogq += q[x] * np.log(q[x])
    for t in prange(docs.shape[0]):
        chain = np.empty(order, np.int64)
        w = np.empty(order, np.float64)
        acc = np.zeros(2 * N_OUT, np.float64)
        touched = np.zeros(N_OUT, np.bool_)
        a = doc_off[docs[t]]
        n = doc_off[docs[t] + 1] - a
        for j in range(n):
            m = _chain(data, a, j, order, ckeys, cids, parent, chain)
            x = np.int64(data[a + j])
            if top.shape[0] > 0:
                top[a + j] = chain[m - 1] if m > 0 else -1
            if m == 0:
                ent[a + j] = np.log(N_OUT)
                sur[a + j] = np.log(N_OUT)
                continue
            deepest = chain[m - 1]
            h = h_cache[deepest]
            if np.isnan(h):
                h = _entropy(chain, m, c_total, c_n1, start, xs, cs, q, qlogq, discount, w, acc, touched)
                h_cache[deepest] = h
            ent[a + j] = h
            sur[a + j] = -np.log(_prob(chain, m, x, c_total, c_n1, start, xs, cs, q, discount, w))


@njit(cache=True)
def distribution(history, order, discount, ckeys, cids, parent, c_total, c_n1, start, xs, cs, q):
    """The 257 probabilities after `history` (its last order-1 bytes), dense, and the entropy by the
    sparse formula (tests compare the two)."""
    n = history.shape[0]
    chain = np.empty(order, np.int64)
    w = np.empty(order, np.float64)
    m = _chain(history, 0, n, order, ckeys, cids, parent, chain)
    p = np.empty(N_OUT, np.float64)
    for x in range(N_OUT):
        p[x] = _prob(chain, m, x, c_total, c_n1, start, xs, cs, q, discount, w)
    qlogq = 0.0
    for x in range(N_OUT):
        qlogq += q[x] * np.log(q[x])
    acc = np.zeros(2 * N_OUT, np.float64)
    touched = np.zeros(N_OUT, np.bool_)
    h = _entropy(chain, m, c_total, c_n1, start, xs, cs, q, qlogq, discount, w, acc, touched) if m > 0 \
        else np.log(N_OUT)
    return p, h
