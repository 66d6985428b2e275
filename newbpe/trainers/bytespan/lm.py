"""Byte LMs and the per-byte signals of ByteSpan (specs bytespan.md §3).

- `ByteLM` (§3.2): anything with ``signals(document: bytes) -> (entropy, surprisal)`` (float64
  arrays, one value per byte) and optionally ``fit(documents)`` and ``signals_batch(documents)``.
- `NgramLM` (§3.3): the default offline LM, a byte n-gram (order 5) with interpolated absolute
  discounting (D = 0.75) over 257 outcomes (256 bytes + end of document), counted in numba
  (lm_kernels.py: exact packed context keys, hash tables grown on demand, entropy in O(|seen|) per
  distinct context, cached).
- `document_folds` (§3.3 "Fitting"): a document's crossfit fold is a hash of its bytes, so the folds
  do not depend on document order or threads (passes.py fits and scores by fold, and
  `passes.corpus_signals` gives the signals of a packed corpus in one call).
- The HF causal-LM adapter (§3.4) lives in hf_lm.py (optional extra ``newbpe[lm]``).

Signals are in nats (§3.1: the base is irrelevant to the spans).
"""
import zlib

import numpy as np

from ...errors import NewbpeError

MAX_ORDER = 8          # contexts of up to 7 bytes pack exactly into an int64 key (lm_kernels.py)


def _k():
    from . import lm_kernels
    return lm_kernels


def pack_documents(documents):
    """(data uint8, doc_off int64[n_docs + 1]) of an iterable of bytes."""
    docs = [bytes(d) for d in documents]
    off = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=off[1:])
    return np.frombuffer(b"".join(docs), dtype=np.uint8).copy(), off


class NgramLM:
    """Byte n-gram LM with interpolated absolute discounting (§3.3)."""

    def __init__(self, order=5, discount=0.75):
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
            raise NewbpeError(f"lm_order must be an integer in 1..{MAX_ORDER}, got {order!r}")
        if isinstance(discount, bool) or not isinstance(discount, (int, float)) or not 0 < discount <= 1:
            raise NewbpeError(f"lm_discount must be a number in (0, 1], got {discount!r}")
        self.order = int(order)
        self.discount = float(discount)
        self._fit_arrays(np.zeros(0, np.uint8), np.zeros(1, np.int64), np.zeros(0, np.int64))

    # ---------------------------------------------------------------- fitting
    def fit(self, documents):
        """Count all events of `documents` (iterable of bytes). Returns self."""
        data, off = pack_documents(documents)
        return self._fit_arrays(data, off, np.arange(len(off) - 1, dtype=np.int64))

    def _fit_arrays(self, data, doc_off, docs):
        return self._begin()._add(data, doc_off, docs)._finish()

    def _begin(self, size=1 << 12):
        """Empty count tables (grown on demand)."""
        self._ckeys, self._cids = np.full(size, -1, np.int64), np.zeros(size, np.int64)
        self._c_total, self._c_n1 = np.zeros(size, np.int64), np.zeros(size, np.int64)
        self._ekeys, self._ecount = np.full(2 * size, -1, np.int64), np.zeros(2 * size, np.int64)
        self._used = np.zeros(2, np.int64)
        self.n_events = 0
        return self

    def _add(self, data, doc_off, docs):
        """Count the events of documents `docs` (indices into doc_off) of one batch."""
        K = _k()
        docs = np.ascontiguousarray(docs, dtype=np.int64)
        d = j = 0
        while True:
            d, j, done = K.count_events(data, doc_off, docs, d, j, self.order, self._ckeys, self._cids,
                                        self._c_total, self._c_n1, self._ekeys, self._ecount, self._used)
            if done:
                break
            if self._used[0] + self.order > len(self._ckeys) // 2:
                size = 2 * len(self._ckeys)
                self._ckeys, self._cids = K.rehash(self._ckeys, self._cids, size)
                self._c_total = np.concatenate([self._c_total, np.zeros(size - len(self._c_total), np.int64)])
                self._c_n1 = np.concatenate([self._c_n1, np.zeros(size - len(self._c_n1), np.int64)])
            if self._used[1] + self.order > len(self._ekeys) // 2:
                self._ekeys, self._ecount = K.rehash(self._ekeys, self._ecount, 2 * len(self._ekeys))
        if len(docs):
            self.n_events += int((doc_off[docs + 1] - doc_off[docs]).sum() + len(docs))
        return self

    def _finish(self):
        """The scoring arrays: children CSR, the order-0 level, an empty entropy cache."""
        K = _k()
        n_ctx = int(self._used[0])
        self.ckeys, self.cids = self._ckeys, self._cids
        self.c_total, self.c_n1 = self._c_total[:n_ctx].copy(), self._c_n1[:n_ctx].copy()
        self.start, self.xs, self.cs = K.children_csr(self._ekeys, self._ecount, n_ctx)
        self.parent = K.suffix_links(self.ckeys, self.cids, n_ctx)
        del self._ekeys, self._ecount, self._c_total, self._c_n1
        root = K.table_find(self.ckeys, 0)
        self.q = K.base_level(self.c_total, self.c_n1, self.start, self.xs, self.cs,
                              int(self.cids[root]) if root >= 0 else -1, self.discount)
        self.n_contexts = n_ctx
        self.h_cache = np.full(max(n_ctx, 1), np.nan)
        return self

    # ---------------------------------------------------------------- scoring
    def _score_arrays(self, data, doc_off, docs, ent=None, sur=None, threads=None, top=None):
        """Signals of documents `docs` into ent / sur (and, given `top`, each byte's longest seen
        context id, -1 for none) at the bytes' positions in `data`."""
        K = _k()
        if ent is None:
            ent = np.zeros(len(data), np.float64)
            sur = np.zeros(len(data), np.float64)
        if top is None:
            top = np.zeros(0, np.int64)
        docs = np.ascontiguousarray(docs, dtype=np.int64)
        from contextlib import nullcontext
        from ..._threads import threads_limit
        with threads_limit(threads) if threads else nullcontext():     # None: the caller's limit (train's threads)
            K.score(data, doc_off, docs, self.order, self.discount, self.ckeys, self.cids, self.parent, self.c_total,
                    self.c_n1, self.start, self.xs, self.cs, self.q, self.h_cache, ent, sur, top)
        return ent, sur

    def signals(self, document):
        """(entropy, surprisal) of every byte of `document` (bytes), float64 arrays."""
        return self.signals_batch([document])[0]

    def signals_batch(self, documents, threads=None):
        data, off = pack_documents(documents)
        ent, sur = self._score_arrays(data, off, np.arange(len(off) - 1, dtype=np.int64), threads=threads)
        return [(ent[off[i]:off[i + 1]], sur[off[i]:off[i + 1]]) for i in range(len(off) - 1)]

    def distribution(self, history=b""):
        """(p: float64[257], entropy) after `history` (bytes; its last order-1 bytes count); p[256]
        is the end of document."""
        h = np.frombuffer(bytes(history), dtype=np.uint8)
        return _k().distribution(h, self.order, self.discount, self.ckeys, self.cids, self.parent, self.c_total,
                                 self.c_n1, self.start, self.xs, self.cs, self.q)


