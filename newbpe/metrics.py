"""Intrinsic tokenizer metrics (used by `newbpe eval`).

- bytes per token: UTF-8 bytes of the text / tokens;
- tokens per word: tokens / whitespace-separated words;
- Rényi efficiency (Zouhar et al., 2023), α = 2.5: H_α(p) / log |V| with p the unigram
  distribution of emitted tokens and H_α(p) = log(Σ p_i^α) / (1 − α);
- vocabulary use: share of the vocabulary emitted at least once.
"""
import math
from collections import Counter


def evaluate(tok, texts, alpha=2.5, threads=None):
    counts = Counter()
    n_bytes = n_words = n_tokens = 0
    batch = []

    def flush():
        nonlocal n_tokens
        for ids in tok.encode_batch(batch, threads=threads):
            counts.update(ids)
            n_tokens += len(ids)
        batch.clear()

    for text in texts:
        n_bytes += len(text.encode("utf-8", "surrogateescape"))
        n_words += len(text.split())
        batch.append(text)
        if len(batch) >= 2048:
            flush()
    flush()
    return summarize(counts, n_bytes, n_words, tok.vocab_size, alpha)


def renyi_efficiency(counts, vocab_size, alpha=2.5):
    total = sum(counts.values())
    if total == 0 or vocab_size < 2:
        return 0.0
    s = sum((c / total) ** alpha for c in counts.values())
    return (math.log(s) / (1 - alpha)) / math.log(vocab_size)


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
