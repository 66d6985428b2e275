"""Intrinsic metrics of a tokenization, accumulated as counts while a corpus streams by.

A corpus is read as lines; each line is encoded on its own, without its line break (as Petrov et
al. 2023 encode sentences), so every quantity below is over those lines. N = tokens emitted,
B = UTF-8 bytes, C = characters, W = whitespace words (maximal runs of bytes other than ASCII
whitespace, i.e. `bytes.split()`), P = GPT-2 pre-tokens (the gpt2 preset, newbpe's scanner),
c_t = count of token type t, p_t = c_t / N, T = types observed (c_t > 0), |V| = vocabulary size.

| metric | formula | source |
|---|---|---|
| bytes_per_token | B / N | compression (Zouhar et al. 2023; swiss-ai/tokenizer-intrinsic-evals "compression rate") |
| chars_per_token | C / N | idem, in characters |
| fertility | N / W | Rust et al. 2021; swiss-ai fertility |
| fertility_pretoken | N / P | fertility per GPT-2 pre-token (the unit BPE merges within) |
| split_words | words overlapped by ≥ 2 token spans / W | Rust et al. 2021 "proportion of continued words" |
| renyi_entropy | H_α = log2(Σ p_t^α) / (1 − α), α = 2.5 by default | Zouhar et al. 2023; zouharvi/tokenization-scorer |
| renyi_efficiency | H_α / log2 T | tokenization-scorer's default (observed vocabulary) |
| renyi_efficiency_vocab | H_α / log2 |V| | Zouhar et al. 2023 (full vocabulary; tokenization-scorer `vocab=`) |
| shannon_entropy | H = −Σ p_t log2 p_t (bits) | tokenization-scorer `shannon_entropy` |
| shannon_efficiency | H / log2 T | tokenization-scorer `shannon_efficiency` |
| shannon_efficiency_vocab | H / log2 |V| | idem with `vocab=|V|` |
| vocab_utilisation | T / |V| | swiss-ai "vocabulary utilisation" |
| type_token_ratio | T / N | swiss-ai TTR |
| mean_token_bytes | Σ (end − start) / N_pos over tokens with a span | mean token length in bytes |
| mean_token_chars | Σ characters in span / N_pos | mean token length in characters |
| inner_space_share | tokens with a whitespace byte after a non-whitespace byte of the same token / N_pos | multi-word tokens (SuperBPE, Liu et al. 2025) |
| gini | Σ_i Σ_j |c_i − c_j| / (2 n² μ), c_l = tokens / non-empty lines of language l | swiss-ai "Tokenizer Fairness Gini" |
| premium | Σ tokens(other) / Σ tokens(reference) over aligned lines | Petrov et al. 2023 |
| parity_share | share of aligned line pairs with 1/(1+τ) ≤ tokens(other)/tokens(reference) ≤ 1+τ, τ = 0.1 | per-line parity (defined here; empty = empty counts as parity) |

N_pos: tokens with a non-empty byte span (newbpe/evaluation/tokenizers.py: pieces of a character
beyond its first, byte-fallback, have none). The entropies are in bits, as in tokenization-scorer;
efficiencies do not depend on the log base. Gini needs ≥ 2 languages (else None); on parallel text
(the same lines in every language, swiss-ai's setting) c_l compares the token counts of the same
content directly.
"""
from __future__ import annotations

import numpy as np

#: per-line parity tolerance τ (parity_share): a line pair within 10 % either way counts as parity
PARITY_TOLERANCE = 0.1
_WS = np.zeros(256, dtype=bool)
_WS[list(b" \t\n\r\x0b\x0c")] = True


def _info(title, formula, source, better):
    return {"title": title, "formula": formula, "source": source, "better": better}


