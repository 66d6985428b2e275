"""ByteSpan (Goriely et al. 2025, arXiv 2506.18639): information-driven subword vocabularies
(specs bytespan.md). The algorithm box:

    documents   corpus -> UTF-8 bytes; pre-token boundary flags from the pre-tokenizer     §2, §4
    signals     a byte LM gives every byte its entropy or surprisal (default: byte 5-gram,
                crossfitted)                                                                  §3
    spans       monotonic: c_i = s_i < s_{i-1}; combined: ... or s_i < θ (percentile);
                maximal runs of continuation bytes + the byte before, split at boundaries     §5.2-5.4
                global: bytes visited by increasing signal, segments grown incrementally      §5.5
    vocabulary  base (767 + specials) + spans by count (ties: `span_ties`):
                frequency (all that fit), seeding (p·|V|), BPE-WP (p = 0); BPE completes      §6
    inference   greedy longest-prefix per pre-token (encoders/bytespan.py), no LM             §7

Tokens are (flag, bytes): word-initial or continuation (vocab.IDENT_*). Only the vocabulary is
kept: the model has no merges.
"""
import os

import numpy as np

from ...errors import NewbpeError

OPTIONS = {
    "signal": "entropy",               # "entropy" | "surprisal" (§3.1)
    "constraint": "combined",          # "monotonic" | "combined" | "global" (§5)
    "threshold_percentile": 30.0,      # θ of the combined constraint (§5.3)
    "proportion_bytespan": None,       # None: frequency variant; p in [0, 1]: seeding; 0: BPE-WP (§6)
    "balance_by_language": False,      # round-robin over the documents' languages (§6, Balanced)
    "lm": "ngram",                     # "ngram" | path of an HF causal byte LM | a ByteLM object (API)
    "lm_fit": "crossfit",              # "crossfit" | "same" | "external" (§3.3)
    "lm_corpus": None,                 # lm_fit="external": file(s) or texts to fit the LM on
    "lm_order": 5,                     # n-gram order (§3.3)
    "lm_discount": 0.75,               # absolute discount D (§3.3)
    "lm_window": 2048,                 # HF LM: sliding window and stride (§3.4)
    "lm_stride": 512,
    "add_prefix_space": False,         # parity with the reference's pre-tokenization (§4); training only
    "global_counting": "exact",        # "exact" | "reference" (§5.5 step 4)
    "global_base": "newbpe",           # "newbpe" (§5.1, 767) | "reference" (699, §5.5 step 7)
    "check_every": 1000,               # §5.5 step 5
    "frequency_threshold": 20,         # §5.5 step 5
    "include_left_byte": False,        # §5.5 step 3
    "span_ties": "bytes",              # spans of equal count: "bytes" (by bytes, then flag; languages of the
                                       # balanced variant by name: the model does not depend on document
                                       # order, §11.10) | "first_occurrence" (the reference, §6)
}



def check_options(opts, pretokenizer, units):
    """Everything checkable before reading the corpus (one-line NewbpeErrors)."""
    from ...pretokenizers import PreTokenizer
    if units != "bytes":
        raise NewbpeError("bytespan is byte-level: units must be 'bytes'")
    pretok = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer(pretokenizer)
    if not pretok.lossless or pretok.name == "whitespace":
        raise NewbpeError(f"bytespan needs a lossless pre-tokenizer (its spans are byte ranges), not {pretok.name}")
    lm = opts["lm"]
    if isinstance(lm, (str, os.PathLike)) and lm != "ngram" and not os.path.exists(lm):
        raise NewbpeError(f"lm must be 'ngram' or the path of an HF causal byte LM: {os.fspath(lm)!r} not found")
    lm_corpus = opts["lm_corpus"]
    if isinstance(lm_corpus, (str, os.PathLike)) and not os.path.isfile(lm_corpus):
        raise NewbpeError(f"lm_corpus: no such file: {os.fspath(lm_corpus)!r}")
    if (opts["lm_fit"] == "external") != (opts["lm_corpus"] is not None):
        raise NewbpeError("lm_fit='external' needs lm_corpus (what to fit the LM on), and lm_corpus needs "
                          "lm_fit='external'")
    if opts["constraint"] == "global" and opts["proportion_bytespan"] is not None:
        raise NewbpeError("the global constraint builds its own vocabulary (§5.5): proportion_bytespan does not apply")
    if opts["balance_by_language"] and opts["constraint"] == "global":
        raise NewbpeError("balance_by_language applies to the monotonic and combined constraints")
    return pretok


