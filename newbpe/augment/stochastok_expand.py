"""StochasTok's expansion (specs `stochastok.md` §4, §5): numba kernels and their driver.

Why a module of its own: this is the algorithm, over the three CSR arrays of a split table
(`stochastok_table`) and the per-document random streams of `newbpe.rng`; the `StochasTok`
class only holds a table and calls `expand_flat`.

Distribution (§4, the reference's). N = floor(p * n0) attempts; each picks a uniformly random
position in the current, growing sequence and, if the token there has splits, replaces it by one
of them chosen uniformly (parts can be split again); the optional cap `max_num_to_expand` stops
after that many successes. Implementation (§5): an unordered array of live leaves makes each
attempt O(1) (the position choice is uniform over current tokens, independent of their order);
each original token is the root of a binary tree whose leaves, read in order, are its expansion.
Document d draws from the xoshiro256** stream of `document_seeds(seed, d)` alone, so results
depend only on (seed, epoch, document index, ids, p, cap): not on thread count, batch size,
`num_proc` or order.
"""
import os

import numpy as np

from .._jit import njit, prange
from .._threads import threads_limit
from ..checks import check
from ..errors import NewbpeError
from ..rng import below, document_seeds, resolve_seed, seed_state

_MAX_NODES = (1 << 31) - 1      # int32 scratch: a document's nodes (n0 + 2 * splits)


@njit(cache=True)
def _expand_doc(src, n_att, cap, seed, offs, left, right, limit, out, pos, tok, child, live, stack, s):
    """Expand one document `src` into out[pos:]; returns (length written, successes), or (-1 - i, 0)
    when src[i] is not an id in [0, limit). Nodes 0..n0-1 are the original tokens (read from src),
    new nodes are n0, n0+1, ... (token in tok[node - n0]); child[v] is v's left child (the right
    one is child[v] + 1), -1 for a leaf; live[0..n_live) lists the current leaves, unordered.
    Scratch is int32 (half the memory traffic); documents are limited to 2**31 nodes."""
    n0 = src.shape[0]
    n_tab = offs.shape[0] - 1
    if n_att == 0 or cap == 0 or n0 == 0:
        for i in range(n0):
            t = src[i]
            if t < 0 or t >= limit:
                return -1 - i, 0
            out[pos + i] = t
        return n0, 0
    for i in range(n0):                       # one pass: check the ids, set up the leaves
        t = src[i]
        if t < 0 or t >= limit:
            return -1 - i, 0
        child[i] = -1
        live[i] = i
    n_live = n0
    n_nodes = n0
    done = 0
    seed_state(seed, s)
    for _ in range(n_att):
        if cap >= 0 and done >= cap:
            break
        j = below(s, n_live)
        v = live[j]
        t = src[v] if v < n0 else np.int64(tok[v - n0])
        if t >= n_tab:
            continue
        k0 = offs[t]
        k = offs[t + 1] - k0
        if k == 0:
            continue
        c = k0 if k == 1 else k0 + below(s, k)
        a = n_nodes
        tok[a - n0] = left[c]
        tok[a + 1 - n0] = right[c]
        child[a] = -1
        child[a + 1] = -1
        child[v] = a
        live[j] = a
        live[n_live] = a + 1
        n_live += 1
        n_nodes += 2
        done += 1
    start = pos
    for i in range(n0):                       # in-order leaves of each original token's tree
        if child[i] < 0:
            out[pos] = src[i]
            pos += 1
            continue
        sp = 1
        stack[0] = i
        while sp > 0:
            sp -= 1
            v = stack[sp]
            while child[v] >= 0:
                stack[sp] = child[v] + 1      # the right part, emitted after the left subtree
                sp += 1
                v = child[v]
            out[pos] = tok[v - n0]
            pos += 1
    return pos - start, done


@njit(cache=True)
def _expand_range(ids, doc_off, n_att, cap, seeds, offs, left, right, limit, max_depth, lo, hi, out, pos,
                  out_len, successes):
    """Documents lo..hi-1 one after the other, written back to back from out[pos]; scratch sized
    once for the largest. Returns the end position, or -1 - (index into ids) of a bad id."""
    need = 0
    for d in range(lo, hi):
        n0 = doc_off[d + 1] - doc_off[d]
        m = n_att[d] if cap < 0 else min(n_att[d], cap)
        need = max(need, n0 + 2 * m)
    tok = np.empty(need, np.int32)
    child = np.empty(need, np.int32)
    live = np.empty(need, np.int32)
    stack = np.empty(max_depth + 2, np.int64)
    s = np.empty(4, np.uint64)
    for d in range(lo, hi):
        got, done = _expand_doc(ids[doc_off[d]:doc_off[d + 1]], n_att[d], cap, seeds[d], offs, left, right,
                                limit, out, pos, tok, child, live, stack, s)
        if got < 0:
            return -1 - (doc_off[d] + (-1 - got))
        out_len[d] = got
        successes[d] = done
        pos += got
    return pos


