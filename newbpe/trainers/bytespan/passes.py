"""ByteSpan's passes over the corpus in batches of documents (specs bytespan.md §2-§6), so that
memory follows the distinct contexts, span types and words, not the corpus:

    fit        the n-gram's counts, batch by batch (crossfit: one model per fold)
    θ          combined only: the exact percentile of all signals, from the number of bytes per
               distinct signal value (a signal is a function of the byte's longest seen context, and
               surprisal also of the byte), never a per-byte array
    count      spans of every batch -> counts of span types (flag, bytes), first occurrence order
    resegment  spans of every batch again -> the selected occurrences collapsed -> distinct words

The n-gram's signals of a batch are kept while they fit in SIGNAL_CACHE_BYTES, else recomputed in
each pass that needs them (the n-gram caches the entropy per context). A
given LM (an HF model or an object) is asked once per document and its signals are kept, since
asking again costs a forward pass; a one-shot iterator source is held in memory (it cannot be read
twice). The global constraint (global_spans.py) sorts all signals at once, so it reads the corpus
as one batch.
"""
import numpy as np

from ...errors import NewbpeError

BATCH_BYTES = 4 << 20
# The n-gram's signals of the first batches are kept up to this many bytes of float64 (a corpus of up
# to 32 MB is scored once); later batches are scored again in each pass that needs them.
SIGNAL_CACHE_BYTES = 256 << 20


class Documents:
    """The training documents in batches: (data, doc_off, boundary, langs) per batch (§2, §4),
    special tokens cut out (each side its own document), empty ones dropped."""

    def __init__(self, corpus, special_tokens, transform, add_prefix_space, pretok, labelled=None,
                 batch_bytes=None):
        self.corpus, self.special_tokens, self.transform = corpus, special_tokens, transform
        self.add_prefix_space, self.pretok, self.batch_bytes = add_prefix_space, pretok, batch_bytes
        self.items = labelled
        if self.items is None and corpus.one_shot:
            self.items = [(None, t) for t in corpus.texts()]

    def _documents(self):
        from ...pretokenizers import split_specials
        items = self.items if self.items is not None else ((None, t) for t in self.corpus.texts())
        for lang, text in items:
            if self.transform is not None:
                text = self.transform.apply(text)
            chunks = [c for special, c in split_specials(text, self.special_tokens) if not special] \
                if self.special_tokens else [text]
            for c in chunks:
                if c:
                    if self.add_prefix_space and not c.startswith(" "):
                        c = " " + c
                    yield lang, c.encode("utf-8", "surrogateescape")

    def batches(self, batch_bytes=None):
        from . import spans as S
        from .lm import pack_documents
        limit = batch_bytes or self.batch_bytes or BATCH_BYTES
        docs, langs, size, any_doc = [], [], 0, False
        for lang, doc in self._documents():
            docs.append(doc)
            langs.append(lang)
            size += len(doc)
            if size >= limit:
                data, off = pack_documents(docs)
                yield data, off, S.boundaries(data, off, self.pretok), langs
                docs, langs, size, any_doc = [], [], 0, True
        if docs:
            data, off = pack_documents(docs)
            yield data, off, S.boundaries(data, off, self.pretok), langs
        elif not any_doc:
            raise NewbpeError("the training source contains no text")

    def whole(self):
        """Everything as one batch (the global constraint)."""
        return next(self.batches(batch_bytes=1 << 62))