def metric_info(alpha=2.5):
    """metric name → {"title", "formula", "source", "better"} (the table in the module docstring)."""
    zouhar = "Zouhar et al. 2023, Tokenization and the Noiseless Channel; zouharvi/tokenization-scorer"
    swiss = "swiss-ai/tokenizer-intrinsic-evals"
    return {
        "tokens": _info("Tokens", "N", "count", None),
        "types": _info("Types observed", "T = |{t : c_t > 0}|", "count", None),
        "bytes_per_token": _info("Bytes per token", "B / N", swiss + " (compression rate)", "higher"),
        "chars_per_token": _info("Characters per token", "C / N", swiss + " (compression rate)", "higher"),
        "fertility": _info("Fertility (tokens per word)", "N / W, W = bytes.split() words",
                           "Rust et al. 2021; " + swiss, "lower"),
        "fertility_pretoken": _info("Tokens per GPT-2 pre-token", "N / P, P = gpt2-preset pre-tokens",
                                    "newbpe (fertility per pre-token)", "lower"),
        "split_words": _info("Proportion of words split", "|{w : ≥2 token spans overlap w}| / W",
                             "Rust et al. 2021 (proportion of continued words)", "lower"),
        "renyi_entropy": _info(f"Rényi entropy (α={alpha:g}, bits)", "H_α = log2(Σ p_t^α) / (1 − α)", zouhar, None),
        "renyi_efficiency": _info(f"Rényi efficiency (α={alpha:g}, observed types)", "H_α / log2 T",
                                  zouhar, "higher"),
        "renyi_efficiency_vocab": _info(f"Rényi efficiency (α={alpha:g}, |V|)", "H_α / log2 |V|", zouhar, "higher"),
        "shannon_entropy": _info("Shannon entropy (bits)", "H = −Σ p_t log2 p_t", zouhar, None),
        "shannon_efficiency": _info("Shannon efficiency (observed types)", "H / log2 T", zouhar, "higher"),
        "shannon_efficiency_vocab": _info("Shannon efficiency (|V|)", "H / log2 |V|", zouhar, "higher"),
        "vocab_utilisation": _info("Vocabulary utilisation", "T / |V|", swiss, "higher"),
        "type_token_ratio": _info("Type-token ratio", "T / N", swiss, None),
        "mean_token_bytes": _info("Mean token length (bytes)", "Σ span bytes / N_pos", "token length", None),
        "mean_token_chars": _info("Mean token length (characters)", "Σ span characters / N_pos", "token length", None),
        "inner_space_share": _info("Tokens with an inner space", "|{t : whitespace after a non-space byte in t}| / N_pos",
                                   "Liu et al. 2025, SuperBPE (superword tokens)", None),
        "gini": _info("Gini of per-language token cost", "Σ_i Σ_j |c_i − c_j| / (2 n² μ), c_l = tokens / non-empty lines",
                      swiss + " (Tokenizer Fairness Gini)", "lower"),
        "premium": _info("Tokenization premium", "Σ tokens(other) / Σ tokens(reference)",
                         "Petrov et al. 2023, Language Model Tokenizers Introduce Unfairness Between Languages", "lower"),
        "parity_share": _info(f"Line pairs at parity (±{PARITY_TOLERANCE:g})",
                              f"|{{i : 1/(1+τ) ≤ o_i/r_i ≤ 1+τ}}| / lines, τ={PARITY_TOLERANCE:g}",
                              "Petrov et al. 2023 (parity), per line", "higher"),
        "morphscore": _info("MorphScore", "|{w : a token boundary at len(pt1)}| / |{w : ≥ 2 tokens}|",
                            "Arnett & Bergen 2025, catherinearnett/morphscore", "higher"),
        "boundary_f1": _info("Morpheme-boundary F1", "2PR / (P + R), micro over internal boundaries",
                             "SIGMORPHON 2022 segmentation (Batsuren et al. 2022)", "higher"),
    }


# ---------------------------------------------------------------------------------- entropy
def _probabilities(counts):
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    return c / c.sum() if len(c) else c


