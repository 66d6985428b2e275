"""`EvalResult`: what `run_eval` returns and every report (terminal, csv, json, markdown, latex,
plots, HTML) reads. The shape is shared with the report code: keep it (issue 18)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EvalResult:
    """tokenizers: [{"label", "source", "kind", "vocab_size"}] in the order given;
    corpora: [{"label", "path", "language", "bytes", "chars", "words", "lines"}] in the order given;
    rows: one per (tokenizer, corpus): {"tokenizer", "corpus", "language", <metric>: value, ...};
    totals: one per tokenizer over all corpora pooled, with "gini" (None below two languages);
    parity: one per (tokenizer, pair): {"tokenizer", "reference", "other", "premium", "parity_share", "lines"};
    morphology: one per (tokenizer, file): {"tokenizer", "file", "kind", "score"|"precision"/"recall"/"f1",
    "n", "excluded"} (+ the same keys suffixed "_space": newbpe/evaluation/morphology.py);
    curves: label → [{"merges", "vocab_size", "bytes_per_token"}] for rank-BPE newbpe models;
    histograms: label → {"token_length": {bytes: count}, "tokens_per_word": {n: count}};
    samples: [{"text", "segments": {label: [pieces that concatenate to text]}}];
    metric_info: metric name → {"title", "formula", "source", "better"}."""
    tokenizers: list[dict[str, Any]] = field(default_factory=list)
    corpora: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: list[dict[str, Any]] = field(default_factory=list)
    parity: list[dict[str, Any]] = field(default_factory=list)
    morphology: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    histograms: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)

    FIELDS = ("tokenizers", "corpora", "rows", "totals", "parity", "morphology", "curves", "histograms",
              "samples", "metric_info")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in a stable key order (FIELDS, then each entry's insertion order; histogram
        keys become strings, as JSON needs)."""
        out: dict[str, Any] = {}
        for name in self.FIELDS:
            value = getattr(self, name)
            if name == "histograms":
                value = {label: {kind: {str(k): int(v) for k, v in sorted(h.items())} for kind, h in hists.items()}
                         for label, hists in value.items()}
            out[name] = value
        return out