def train(corpus, vocab_size, special_tokens=(), progress=None, *, pretokenizer="gpt2", units="bytes",
          transform=None, **options):
    """Train ByteSpan (module doc) on a `Corpus` of text. Returns a `Tokenizer` (algo "bytespan").
    The corpus is read in batches, once per pass (passes.py)."""
    from ...checks import check_special_tokens
    from ...corpus import Corpus
    from . import passes as P
    from . import vocab as V
    opts = {**OPTIONS, **options}
    pretok = check_options(opts, pretokenizer, units)
    special_tokens = check_special_tokens(special_tokens)
    if opts["constraint"] == "global" and opts["global_base"] == "reference":
        from .global_spans import reference_base
        base = reference_base(special_tokens)
    else:
        base = V.base_tokens(special_tokens)
    if vocab_size is None or vocab_size <= len(base[0]):
        raise NewbpeError(f"vocab_size {vocab_size} is not above the base vocabulary ({len(special_tokens)} "
                          f"special tokens + {len(base[0]) - len(special_tokens)} = {len(base[0])}, §5.1)")
    corpus = Corpus.of(corpus)
    corpus.require_text("bytespan (a byte LM reads the documents)")
    balance = bool(opts["balance_by_language"])
    docs = P.Documents(corpus, special_tokens, transform, opts["add_prefix_space"], pretok,
                       _labelled(corpus) if balance else None)
    if opts["constraint"] == "global":                                  # one batch: a global sort (§5.5)
        from .global_spans import global_vocabulary
        docs.batch_bytes = 1 << 62
        data, doc_off, boundary, _ = docs.whole()
        sig = P.signals_for(docs, opts)(data, doc_off, 0)
        tokens, idents, stats = global_vocabulary(data, doc_off, sig, boundary, base, vocab_size, opts)
        return _tokenizer(pretok, special_tokens, tokens, idents, opts, stats)

    p = opts["proportion_bytespan"]
    types, picked, signals, theta, stats = P.SpanTypes(), [], None, 0.0, {}
    if p is None or p > 0:                                              # BPE-WP (p = 0) needs no LM
        signals = P.signals_for(docs, opts)                                                   # §3
        if opts["constraint"] == "combined":
            theta = signals.threshold(docs, opts["threshold_percentile"])                    # §5.3
        n_occ = 0
        for b, (data, off, boundary, langs) in enumerate(docs.batches()):                    # §5.2-5.4
            starts, ends, type_of, t_s, t_e, t_f, t_c = P.batch_spans(signals, b, data, off, boundary, opts, theta)
            per_lang = _per_language(langs, off, starts, type_of, len(t_s)) if balance else None
            types.add(types.ids(data, t_s, t_e, t_f), t_c, per_lang)
            n_occ += len(starts)
        want = vocab_size - len(base[0]) if p is None else max(int(p * vocab_size) - len(base[0]), 0)
        if balance:                                                                          # §6
            langs = list(types.by_lang) if opts["span_ties"] == "first_occurrence" else sorted(types.by_lang)
            picked = V.balanced([types.ranked(types.by_lang[lang], opts["span_ties"]) for lang in langs], want)
        else:
            picked = types.ranked(ties=opts["span_ties"])[:want]
        stats = {"theta": theta if opts["constraint"] == "combined" else None, "span_occurrences": int(n_occ),
                 "span_types": len(types.keys)}
    selected = [(tok, ident) for tok, ident, _, _ in picked]
    words = _resegmented(docs, signals, types, picked, len(base[0]), opts, theta)                   # §6.1
    engine = V.complete_with_bpe(words, base, selected, vocab_size, progress)                      # §6.2-6.4
    tokens, idents = engine.vocab_bytes(), engine.token_idents()
    n_added = len(tokens) - len(base[0])
    stats.update({"spans_in_vocab": len(selected), "bpe_completion_tokens": n_added - len(selected),
                  "bpe_completion_merges": len(engine.merge_events),
                  "share_from_spans": round(len(selected) / n_added, 4) if n_added else 0.0})
    if len(tokens) < vocab_size:
        import warnings
        warnings.warn(f"training stopped at vocab size {len(tokens)} < {vocab_size}: no pair left", stacklevel=3)
    return _tokenizer(pretok, special_tokens, tokens, idents, opts, stats)