def renyi_entropy(counts, alpha=2.5):
    """H_α in bits of the unigram distribution given by `counts` (an array indexed by token id; the
    sum runs in id order, so the value is the same whatever order the tokens came in). α = 1 is
    Shannon's entropy."""
    p = _probabilities(counts)
    if not len(p):
        return 0.0
    if alpha == 1:
        return shannon_entropy(counts)
    return float(np.log2(np.sum(p ** alpha)) / (1 - alpha))


def shannon_entropy(counts):
    p = _probabilities(counts)
    return float(-np.sum(p * np.log2(p))) if len(p) else 0.0


def efficiency(entropy, size):
    """entropy / log2(size); 0 for a support of fewer than two types."""
    return float(entropy / np.log2(size)) if size >= 2 else 0.0


def gini(costs):
    """Σ_i Σ_j |c_i − c_j| / (2 n² μ) (swiss-ai's Tokenizer Fairness Gini); None below 2 values."""
    c = np.asarray(costs, dtype=np.float64)
    if len(c) < 2 or c.mean() == 0:
        return None
    return float(np.abs(c[:, None] - c[None, :]).sum() / (2 * len(c) ** 2 * c.mean()))


def parity(reference_counts, other_counts):
    """(premium, parity_share) of two aligned per-line token-count arrays (module docstring)."""
    r = np.asarray(reference_counts, dtype=np.int64)
    o = np.asarray(other_counts, dtype=np.int64)
    premium = float(o.sum() / r.sum()) if r.sum() else 0.0
    ratio = np.divide(o, r, out=np.full(len(r), np.inf), where=r > 0)
    at_parity = (ratio >= 1 / (1 + PARITY_TOLERANCE)) & (ratio <= 1 + PARITY_TOLERANCE)
    at_parity |= (r == 0) & (o == 0)
    return premium, float(at_parity.mean()) if len(r) else 0.0


# ---------------------------------------------------------------------------------- spans
def word_spans(data, text_offsets):
    """(starts, ends) of the whitespace words of a batch: runs of non-ASCII-whitespace bytes, cut
    at text boundaries (texts are concatenated in `data`, a uint8 array)."""
    n = len(data)
    if not n:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ws = _WS[data]
    word = ~ws
    begin = np.zeros(n, dtype=bool)
    begin[0] = True
    begin[1:] = ws[:-1]
    end = np.zeros(n, dtype=bool)
    end[-1] = True
    end[:-1] = ws[1:]
    cut = text_offsets[(text_offsets > 0) & (text_offsets < n)]
    begin[cut] = True
    end[cut - 1] = True
    return np.flatnonzero(word & begin), np.flatnonzero(word & end) + 1


def tokens_per_word(starts, ends, w_starts, w_ends):
    """How many (positioned, non-decreasing) token spans overlap each word span."""
    keep = ends > starts
    s, e = starts[keep], ends[keep]
    return np.searchsorted(s, w_ends, "left") - np.searchsorted(e, w_starts, "right")


def inner_space_mask(data, starts, ends):
    """Tokens with a whitespace byte after a non-whitespace byte inside their span ("of the",
    " of the", "word "), for positioned tokens; a token of spaces or " word" has none."""
    n = len(data)
    out = np.zeros(len(starts), dtype=bool)
    if not n or not len(starts):
        return out
    ws = _WS[data]
    idx = np.arange(n)
    # first non-whitespace position at or after i (n if none)
    nxt = np.where(~ws, idx, n)
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    # last whitespace position at or before i (-1 if none)
    prv = np.maximum.accumulate(np.where(ws, idx, -1))
    pos = ends > starts
    s, e = starts[pos], ends[pos]
    first_word = nxt[np.minimum(s, n - 1)]
    last_space = prv[e - 1]
    out[pos] = (first_word < e) & (last_space > first_word)
    return out


