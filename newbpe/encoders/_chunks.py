"""How every encoder splits a batch of pieces across threads and gathers the result.

Pieces are cut into contiguous chunks holding about the same number of units; chunk c writes its
ids back to back starting at the offset of its first unit (an output is never longer than its input,
so chunks never overlap), then `gather` copies each chunk's ids into one contiguous array.
"""
import numpy as np


def plan(offsets, threads):
    """Chunk bounds (piece indices) for `threads` chunks of about equal units."""
    n_pieces = len(offsets) - 1
    targets = offsets[0] + (offsets[-1] - offsets[0]) * np.arange(threads + 1) // threads
    bounds = np.searchsorted(offsets[:-1], targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, n_pieces
    return np.maximum.accumulate(bounds)


def gather(out, offsets, bounds, out_len):
    """(ids, out_offsets) from the chunk-wise output buffer."""
    out_offsets = np.zeros(len(out_len) + 1, dtype=np.int64)
    np.cumsum(out_len, out=out_offsets[1:])
    ids = np.empty(out_offsets[-1], dtype=np.int64)
    for c in range(len(bounds) - 1):
        lo, hi = bounds[c], bounds[c + 1]
        src = offsets[lo] - offsets[0]
        ids[out_offsets[lo]:out_offsets[hi]] = out[src:src + out_offsets[hi] - out_offsets[lo]]
    return ids, out_offsets