def _per_language(langs, off, starts, type_of, n_types):
    """{language: span count per local type} of one batch."""
    doc_lang = np.array(langs, dtype=object)[np.searchsorted(off, starts, side="right") - 1]
    return {lang: np.bincount(type_of[doc_lang == lang], minlength=n_types) for lang in dict.fromkeys(langs)}


def _resegmented(docs, signals, types, picked, n_base, opts, theta):
    """The distinct words of the corpus re-segmented with the selected spans (§6 step 1)."""
    from . import passes as P
    from . import vocab as V
    sel_of = np.full(len(types.keys) + 1, -1, np.int64)
    sel_of[[g for _, _, _, g in picked]] = np.arange(len(picked))
    init_id, cont_id = V.byte_ids(n_base - 767)
    words = P.Words()
    none = np.zeros(0, np.int64)
    for b, (data, off, boundary, _) in enumerate(docs.batches()):
        starts = ends = which = none
        if picked:
            starts, ends, type_of, t_s, t_e, t_f, _ = P.batch_spans(signals, b, data, off, boundary, opts, theta)
            which = sel_of[types.ids(data, t_s, t_e, t_f, add=False)][type_of]
            keep = which >= 0
            starts, ends, which = starts[keep], ends[keep], which[keep]
        words.add(*V.resegment(data, off, boundary, starts, ends, (which + n_base).astype(np.int32), init_id, cont_id))
    return words.arrays()


def _labelled(corpus):
    """balance_by_language: (language, text) pairs — from a list of such pairs, or from files (each
    file one language, named by its path)."""
    from ...corpus import FILES, Corpus
    if corpus.kind == FILES:
        return [(path, t) for path in corpus.source for t in Corpus(path, split=corpus.split).texts()]
    src = corpus.source
    items = list(src) if isinstance(src, (list, tuple)) else None
    if not items or not all(isinstance(x, (list, tuple)) and len(x) == 2 and isinstance(x[1], str) for x in items):
        raise NewbpeError("balance_by_language needs documents with a language: a list of (language, text) "
                          "pairs, or files (one language each)")
    return [(str(lang), t) for lang, t in items]




def _tokenizer(pretok, special_tokens, tokens, idents, opts, stats):
    from ...model import Tokenizer
    from ...vocab import IDENT_CONTINUATION
    n = len(special_tokens)
    stats = {**stats,
             "initial_tokens": sum(1 for i in range(n, len(tokens)) if idents[i] != IDENT_CONTINUATION),
             "continuation_tokens": sum(1 for i in range(n, len(tokens)) if idents[i] == IDENT_CONTINUATION)}
    public = {k: v for k, v in opts.items() if k != "lm_corpus"}
    if not isinstance(public["lm"], str):
        public["lm"] = os.fspath(public["lm"]) if isinstance(public["lm"], os.PathLike) else type(public["lm"]).__name__
    public["lm_corpus"] = None if opts["lm_corpus"] is None else "external"
    return Tokenizer(algo="bytespan", units="bytes", pretokenizer=pretok, special_tokens=special_tokens,
                     n_alphabet=512, tokens=tokens, merges=[], options=public, stats=stats, encoder="bytespan",
                     idents=idents)