# ------------------------------------------------------------------------------ signals
class NgramSignals:
    """The n-gram's signals of every batch (§3.3), with crossfit (a fold per document, by a hash of
    its bytes), same or external fitting."""

    def __init__(self, documents, opts):
        from .lm import NgramLM, document_folds
        self.signal, self.fit = opts["signal"], opts["lm_fit"]
        self.cache = {}
        order, discount = opts["lm_order"], opts["lm_discount"]
        self.models = [NgramLM(order, discount)._begin()]
        if self.fit == "crossfit":
            self.models.append(NgramLM(order, discount)._begin())
            seen = np.zeros(2, bool)
            for data, off, _, _ in documents.batches():
                folds = document_folds(data, off)
                seen[np.unique(folds)] = True
                for f in (0, 1):                        # the model of fold f scores fold f, fitted on 1 - f
                    self.models[f]._add(data, off, np.flatnonzero(folds != f))
            if not seen.all():
                import warnings
                warnings.warn("lm_fit='crossfit': all documents fall into one fold (too few documents); "
                              "fitting and scoring on the same text instead", stacklevel=4)
                self.fit = "same"
                self.models = [NgramLM(order, discount)._begin()]
        if self.fit == "same":
            for data, off, _, _ in documents.batches():
                self.models[0]._add(data, off, np.arange(len(off) - 1))
        elif self.fit == "external":
            from .lm import pack_documents
            data, off = pack_documents(lm_corpus_documents(opts["lm_corpus"]))
            self.models[0]._add(data, off, np.arange(len(off) - 1))
        for m in self.models:
            m._finish()

    def both(self, data, off):
        """(entropy, surprisal, longest seen context id or -1, model index) of every byte of a batch."""
        from .lm import document_folds
        ent = np.zeros(len(data))
        sur = np.zeros(len(data))
        top = np.full(len(data), -1, np.int64)
        which = np.zeros(len(data), np.int64)
        docs = np.arange(len(off) - 1)
        if len(self.models) == 2:
            folds = document_folds(data, off)
            for f in (0, 1):
                self.models[f]._score_arrays(data, off, docs[folds == f], ent, sur, top=top)
            which = np.repeat(folds, np.diff(off))
        else:
            self.models[0]._score_arrays(data, off, docs, ent, sur, top=top)
        return ent, sur, top, which

    def __call__(self, data, off, batch=None, with_keys=False):
        """Signal of every byte of batch number `batch` (kept within SIGNAL_CACHE_BYTES), and, with_keys,
        the key of its value: (model, longest context id[, byte]), -1 where no context was seen."""
        cache = self.cache
        if batch in cache and not with_keys:
            return cache[batch]
        ent, sur, top, which = self.both(data, off)
        sig = ent if self.signal == "entropy" else sur
        if batch is not None and sum(c.nbytes for c in cache.values()) + sig.nbytes <= SIGNAL_CACHE_BYTES:
            cache[batch] = sig
        if not with_keys:
            return sig
        key = top * 257 + data if self.signal == "surprisal" else top.copy()
        return sig, np.where(top < 0, -1, key * 2 + which)

    def threshold(self, documents, percentile):
        """θ (§5.3) exactly: numpy's linear percentile of the multiset of all signals, from the
        number of bytes per distinct value key."""
        keys, counts, values = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        for b, (data, off, _, _) in enumerate(documents.batches()):
            sig, key = self(data, off, b, with_keys=True)
            u, first, n = np.unique(key, return_index=True, return_counts=True)
            keys, inv = np.unique(np.concatenate([keys, u]), return_inverse=True)
            merged_counts = np.zeros(len(keys), np.int64)
            np.add.at(merged_counts, inv, np.concatenate([counts, n]))
            merged_values = np.zeros(len(keys))
            merged_values[inv] = np.concatenate([values, sig[first]])
            counts, values = merged_counts, merged_values
        return weighted_percentile(values, counts, percentile)


class GivenSignals:
    """Signals of a given LM (an HF model path or a ByteLM object, §3.2): fitted once when it has
    `fit` and lm_fit is "same" (on all documents) or "external" (pretrained LMs are used as they
    are under "crossfit"), asked once per batch, and kept."""

    def __init__(self, documents, opts):
        from .lm import given_signals
        lm = given_lm(documents, opts)
        pick = 0 if opts["signal"] == "entropy" else 1
        self.kept = [given_signals(lm, data, off)[pick] for data, off, _, _ in documents.batches()]

    def __call__(self, data, off, batch):
        return self.kept[batch]

    def threshold(self, documents, percentile):
        from .spans import threshold
        return threshold(np.concatenate(self.kept), percentile)


def given_lm(documents, opts):
    """The given LM (§3.2), fitted when it has `fit` and lm_fit is "same" (all documents) or
    "external" (lm_corpus); under "crossfit" a given LM is pretrained and used as it is."""
    from .lm import resolve_lm
    lm = resolve_lm(opts["lm"], opts["lm_window"], opts["lm_stride"])
    if hasattr(lm, "fit") and opts["lm_fit"] != "crossfit":
        lm.fit([data[off[i]:off[i + 1]].tobytes() for data, off, _, _ in documents.batches()
                for i in range(len(off) - 1)] if opts["lm_fit"] == "same" else lm_corpus_documents(opts["lm_corpus"]))
    return lm


def lm_corpus_documents(lm_corpus):
    """lm_corpus (bytes documents, texts, files: anything `newbpe.train` reads) as a list of bytes."""
    if isinstance(lm_corpus, (list, tuple)) and lm_corpus and all(isinstance(d, bytes) for d in lm_corpus):
        return list(lm_corpus)
    from ...corpus import Corpus
    return list(Corpus.of(lm_corpus).documents())


def signals_for(documents, opts):
    """The signal source of a training run: the n-gram (fitted here) or a given LM."""
    return NgramSignals(documents, opts) if opts["lm"] == "ngram" else GivenSignals(documents, opts)


class _Packed:
    """Documents already packed (data, doc_off): one batch."""

    def __init__(self, data, doc_off):
        self.data, self.doc_off = data, doc_off

    def batches(self):
        yield self.data, self.doc_off, None, None


def corpus_signals(data, doc_off, lm="ngram", lm_fit="crossfit", lm_corpus=None, order=5, discount=0.75,
                   window=2048, stride=512):
    """(entropy, surprisal), float64 arrays aligned with `data` (documents at doc_off), in one call
    (§3.3): the API for inspecting signals; training uses the batched passes above."""
    from ...checks import check
    from .lm import given_signals
    opts = {"signal": "entropy", "lm": lm, "lm_fit": check("lm_fit", lm_fit), "lm_corpus": lm_corpus,
            "lm_order": order, "lm_discount": discount, "lm_window": window, "lm_stride": stride}
    if (lm_fit == "external") != (lm_corpus is not None):
        raise NewbpeError("lm_fit='external' needs lm_corpus (the documents to fit the LM on), and "
                          "lm_corpus needs lm_fit='external'")
    docs = _Packed(data, doc_off)
    if lm == "ngram":
        return NgramSignals(docs, opts).both(data, doc_off)[:2]
    return given_signals(given_lm(docs, opts), data, doc_off)


