"""A trie over token unit sequences, in flat arrays that numba kernels walk.

Encoders that match vocabulary tokens as prefixes of the text share it: LBPE lists every match from
every start (specs/lbpe.md §5), the driver's whole-piece shortcut asks "does this piece spell a
token?", and ByteSpan's greedy longest-prefix encoder (specs/bytespan.md §7) keeps one trie per
identity flag (initial tokens, continuation tokens) and asks for the longest match at a position.

A trie is the tuple `(table, node_token, node_payload)`:

    table         int64[size, 3]  rows (parent node, unit, child node), open addressing with linear
                                  probing, parent -1 = empty row; size is a power of two >= 2 * nodes,
                                  so a probe always ends at an empty row
    node_token    int64[nodes]    the token spelled by the path root -> node, or -1
    node_payload  int64[nodes]    a number stored with that token (LBPE: its BPE rank), NO_PAYLOAD
                                  where there is no token

Node 0 (`ROOT`) is the empty string. A hashed (node, unit) -> child table, rather than a dense child
array per node, because units are bytes or characters (a dense byte table for a 32k vocabulary is
~200k nodes x 256 children) and one hash probe is about as fast as the dense read on these sizes.
Two tokens with the same unit sequence: the one listed first keeps the node (callers list tokens by
increasing id, so the lowest id wins, as in the rank encoder's ignore_merges).
"""
import numpy as np

from .._jit import njit

ROOT = 0
NO_PAYLOAD = np.int64(2**62)


@njit(cache=True, inline="always")
def _slot(node, unit, mask):
    key = (np.uint64(node) << np.uint64(32)) | np.uint64(unit)
    return np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20)) & mask


@njit(cache=True)
def trie_build(flat_units, token_offsets, token_ids, token_payload):
    """Trie of tokens t = 0..len(token_ids)-1, token t spelling flat_units[token_offsets[t]:
    token_offsets[t + 1]], stored as token_ids[t] with token_payload[t]. An empty sequence names
    the root."""
    n_nodes_max = flat_units.shape[0] + 1
    size = 16
    while size < 2 * n_nodes_max:
        size <<= 1
    mask = size - 1
    table = np.full((size, 3), -1, dtype=np.int64)
    node_token = np.full(n_nodes_max, -1, dtype=np.int64)
    node_payload = np.full(n_nodes_max, NO_PAYLOAD, dtype=np.int64)
    n_nodes = 1
    for t in range(token_ids.shape[0]):
        node = ROOT
        for j in range(token_offsets[t], token_offsets[t + 1]):
            u = flat_units[j]
            s = _slot(node, u, mask)
            child = -1
            while table[s, 0] >= 0:
                if table[s, 0] == node and table[s, 1] == u:
                    child = table[s, 2]
                    break
                s = (s + 1) & mask
            if child < 0:
                child = n_nodes
                n_nodes += 1
                table[s, 0] = node
                table[s, 1] = u
                table[s, 2] = child
            node = child
        if node_token[node] < 0:
            node_token[node] = token_ids[t]
            node_payload[node] = token_payload[t]
    return table, node_token[:n_nodes].copy(), node_payload[:n_nodes].copy()


@njit(cache=True, inline="always")
def trie_child(trie, node, unit):
    """The node reached from `node` by `unit`, or -1."""
    table = trie[0]
    mask = table.shape[0] - 1
    s = _slot(node, unit, mask)
    while table[s, 0] >= 0:
        if table[s, 0] == node and table[s, 1] == unit:
            return table[s, 2]
        s = (s + 1) & mask
    return -1


@njit(cache=True, inline="always")
def trie_token(trie, node):
    """The token spelled by the path to `node`, or -1."""
    return trie[1][node]


@njit(cache=True, inline="always")
def trie_payload(trie, node):
    """The payload stored with the token at `node` (NO_PAYLOAD if none)."""
    return trie[2][node]


@njit(cache=True)
def trie_exact(trie, units, start, stop):
    """The token spelling exactly units[start:stop], or -1."""
    node = ROOT
    for i in range(start, stop):
        node = trie_child(trie, node, units[i])
        if node < 0:
            return -1
    return trie[1][node]


@njit(cache=True)
def trie_longest(trie, units, start, stop):
    """(token, length) of the longest token that is a prefix of units[start:stop]; (-1, 0) if none."""
    node = ROOT
    best = -1
    best_len = 0
    for i in range(start, stop):
        node = trie_child(trie, node, units[i])
        if node < 0:
            break
        if trie[1][node] >= 0:
            best = trie[1][node]
            best_len = i + 1 - start
    return best, best_len


def pack_units(token_units):
    """{token id: unit sequence} -> (flat_units, token_offsets, token_ids), ids increasing: the flat
    arrays `trie_build` takes."""
    ids = sorted(token_units)
    seqs = [np.asarray(token_units[t], dtype=np.int64).ravel() for t in ids]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seqs], out=offsets[1:])
    flat = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    return flat, offsets, np.array(ids, dtype=np.int64)


def build_trie(token_units, payload=None):
    """Trie of {token id: unit sequence}; `payload` {token id: int} (missing: NO_PAYLOAD)."""
    flat, offsets, ids = pack_units(token_units)
    payload = payload or {}
    values = np.array([payload.get(int(t), NO_PAYLOAD) for t in ids], dtype=np.int64)
    return trie_build(flat, offsets, ids, values)


def trie_nodes(trie):
    """Number of nodes (1 for a trie without tokens)."""
    return trie[1].shape[0]
