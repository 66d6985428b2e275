"""Per-byte signals and spans for inspection (`newbpe signals FILE`, `newbpe.trainers.bytespan.inspect`):
what the trainer sees before it builds a vocabulary (specs bytespan.md §3-§5)."""
import numpy as np

from ...errors import NewbpeError


def inspect(source, pretokenizer="gpt2", signal="entropy", constraint="combined", threshold_percentile=30.0,
            lm="ngram", lm_fit="crossfit", lm_order=5, lm_discount=0.75, add_prefix_space=False, split="line"):
    """Signals and spans of every document of `source` (anything `newbpe.train` reads as text).
    Returns (documents, theta): one dict per document with `bytes`, `entropy`, `surprisal` (float64
    arrays), `boundary` (uint8) and `spans` (inclusive (start, end) byte offsets within the document);
    theta is the combined constraint's threshold (None otherwise). The global constraint has no
    per-document spans (its segments depend on when training stops)."""
    from ...checks import check
    from ...corpus import Corpus
    from . import OPTIONS, check_options
    from . import spans as S
    from .passes import Documents, corpus_signals
    opts = {**OPTIONS, "signal": signal, "constraint": constraint, "threshold_percentile": threshold_percentile,
            "lm": lm, "lm_fit": lm_fit, "lm_order": lm_order, "lm_discount": lm_discount,
            "add_prefix_space": add_prefix_space}
    for k in ("signal", "constraint", "threshold_percentile", "lm_fit", "lm_order", "lm_discount", "add_prefix_space"):
        opts[k] = check(k, opts[k])
    if constraint == "global":
        raise NewbpeError("signals shows the spans of the monotonic and combined constraints (not global)")
    pretok = check_options(opts, pretokenizer, "bytes")
    corpus = Corpus.of(source, split=split)
    corpus.require_text("signals")
    docs = Documents(corpus, (), None, add_prefix_space, pretok, batch_bytes=1 << 62)
    data, off, boundary, _ = docs.whole()
    ent, sur = corpus_signals(data, off, lm, lm_fit, None, lm_order, lm_discount)
    sig = ent if signal == "entropy" else sur
    theta = S.threshold(sig, threshold_percentile) if constraint == "combined" else None
    starts, ends = S.detect_spans(data, off, sig, boundary, S.COMBINED if theta is not None else S.MONOTONIC,
                                  theta or 0.0)
    doc_of = np.searchsorted(off, starts, side="right") - 1
    out = []
    for d in range(len(off) - 1):
        a, b = off[d], off[d + 1]
        mine = doc_of == d
        out.append({"bytes": data[a:b].tobytes(), "entropy": ent[a:b], "surprisal": sur[a:b],
                    "boundary": boundary[a:b], "spans": list(zip((starts[mine] - a).tolist(), (ends[mine] - a).tolist()))})
    return out, theta


def format_rows(documents):
    """Tab-separated lines: doc, pos, byte (GPT-2 mapped), entropy, surprisal, boundary, span tag
    (B = a span starts, I = inside, - = outside)."""
    from ...units import bytes_to_token_string
    yield "doc\tpos\tbyte\tentropy\tsurprisal\tboundary\tspan"
    for d, doc in enumerate(documents):
        tag = ["-"] * len(doc["bytes"])
        for s, e in doc["spans"]:
            tag[s] = "B"
            for i in range(s + 1, e + 1):
                tag[i] = "I"
        for i, byte in enumerate(doc["bytes"]):
            yield (f"{d}\t{i}\t{bytes_to_token_string(bytes([byte]))}\t{doc['entropy'][i]:.4f}\t"
                   f"{doc['surprisal'][i]:.4f}\t{int(doc['boundary'][i])}\t{tag[i]}")