def weighted_percentile(values, counts, percentile):
    """np.percentile(np.repeat(values, counts), percentile) (linear method, after dropping 0, ±inf
    and NaN; 0.0 when nothing is left) without building the repeated array."""
    keep = np.isfinite(values) & (values != 0) & (counts > 0)
    v, c = values[keep], counts[keep]
    if not len(v):
        return 0.0
    order = np.argsort(v, kind="stable")
    v, cum = v[order], np.cumsum(c[order])
    n = int(cum[-1])
    virtual = (n - 1) * np.true_divide(percentile, 100)
    lo = int(np.floor(virtual))
    hi = min(lo + 1, n - 1)
    gamma = virtual - lo
    a = v[np.searchsorted(cum, lo, side="right")]
    b = v[np.searchsorted(cum, hi, side="right")]
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


# ------------------------------------------------------------------------------ span types across batches
class SpanTypes:
    """Span types (flag, bytes) over all batches, in order of first occurrence, with their counts
    (per language too, for the balanced vocabulary). Python work is per distinct type of a batch."""

    def __init__(self):
        self.index, self.keys, self.counts, self.by_lang = {}, [], [], {}

    def ids(self, data, t_s, t_e, t_f, add=True):
        """Global ids of a batch's types (-1: unknown when add is False)."""
        raw = data.tobytes()
        out = np.empty(len(t_s), np.int64)
        for t in range(len(t_s)):
            key = (int(t_f[t]), raw[t_s[t]:t_e[t] + 1])
            g = self.index.get(key)
            if g is None:
                if not add:
                    out[t] = -1
                    continue
                g = self.index[key] = len(self.keys)
                self.keys.append(key)
                self.counts.append(0)
            out[t] = g
        return out

    def add(self, gid, t_c, lang_counts=None):
        for g, c in zip(gid.tolist(), t_c.tolist()):
            self.counts[g] += c
        for lang, c in (lang_counts or {}).items():
            have = self.by_lang.setdefault(lang, {})
            for g, k in zip(gid.tolist(), c.tolist()):
                if k:
                    have[g] = have.get(g, 0) + k

    def ranked(self, counts=None, ties="bytes"):
        """Non-base types as (bytes, ident, count, id), by count descending, then (`ties`) by first
        occurrence in corpus order (``"first_occurrence"``: the reference's stable sort, §6, invariant
        5) or by (bytes, flag) (``"bytes"``: independent of document order, invariant 10);
        counts: {id: count} of one language (default: all counts)."""
        from ...vocab import IDENT_CONTINUATION, IDENT_PLAIN
        from .vocab import is_base
        counts = dict(enumerate(self.counts)) if counts is None else counts
        if ties == "first_occurrence":
            def key(g):
                return -counts[g], g
        else:
            def key(g):
                return -counts[g], self.keys[g][1], self.keys[g][0]
        out = []
        for g in sorted(counts, key=key):
            flag, tok = self.keys[g]
            ident = IDENT_PLAIN if flag else IDENT_CONTINUATION
            if counts[g] > 0 and not is_base(tok, ident):
                out.append((tok, ident, counts[g], g))
        return out


def batch_spans(signals, batch, data, off, boundary, opts, theta):
    """Spans of batch number `batch` (§5.2-§5.4) and its local span types."""
    from . import spans as S
    sig = signals(data, off, batch)
    mode = S.COMBINED if opts["constraint"] == "combined" else S.MONOTONIC
    starts, ends = S.detect_spans(data, off, sig, boundary, mode, theta)
    type_of, t_s, t_e, t_f, t_c = S.span_types(data, boundary, starts, ends)
    return starts, ends, type_of, t_s, t_e, t_f, t_c


class Words:
    """Distinct re-segmented words over all batches (BPE completion's word table)."""

    def __init__(self):
        self.index, self.seqs, self.counts = {}, [], []

    def add(self, units, offsets, counts):
        for w in range(len(counts)):
            seq = units[offsets[w]:offsets[w + 1]]
            key = seq.tobytes()
            i = self.index.get(key)
            if i is None:
                i = self.index[key] = len(self.seqs)
                self.seqs.append(seq)
                self.counts.append(0)
            self.counts[i] += int(counts[w])

    def arrays(self):
        offsets = np.zeros(len(self.seqs) + 1, np.int64)
        np.cumsum([len(s) for s in self.seqs], out=offsets[1:])
        units = np.concatenate(self.seqs) if self.seqs else np.zeros(0, np.int32)
        return units.astype(np.int32), offsets, np.array(self.counts, np.int64)