def document_folds(data, doc_off):
    """Fold (0 or 1) of every document: the low bit of the CRC-32 of its bytes."""
    raw = data.tobytes()
    return np.array([zlib.crc32(raw[doc_off[i]:doc_off[i + 1]]) & 1 for i in range(len(doc_off) - 1)],
                    dtype=np.int64)


def resolve_lm(lm, window=2048, stride=512):
    """A ByteLM object: an HF model path becomes `HFByteLM`; anything without `signals` is refused."""
    if isinstance(lm, str):
        from .hf_lm import HFByteLM
        lm = HFByteLM(lm, window=window, stride=stride)
    if not hasattr(lm, "signals"):
        raise NewbpeError(f"lm must be 'ngram', a path of an HF causal byte LM, or an object with "
                          f"signals(document), got {type(lm).__name__}")
    return lm


def given_signals(lm, data, doc_off):
    """(entropy, surprisal) of the documents of one batch from a ByteLM object, checked."""
    docs = [data[doc_off[i]:doc_off[i + 1]].tobytes() for i in range(len(doc_off) - 1)]
    batch = lm.signals_batch(docs) if hasattr(lm, "signals_batch") else [lm.signals(d) for d in docs]
    ent = np.zeros(len(data), np.float64)
    sur = np.zeros(len(data), np.float64)
    for i, (e, s) in enumerate(batch):
        e, s = np.asarray(e, np.float64), np.asarray(s, np.float64)
        if e.shape != (len(docs[i]),) or s.shape != (len(docs[i]),):
            raise NewbpeError(f"the LM gave {e.shape[0]} / {s.shape[0]} signals for a document of "
                              f"{len(docs[i])} bytes")
        ent[doc_off[i]:doc_off[i + 1]] = e
        sur[doc_off[i]:doc_off[i + 1]] = s
    return ent, sur
