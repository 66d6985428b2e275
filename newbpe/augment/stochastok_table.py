"""StochasTok's split table (specs `stochastok.md` §3): built from a vocabulary, checked, stored.

Why a module of its own: the table is StochasTok's data. It is built once from any vocabulary (the
readers in `stochastok_vocab`), saved beside a model, and read by the expansion kernels
(`stochastok_expand`) as three CSR arrays; none of that needs the `StochasTok` class.

For every token t that is neither special nor added, every cut of its bytes B into B[:j] + B[j:]
with both parts in the vocabulary (a byte-string hash map, O(sum |B|) look-ups) is a split; stored
as CSR arrays `split_offset[t] .. split_offset[t+1]` into `split_left`, `split_right`, in increasing
cut position. Specials and added tokens are never split and never produced. A multi-byte token
with no split is unsplittable (counted, for a warning). Tables are saved as `.npz` arrays (integer
ids; never JSON with string keys, the reference's bug §7.1 that silently disables expansion), with
the `vocab_fingerprint` so that a table is never used with another vocabulary.
"""
import hashlib
import json
import os

import numpy as np

from ..errors import ModelFileError
from ..io import atomic_write, read_npz

TABLE_FILE = "stochastok.npz"
TABLE_FORMAT = "newbpe-stochastok-table"
TABLE_VERSION = 1


def build_split_table(tokens, never_split=()):
    """CSR split table of a vocabulary. tokens[i]: bytes of id i, or None (no token / not usable).
    Ids in `never_split` (specials, added tokens) are neither split nor produced. Returns
    (split_offset, split_left, split_right, n_unsplittable)."""
    never = set(int(i) for i in never_split)
    index = {}
    for i, b in enumerate(tokens):
        if b is not None and i not in never and b not in index:
            index[bytes(b)] = i                # duplicate strings: the lowest id is produced
    counts = np.zeros(len(tokens), np.int64)
    left, right = [], []
    unsplittable = 0
    get = index.get
    for i, b in enumerate(tokens):
        if b is None or i in never or len(b) < 2:
            continue
        k = 0
        for j in range(1, len(b)):
            a = get(b[:j])
            if a is not None:
                c = get(b[j:])
                if c is not None:
                    left.append(a)
                    right.append(c)
                    k += 1
        counts[i] = k
        unsplittable += k == 0
    offs = np.zeros(len(tokens) + 1, np.int64)
    np.cumsum(counts, out=offs[1:])
    return offs, np.array(left, np.int64), np.array(right, np.int64), unsplittable


def split_depth(offs, left, right):
    """Longest chain of splits from any token (bounds the traversal stack); refuses cycles, which a
    table loaded without its vocabulary could contain."""
    n = offs.shape[0] - 1
    depth = np.full(n, -1, np.int64)       # -1 unknown, -2 on the current path
    for root in range(n):
        if depth[root] >= 0:
            continue
        stack = [root]
        while stack:
            t = stack[-1]
            if depth[t] == -1:
                depth[t] = -2
                for c in range(offs[t], offs[t + 1]):
                    for u in (left[c], right[c]):
                        if u < n and depth[u] == -2:
                            raise ModelFileError(f"split table has a cycle through token {u}")
                        if u < n and depth[u] == -1:
                            stack.append(int(u))
            else:
                stack.pop()
                if depth[t] == -2:
                    d = 0
                    for c in range(offs[t], offs[t + 1]):
                        for u in (left[c], right[c]):
                            d = max(d, 1 + (depth[u] if u < n else 0))
                    depth[t] = d
    return int(depth.max()) if n else 0


def vocab_fingerprint(tokens, never_split):
    """sha256 of a vocabulary (token bytes by id, None for a gap) and its never-split ids: a saved
    table records it, and loading against a tokenizer checks it."""
    h = hashlib.sha256()
    for i, b in enumerate(tokens):
        if b is None:
            h.update(b"\xff\xff\xff\xff")
        else:
            h.update(len(b).to_bytes(4, "little") + b)
    h.update(repr(sorted(int(i) for i in never_split)).encode())
    return h.hexdigest()


def table_from_pairs(table, n):
    """CSR arrays (split_offset, split_left, split_right) of {token_id: [(left, right), ...]} over
    ids 0..n-1 (n above every key), rows in increasing id."""
    counts = np.zeros(n, np.int64)
    for k, v in table.items():
        counts[k] = len(v)
    offs = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=offs[1:])
    pairs = [p for k in sorted(table) for p in table[k]]
    arr = np.array(pairs, np.int64).reshape(-1, 2)
    return offs, arr[:, 0], arr[:, 1]


def table_path(path):
    """A table file's path: `path` itself, or `stochastok.npz` inside it when it is a directory or
    ends in a separator (then created if missing)."""
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith((os.sep, "/")):
        path = os.path.join(path, TABLE_FILE)
    return path


def save_table(path, offs, left, right, vocab_size, fingerprint, n_unsplittable):
    """Write the table's `.npz` (atomically) at `table_path(path)`; returns the file written."""
    path = table_path(path)
    meta = {"format": TABLE_FORMAT, "version": TABLE_VERSION, "vocab_size": vocab_size,
            "fingerprint": fingerprint, "n_unsplittable": n_unsplittable}

    def write(f):
        np.savez(f, split_offset=offs, split_left=left, split_right=right,
                 meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    atomic_write(path, write, binary=True)
    return path


def read_table(path):
    """A saved `.npz` table, checked to be well-formed CSR: (meta, split_offset, split_left,
    split_right)."""
    meta, (offs, left, right) = read_npz(path, ("split_offset", "split_left", "split_right"),
                                         TABLE_FORMAT, TABLE_VERSION, "StochasTok table")
    n = offs.shape[0] - 1
    ok = (offs.ndim == 1 and n >= 0 and offs[0] == 0 and left.shape == right.shape
          and offs[-1] == left.shape[0] and np.all(np.diff(offs) >= 0)
          and (left.size == 0 or (min(left.min(), right.min()) >= 0)))
    if not ok:
        raise ModelFileError(f"{path}: malformed StochasTok table")
    return meta, offs, left, right
