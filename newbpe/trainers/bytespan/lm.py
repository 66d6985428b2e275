"""Byte LMs and the per-byte signals of ByteSpan (specs bytespan.md §3).

- `ByteLM` (§3.2): anything with ``signals(document: bytes) -> (entropy, surprisal)`` (float64
  arrays, one value per byte) and optionally ``fit(documents)`` and ``signals_batch(documents)``.
- `NgramLM` (§3.3): the default offline LM, a byte n-gram (order 5) with interpolated absolute
  discounting (D = 0.75) over 257 outcomes (256 bytes + end of document), counted in numba
  (lm_kernels.py: exact packed context keys, hash tables grown on demand, entropy in O(|seen|) per
  distinct context, cached).
- `corpus_signals` (§3.3 "Fitting"): the signals of a whole training corpus, with
  ``lm_fit="crossfit"`` (default: two folds, each scored by a model fitted on the other; a
  document's fold is a hash of its bytes, so the folds do not depend on document order or threads),
  ``"same"`` or ``"external"`` (fitted on a user corpus).
- The HF causal-LM adapter (§3.4) lives in hf_lm.py (optional extra ``newbpe[lm]``).

Signals are in nats (§3.1: the base is irrelevant to the spans).
"""
import warnings
import zlib

import numpy as np

from ...errors import NewbpeError

MAX_ORDER = 8          # contexts of up to 7 bytes pack exactly into an int64 key (lm_kernels.py)
LM_FITS = ("crossfit", "same", "external")


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
        K = _k()
        n_events = int((doc_off[docs + 1] - doc_off[docs]).sum() + len(docs)) if len(docs) else 0
        size = 1024
        while size < 4 * min(n_events * self.order + 1, 1 << 16):
            size <<= 1
        ckeys, cids = np.full(size, -1, np.int64), np.zeros(size, np.int64)
        c_total, c_n1 = np.zeros(size, np.int64), np.zeros(size, np.int64)
        ekeys, ecount = np.full(2 * size, -1, np.int64), np.zeros(2 * size, np.int64)
        used = np.zeros(2, np.int64)
        d = j = 0
        while True:
            d, j, done = K.count_events(data, doc_off, docs, d, j, self.order, ckeys, cids, c_total, c_n1,
                                        ekeys, ecount, used)
            if done:
                break
            if used[0] + self.order > len(ckeys) // 2:
                size = 2 * len(ckeys)
                ckeys, cids = K.rehash(ckeys, cids, size)
                c_total = np.concatenate([c_total, np.zeros(size - len(c_total), np.int64)])
                c_n1 = np.concatenate([c_n1, np.zeros(size - len(c_n1), np.int64)])
            if used[1] + self.order > len(ekeys) // 2:
                ekeys, ecount = K.rehash(ekeys, ecount, 2 * len(ekeys))
        n_ctx = int(used[0])
        self.ckeys, self.cids = ckeys, cids
        self.c_total, self.c_n1 = c_total[:n_ctx].copy(), c_n1[:n_ctx].copy()
        self.start, self.xs, self.cs = K.children_csr(ekeys, ecount, n_ctx)
        root = K.table_find(ckeys, 0)
        self.q = K.base_level(self.c_total, self.c_n1, self.start, self.xs, self.cs,
                              int(cids[root]) if root >= 0 else -1, self.discount)
        self.n_contexts = n_ctx
        self.n_events = n_events
        return self

    # ---------------------------------------------------------------- scoring
    def _score_arrays(self, data, doc_off, docs, ent=None, sur=None, threads=None):
        K = _k()
        if ent is None:
            ent = np.zeros(len(data), np.float64)
            sur = np.zeros(len(data), np.float64)
        h_cache = np.full(max(self.n_contexts, 1), np.nan)
        from contextlib import nullcontext
        from ..._threads import threads_limit
        with threads_limit(threads) if threads else nullcontext():     # None: the caller's limit (train's threads)
            K.score(data, doc_off, docs, self.order, self.discount, self.ckeys, self.cids, self.c_total,
                    self.c_n1, self.start, self.xs, self.cs, self.q, h_cache, ent, sur)
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
        return _k().distribution(h, self.order, self.discount, self.ckeys, self.cids, self.c_total, self.c_n1,
                                 self.start, self.xs, self.cs, self.q)


def document_folds(data, doc_off):
    """Fold (0 or 1) of every document: the low bit of the CRC-32 of its bytes."""
    raw = data.tobytes()
    return np.array([zlib.crc32(raw[doc_off[i]:doc_off[i + 1]]) & 1 for i in range(len(doc_off) - 1)],
                    dtype=np.int64)


def corpus_signals(data, doc_off, lm="ngram", lm_fit="crossfit", lm_corpus=None, order=5, discount=0.75,
                   threads=None, window=2048, stride=512):
    """(entropy, surprisal), float64 arrays aligned with `data` (documents at doc_off), §3.3.

    lm: "ngram" (`NgramLM(order, discount)`), a path of an HF causal byte LM (hf_lm.py), or any
    `ByteLM` object (fitted by us when it has `fit` and lm_fit asks for it). lm_corpus: the documents
    (iterable of bytes) of lm_fit="external"."""
    if lm_fit not in LM_FITS:
        raise NewbpeError(f"lm_fit must be one of {', '.join(LM_FITS)}, got {lm_fit!r}")
    if (lm_fit == "external") != (lm_corpus is not None):
        raise NewbpeError("lm_fit='external' needs lm_corpus (the documents to fit the LM on), and "
                          "lm_corpus needs lm_fit='external'")
    n_docs = len(doc_off) - 1
    all_docs = np.arange(n_docs, dtype=np.int64)
    if lm == "ngram":
        if lm_fit == "crossfit":
            folds = document_folds(data, doc_off)
            if folds.min() == folds.max():
                warnings.warn("lm_fit='crossfit': all documents fall into one fold (too few documents); "
                              "fitting and scoring on the same text instead", stacklevel=3)
                lm_fit = "same"
        if lm_fit == "crossfit":
            ent = np.zeros(len(data), np.float64)
            sur = np.zeros(len(data), np.float64)
            for f in (0, 1):
                model = NgramLM(order, discount)._fit_arrays(data, doc_off, all_docs[folds != f])
                model._score_arrays(data, doc_off, all_docs[folds == f], ent, sur, threads)
            return ent, sur
        model = NgramLM(order, discount)
        if lm_fit == "same":
            model._fit_arrays(data, doc_off, all_docs)
        else:
            model.fit(lm_corpus)
        return model._score_arrays(data, doc_off, all_docs, threads=threads)
    if isinstance(lm, str):
        from .hf_lm import HFByteLM
        lm = HFByteLM(lm, window=window, stride=stride)
    if not hasattr(lm, "signals"):
        raise NewbpeError(f"lm must be 'ngram', a path of an HF causal byte LM, or an object with "
                          f"signals(document), got {type(lm).__name__}")
    docs = [data[doc_off[i]:doc_off[i + 1]].tobytes() for i in range(n_docs)]
    if hasattr(lm, "fit") and lm_fit != "crossfit":     # a given LM is pretrained: crossfit = use it as is
        lm.fit(docs if lm_fit == "same" else lm_corpus)
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