class Accumulator:
    """Counts of one tokenizer on one corpus (or pooled over several: `add`), updated batch by batch;
    memory is one int64 per vocabulary id plus the histograms, whatever the corpus size."""

    SCALARS = ("tokens", "positioned", "span_bytes", "span_chars", "inner_space", "split_words")

    def __init__(self, vocab_size):
        self.counts = np.zeros(max(int(vocab_size), 1), dtype=np.int64)
        self.values = dict.fromkeys(self.SCALARS, 0)
        self.token_length = np.zeros(1, dtype=np.int64)
        self.per_word = np.zeros(1, dtype=np.int64)

    @staticmethod
    def _grow(a, size):
        return a if len(a) >= size else np.concatenate([a, np.zeros(size - len(a), dtype=np.int64)])

    def _bin(self, name, values):
        if len(values):
            b = np.bincount(values)
            setattr(self, name, self._grow(getattr(self, name), len(b)))
            getattr(self, name)[:len(b)] += b

    def update(self, encoded, data, text_offsets, lead_cum, w_starts, w_ends):
        """Add one batch: `encoded` (tokenizers.Encoded), `data` its bytes (uint8), `lead_cum` the
        running count of UTF-8 lead bytes (characters), the batch's word spans."""
        ids, starts, ends = encoded.ids, encoded.starts, encoded.ends
        if len(ids):
            self._bin("counts", ids)
        pos = ends > starts
        lengths = (ends - starts)[pos]
        v = self.values
        v["tokens"] += len(ids)
        v["positioned"] += int(pos.sum())
        v["span_bytes"] += int(lengths.sum())
        v["span_chars"] += int((lead_cum[ends[pos]] - lead_cum[starts[pos]]).sum())
        v["inner_space"] += int(inner_space_mask(data, starts, ends).sum())
        self._bin("token_length", lengths)
        per_word = tokens_per_word(starts, ends, w_starts, w_ends)
        v["split_words"] += int((per_word > 1).sum())
        self._bin("per_word", per_word)

    def add(self, other):
        for name in ("counts", "token_length", "per_word"):
            mine = self._grow(getattr(self, name), len(getattr(other, name)))
            mine[:len(getattr(other, name))] += getattr(other, name)
            setattr(self, name, mine)
        for k in self.SCALARS:
            self.values[k] += other.values[k]

    def metrics(self, sizes, vocab_size, alpha):
        """The metric dict of these counts over a text of `sizes` {bytes, chars, words, pretokens}."""
        v, n = self.values, self.values["tokens"]
        types = int(np.count_nonzero(self.counts))
        h_a = renyi_entropy(self.counts, alpha)
        h_1 = shannon_entropy(self.counts)
        pos = v["positioned"]

        def ratio(a, b):
            return float(a / b) if b else 0.0
        return {
            "tokens": n,
            "types": types,
            "bytes_per_token": ratio(sizes["bytes"], n),
            "chars_per_token": ratio(sizes["chars"], n),
            "fertility": ratio(n, sizes["words"]),
            "fertility_pretoken": ratio(n, sizes["pretokens"]),
            "split_words": ratio(v["split_words"], sizes["words"]),
            "renyi_entropy": h_a,
            "renyi_efficiency": efficiency(h_a, types),
            "renyi_efficiency_vocab": efficiency(h_a, vocab_size),
            "shannon_entropy": h_1,
            "shannon_efficiency": efficiency(h_1, types),
            "shannon_efficiency_vocab": efficiency(h_1, vocab_size),
            "vocab_utilisation": ratio(types, vocab_size),
            "type_token_ratio": ratio(types, n),
            "mean_token_bytes": ratio(v["span_bytes"], pos),
            "mean_token_chars": ratio(v["span_chars"], pos),
            "inner_space_share": ratio(v["inner_space"], pos),
        }

    def histograms(self):
        """{"token_length": {bytes: count}, "tokens_per_word": {n: count}} (non-zero bins only)."""
        def nonzero(a):
            return {int(i): int(a[i]) for i in np.flatnonzero(a)}
        return {"token_length": nonzero(self.token_length), "tokens_per_word": nonzero(self.per_word)}