@njit(cache=True, parallel=True)
def _expand_chunks(ids, doc_off, n_att, cap, seeds, offs, left, right, limit, max_depth, chunk_bounds,
                   chunk_start, out, out_len, successes, chunk_end):
    """Chunk c (documents chunk_bounds[c]..) writes from out[chunk_start[c]], its upper bound."""
    for c in prange(chunk_bounds.shape[0] - 1):
        chunk_end[c] = _expand_range(ids, doc_off, n_att, cap, seeds, offs, left, right, limit, max_depth,
                                     chunk_bounds[c], chunk_bounds[c + 1], out, chunk_start[c], out_len,
                                     successes)


@njit(cache=True, parallel=True)
def _gather_chunks(out, chunk_start, chunk_end, dst_start, dst):
    for c in prange(chunk_start.shape[0]):
        a = chunk_start[c]
        b = dst_start[c]
        for i in range(chunk_end[c] - a):
            dst[b + i] = out[a + i]


def check_p(p):
    """p as a float, refused unless finite and >= 0 (newbpe.checks)."""
    return check("p", p)


def check_cap(cap):
    """max_num_to_expand as the kernels take it: -1 for no cap."""
    return -1 if cap is None else check("max_num_to_expand", cap)


def _plan(work, threads):
    """Contiguous chunks of documents with about equal work (4 per thread, for balance)."""
    n = work.shape[0]
    n_chunks = min(n, 4 * threads)
    cum = np.cumsum(work)
    targets = cum[-1] * np.arange(1, n_chunks) / n_chunks
    cuts = np.searchsorted(cum, targets, side="left") + 1
    return np.unique(np.concatenate([[0], np.clip(cuts, 0, n), [n]])).astype(np.int64)


def expand_flat(ids, offsets, p, split_offset, split_left, split_right, vocab_size, max_depth, *, seed=None,
                max_num_to_expand=None, indices=None, epoch=None, threads=None):
    """Expand documents ids[offsets[d]:offsets[d+1]] with a split table (ids must be in
    [0, vocab_size); `max_depth`: its `split_depth`). Returns (ids int64, offsets int64, successes
    int64 per document); see `StochasTok.expand_flat`."""
    ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
    offsets = np.ascontiguousarray(offsets, dtype=np.int64).ravel()
    n_docs = offsets.shape[0] - 1
    if n_docs < 0 or offsets[0] != 0 or offsets[-1] != ids.shape[0] or np.any(np.diff(offsets) < 0):
        raise NewbpeError("offsets must start at 0, be non-decreasing and end at len(ids)")
    p = check_p(p)
    cap = check_cap(max_num_to_expand)
    lengths = np.diff(offsets)
    with np.errstate(over="ignore", invalid="ignore"):
        attempts = np.floor(lengths.astype(np.float64) * p)   # the reference's int(len(ids) * p)
    if attempts.size and attempts.max() > _MAX_NODES:
        raise NewbpeError("too many attempts for one document (p * length must stay below 2**31)")
    n_att = attempts.astype(np.int64)
    grow = n_att if cap < 0 else np.minimum(n_att, cap)
    if n_docs and (lengths + 2 * grow).max() > _MAX_NODES:
        raise NewbpeError("a document is too long to expand (length + 2 * splits must stay below 2**31)")
    if indices is None:
        indices = np.arange(n_docs, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64).ravel()
    if indices.shape[0] != n_docs:
        raise NewbpeError(f"{indices.shape[0]} indices for {n_docs} documents")
    seeds = document_seeds(resolve_seed(seed), indices, epoch)
    threads = check("threads", threads) or os.cpu_count() or 1
    out_len = np.zeros(n_docs, np.int64)
    successes = np.zeros(n_docs, np.int64)
    args = (ids, offsets, n_att, cap, seeds, split_offset, split_left, split_right, vocab_size, max_depth)
    # threads=1 never enters a parallel kernel, so it is safe in processes forked after the
    # parent used numba's OpenMP layer (datasets.map with num_proc).
    if threads == 1 or n_docs < 2:
        out = np.empty(int(ids.shape[0] + grow.sum()), np.int64)
        end = _expand_range(*args, 0, n_docs, out, 0, out_len, successes)
        _raise_bad_id(ids, end, vocab_size)
        result = out[:end]
    else:
        bounds = _plan(lengths + grow, threads)
        cum = np.zeros(n_docs + 1, np.int64)
        np.cumsum(lengths + grow, out=cum[1:])
        chunk_start = cum[bounds[:-1]]
        chunk_end = np.zeros(len(bounds) - 1, np.int64)
        out = np.empty(int(cum[-1]), np.int64)
        with threads_limit(threads):
            _expand_chunks(*args, bounds, chunk_start, out, out_len, successes, chunk_end)
        for e in chunk_end:
            _raise_bad_id(ids, e, vocab_size)
        sizes = chunk_end - chunk_start
        dst_start = np.zeros(len(sizes), np.int64)
        np.cumsum(sizes[:-1], out=dst_start[1:])
        result = np.empty(int(sizes.sum()), np.int64)
        with threads_limit(threads):
            _gather_chunks(out, chunk_start, chunk_end, dst_start, result)
    new_off = np.zeros(n_docs + 1, np.int64)
    np.cumsum(out_len, out=new_off[1:])
    return result, new_off, successes


def _raise_bad_id(ids, end, vocab_size):
    if end < 0:
        raise NewbpeError(f"token id {int(ids[-1 - end])} is outside this vocabulary (0..{vocab_size - 1})")
