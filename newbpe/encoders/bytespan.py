"""ByteSpan's encoder: flagged greedy longest-prefix (WordPiece) matching per pre-token (specs
bytespan.md §7). At the first byte of a pre-token, the longest word-initial token that is a prefix;
at every later position, the longest continuation token. Both tries are the shared byte trie
(`_trie.py`), one per identity flag, over the model's byte units; every single byte exists with
both flags (§5.1), so a match always exists and there is no UNK. `bytespan_piece` is the piece
kernel of the shared driver (`_driver.py`: per-thread piece caches, parallel `encode_batch`); a
one-byte piece is its initial byte, which the driver copies through.
"""
import numpy as np

from .._jit import njit
from ._driver import DEFAULT_CACHE_POOL, DEFAULT_CACHE_SLOTS, DrivenEncoder, PieceKernel
from ._trie import build_trie, trie_longest


@njit(cache=True)
def bytespan_piece(model, units, a, n, out, pos, scratch):
    """Encode units[a:a+n] greedily into out[pos:]; returns the number of ids written."""
    init = (model[0], model[1], model[2])
    cont = (model[3], model[4], model[5])
    t, length = trie_longest(init, units, a, a + n)
    out[pos] = t
    m = 1
    i = a + length
    while i < a + n:
        t, length = trie_longest(cont, units, i, a + n)
        out[pos + m] = t
        m += 1
        i += length
    return m


@njit(cache=True)
def _bytespan_scratch(model, n_max):
    return np.zeros(1, np.int64)


class ByteSpanEncoder(DrivenEncoder):
    """Greedy longest-prefix over two token sets given as unit sequences: initial ({internal id:
    unit ids}) and continuation; both must contain every single unit."""

    encode_piece = PieceKernel(bytespan_piece)
    new_scratch = PieceKernel(_bytespan_scratch)

    def __init__(self, initial_units, continuation_units, n_tokens, cache_slots=DEFAULT_CACHE_SLOTS,
                 cache_pool=DEFAULT_CACHE_POOL):
        super().__init__(n_tokens, None, cache_slots, cache_pool)
        self.initial = build_trie(initial_units)
        self.continuation = build_trie(continuation_units)

    def model(self):
        return self.initial + self.continuation
