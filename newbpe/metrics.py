"""Intrinsic tokenizer metrics (used by `newbpe eval`).

- bytes per token: UTF-8 bytes of the text / tokens;
- tokens per word: tokens / whitespace-separated words;
- Rényi efficiency (Zouhar et al., 2023), α = 2.5: H_α(p) / log |V| with p the unigram
  distribution of emitted tokens and H_α(p) = log(Σ p_i^α) / (1 − α);
- vocabulary use: share of the vocabulary emitted at least once;
- agreement of an approximate HF export with newbpe's own encoder (`agreement`);
- the truncated-vocabulary curve: bytes per token of the first N merges (`truncated_curve`,
  SuperBPE's analysis, specs supertokens.md §2.5).
"""
from collections import Counter


def evaluate(tok, texts, alpha=2.5, threads=None):
    """Metrics of `tok` on texts (str, or bytes decoded like training decodes them). The texts are
    encoded as a stream (Tokenizer.iter_encoded), so a long text costs no more than its longest
    piece; the CLI passes lines in parts cut at safe points (counts add up exactly: words never span
    such a cut)."""
    import numpy as np
    counts = np.zeros(tok.vocab_size, dtype=np.int64)
    sizes = [0, 0]                      # bytes, words

    def measured():
        for text in texts:
            if isinstance(text, (bytes, bytearray)):
                sizes[0] += len(text)
                text_str = text.decode("utf-8", "surrogateescape")
            else:
                sizes[0] += len(text.encode("utf-8", "surrogateescape"))
                text_str = text
            sizes[1] += len(text_str.split())
            yield text
    pending, n_pending = [], 0
    for _, ids, _ in tok.iter_encoded(measured(), threads=threads):
        pending.append(ids)
        n_pending += len(ids)
        if n_pending >= 1 << 20:
            counts += np.bincount(np.concatenate(pending), minlength=tok.vocab_size)
            pending, n_pending = [], 0
    if n_pending:
        counts += np.bincount(np.concatenate(pending), minlength=tok.vocab_size)
    used = np.flatnonzero(counts)
    return summarize(Counter(dict(zip(used.tolist(), counts[used].tolist()))), sizes[0], sizes[1],
                     tok.vocab_size, alpha)


def truncated_curve(tok, texts, n_merges, threads=None):
    """Metrics of the model truncated to its first N merges (`Tokenizer.truncated`), for each N in
    `n_merges`, on the same texts: how compression grows with the vocabulary (SuperBPE compares BPE
    and SuperBPE this way, supertokens.md §2.5). `texts` is a list, or a zero-argument callable that
    returns a fresh iterable of texts (each N reads them again). Returns one dict per N, in the
    given order: {"merges": N, "vocab_size": ..., **evaluate(...)}."""
    sizes = list(n_merges)
    models = [tok.truncated(n) for n in sizes]          # every N is checked before any encoding
    out = []
    for n, model in zip(sizes, models):
        res = evaluate(model, texts() if callable(texts) else texts, threads=threads)
        out.append({"merges": n, "vocab_size": model.vocab_size, **res})
    return out


def renyi_efficiency(counts, vocab_size, alpha=2.5):
    """H_α / log |V| of a {token: count} table (the formula lives in newbpe/evaluation/metrics.py)."""
    from .evaluation.metrics import efficiency, renyi_entropy
    return efficiency(renyi_entropy([counts[k] for k in sorted(counts)], alpha), vocab_size)


def summarize(counts, n_bytes, n_words, vocab_size, alpha=2.5):
    n_tokens = sum(counts.values())
    return {
        "bytes": n_bytes,
        "words": n_words,
        "tokens": n_tokens,
        "bytes_per_token": n_bytes / n_tokens if n_tokens else 0.0,
        "tokens_per_word": n_tokens / n_words if n_words else 0.0,
        f"renyi_efficiency_{alpha}": renyi_efficiency(counts, vocab_size, alpha),
        "vocab_used": len(counts) / vocab_size if vocab_size else 0.0,
    }


def agreement(tok, texts, hf=None, batch=4096):
    """How closely a (possibly approximate) HF export reproduces our encoder on `texts`.

    Compared per pre-token: `words` is the share of pre-tokens with identical ids; `tokens` is the
    share of our tokens whose byte span in the pre-token HF also produces."""
    if hf is None:
        from tokenizers import Tokenizer as HFTokenizer
        from .export.hf import to_hf_json
        hf = HFTokenizer.from_str(to_hf_json(tok, approximate=True))
    lengths = [len(tok.vocabulary.tokens[i]) for i in tok.vocabulary.model_ids]
    counts = {"words": 0, "same_words": 0, "tokens": 0, "same_tokens": 0}

    def spans(ids):
        out, pos = set(), 0
        for i in ids:
            out.add((pos, pos + lengths[i]))
            pos += lengths[i]
        return out

    def compare(pieces):
        ours = tok.encode_batch(pieces, disallowed_special=())
        theirs = [e.ids for e in hf.encode_batch(pieces, add_special_tokens=False)]
        for a, b in zip(ours, theirs):
            counts["words"] += 1
            counts["same_words"] += a == b
            counts["tokens"] += len(a)
            counts["same_tokens"] += len(spans(a) & spans(b))

    pending = []
    for text in texts:
        pending.extend(tok.pretokenizer.split(text))
        if len(pending) >= batch:
            compare(pending)
            pending = []
    if pending:
        compare(pending)
    return {"words": counts["same_words"] / max(counts["words"], 1),
            "tokens": counts["same_tokens"] / max(counts["tokens"], 1),
            "n_words": counts["words"], "n_tokens": counts["tokens"]}
