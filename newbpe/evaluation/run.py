"""`run_eval`: compare tokenizers on corpora; returns an `EvalResult` (result.py).

Every input is checked before any encoding (tokenizers load, corpora exist and are not empty,
parallel pairs have equal line counts, morphology files parse), so a bad one fails in a second with
one line naming it. Then each corpus (and each parallel file) is read once per tokenizer as a
stream of batches of about BATCH_BYTES of lines: memory holds one batch, the per-id counts and the
histograms, plus one int per line for the files of a parallel pair (the per-line counts parity
needs). Corpus sizes (bytes, characters, words, GPT-2 pre-tokens) are counted during the first
tokenizer's pass. Results depend only on the inputs and options: counts are integers, floats are
computed from the totals, in id order (no dependence on threads or batch boundaries).

Labels: the given label, else the file name (a model directory's name; `tokenizer.json`'s
directory); a repeated label gets " (2)", " (3)"... in the order given.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import NewbpeError
from .metrics import Accumulator, gini, metric_info, parity, word_spans
from .result import EvalResult

#: bytes of lines per encoded batch: large enough that the numba/Rust encoders run long calls
#: (newbpe's own encode_batch groups about 4 MB), small enough that a batch's arrays stay a few MB
BATCH_BYTES = 1 << 20
SAMPLE_CHARS = (20, 300)       # a sample sentence is the first line of the first corpus this long


def label_of(source):
    if not isinstance(source, (str, os.PathLike)):
        return type(source).__name__
    path = os.path.normpath(os.fspath(source))
    name = os.path.basename(path)
    if name in ("tokenizer.json", "model.json"):
        name = os.path.basename(os.path.dirname(os.path.abspath(path))) or name
    return name


def unique_labels(labels):
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _lines(path, column="text"):
    """The lines of a corpus as str (surrogateescape, line break removed). Plain text is read
    directly; JSON Lines, JSON, Parquet and compressed files through `newbpe.sources` (each record's
    `column`, its lines), as every other command reads them."""
    from ..sources import is_plain
    path = os.fspath(path)
    if is_plain(path):
        with open(path, "rb") as f:
            for raw in f:
                line = raw.rstrip(b"\n")
                yield (line[:-1] if line.endswith(b"\r") else line).decode("utf-8", "surrogateescape")
        return
    from ..io import read_documents
    for line in read_documents([path], "line", column=column):
        line = line[:-1] if line.endswith("\n") else line
        yield line[:-1] if line.endswith("\r") else line


def read_batches(path, batch_bytes=None, column="text"):
    """Lists of lines of `path` (`_lines`), about `batch_bytes` (default BATCH_BYTES) of text each."""
    batch_bytes = batch_bytes or BATCH_BYTES
    batch, size = [], 0
    for line in _lines(path, column):
        batch.append(line)
        size += len(line) + 1
        if size >= batch_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _pairs(items, what):
    """[(thing, label)] from a list of pairs or of bare things (label None)."""
    out = []
    for item in items:
        if isinstance(item, (list, tuple)):
            if len(item) != 2:
                raise NewbpeError(f"each of {what} is (source, label) or a source, got {item!r}")
            out.append(tuple(item))
        else:
            out.append((item, None))
    return out


def check_corpus(path, column="text"):
    """A corpus must be a readable input (any format of `newbpe.sources`) with some non-whitespace text."""
    from ..sources import check_inputs
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise NewbpeError(f"corpus not found: {p}")
    check_inputs([p])
    try:
        if any(line.strip() for line in _lines(p, column)):
            return
    except OSError as e:
        raise NewbpeError(f"cannot read corpus {p}: {e.strerror}") from None
    raise NewbpeError(f"{p}: empty corpus (no text to evaluate on)")


def _line_count(path, column):
    return sum(1 for _ in _lines(path, column))


def _progress_size(path, column):
    """What `tick` will count for `path` over one pass: the file size of plain text, the lines'
    text of other inputs (one reading pass; their size on disk says little of their text)."""
    from ..sources import is_plain
    path = os.fspath(path)
    if is_plain(path):
        return os.path.getsize(path)
    return sum(len(line.encode("utf-8", "surrogateescape")) + 1 for line in _lines(path, column))


class _Batch:
    """One batch of lines as bytes, with what every tokenizer's metrics need from the text alone."""

    def __init__(self, lines):
        self.lines = lines
        encoded = [t.encode("utf-8", "surrogateescape") for t in lines]
        self.offsets = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=self.offsets[1:])
        self.data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        lead = (self.data & 0xC0) != 0x80
        self.lead_cum = np.zeros(len(self.data) + 1, dtype=np.int64)
        np.cumsum(lead, out=self.lead_cum[1:])
        self.w_starts, self.w_ends = word_spans(self.data, self.offsets)

    def sizes(self, pretokenizer):
        pieces = len(pretokenizer.piece_offsets(self.data, self.offsets, self.lines)) - 1 if len(self.data) else 0
        return {"bytes": len(self.data), "chars": sum(len(t) for t in self.lines), "words": len(self.w_starts),
                "pretokens": max(pieces, 0), "lines": len(self.lines),
                "nonempty_lines": sum(1 for t in self.lines if t.strip())}


def _encode_corpus(adapter, path, column, want_sizes, want_lines, tick):
    """(Accumulator, sizes or None, per-line token counts or None) of one tokenizer on one file."""
    from ..pretokenizers import PreTokenizer
    acc = Accumulator(adapter.vocab_size)
    sizes = dict.fromkeys(("bytes", "chars", "words", "pretokens", "lines", "nonempty_lines"), 0) if want_sizes else None
    gpt2 = PreTokenizer("gpt2") if want_sizes else None
    per_line = []
    for lines in read_batches(path, column=column):
        batch = _Batch(lines)
        enc = adapter.encode(lines, batch.offsets)
        acc.update(enc, batch.data, batch.offsets, batch.lead_cum, batch.w_starts, batch.w_ends)
        if sizes is not None:
            for k, v in batch.sizes(gpt2).items():
                sizes[k] += v
        if want_lines:
            per_line.append(np.diff(enc.token_bounds))
        tick(int(batch.offsets[-1]) + len(lines))
    lines_arr = np.concatenate(per_line) if per_line else np.zeros(0, dtype=np.int64)
    return acc, sizes, (lines_arr if want_lines else None)


def pieces_at_ends(text, ends):
    """`text` cut at its tokens' end offsets (bytes; cuts inside a character are dropped): pieces
    that concatenate to the text. Text no token covers (the space a whitespace pre-tokenizer drops)
    joins the token after it, as a leading space does in byte-level BPE."""
    data = text.encode("utf-8", "surrogateescape")
    cuts = sorted({int(s) for s in ends.tolist() if 0 < s < len(data) and (data[s] & 0xC0) != 0x80})
    bounds = [0] + cuts + [len(data)]
    return [data[a:b].decode("utf-8", "surrogateescape") for a, b in zip(bounds, bounds[1:]) if b > a]


def _sample_lines(path, n, column):
    if n <= 0:
        return []
    out = []
    for lines in read_batches(path, column=column):
        out.extend(t for t in lines if SAMPLE_CHARS[0] <= len(t) <= SAMPLE_CHARS[1])
        if len(out) >= n:
            break
    return out[:n]


def _curve_points(model, curve_merges):
    n = len(model.vocabulary.merges)
    if isinstance(curve_merges, int) and not isinstance(curve_merges, bool):
        if curve_merges < 1:
            raise NewbpeError(f"curve_merges must be at least 1, got {curve_merges}")
        return sorted({max(1, round(n * i / curve_merges)) for i in range(1, curve_merges + 1)} & set(range(n + 1)))
    try:
        return [int(m) for m in curve_merges]
    except (TypeError, ValueError):
        raise NewbpeError(f"curve_merges must be a number of points or a list of merge counts, got {curve_merges!r}") from None


def _curve(model, curve_merges, paths, threads, column):
    """bytes/token of the model's first N merges on all corpora (None when the model is not rank-BPE)."""
    from ..metrics import truncated_curve
    try:
        model.truncated(0)
    except NewbpeError:
        return None

    def texts():
        for p in paths:
            for lines in read_batches(p, column=column):
                yield from lines
    points = truncated_curve(model, texts, _curve_points(model, curve_merges), threads=threads)
    return [{"merges": p["merges"], "vocab_size": p["vocab_size"], "bytes_per_token": p["bytes_per_token"]}
            for p in points]


def run_eval(tokenizers: Sequence[tuple[Any, str | None]], corpora: Sequence[tuple[Any, str | None]], *,
             alpha: float = 2.5, morphscore: Iterable[Any] = (), segmentation: Iterable[Any] = (),
             parallel: Iterable[tuple[Any, Any]] = (), curve_merges: int | Sequence[int] | None = None,
             samples: int = 3, threads: int | None = None,
             progress: bool | str | Callable[..., Any] | None = None,
             tiktoken_pattern: str | None = None, column: str = "text") -> EvalResult:
    """Evaluate `tokenizers` ([(path or loaded tokenizer, label or None)], or bare paths) on
    `corpora` ([(path, language or None)], or bare paths): every metric of newbpe/evaluation/metrics.py per (tokenizer,
    corpus) and pooled per tokenizer, the parity of each `parallel` (reference, other) pair,
    MorphScore on `morphscore` CSV files, boundary P/R/F1 on `segmentation` (surface) files,
    bytes/token curves over the first merges of rank-BPE newbpe models (`curve_merges`: a list of
    merge counts, or k evenly spaced points), and `samples` sample lines cut into tokens.
    `alpha`: the Rényi order. `progress`: as elsewhere in newbpe ("eval" stage, input bytes).
    `tiktoken_pattern`: the pre-tokenization of .tiktoken files (a preset gpt2/cl100k/o200k or a
    regex; default: the preset the file name names, else gpt2: tokenizers.py). Corpora may be any
    input format of `newbpe.sources` (`column`: the field of JSON records or the Parquet column)."""
    from ..checks import check_threads
    from ..progress import resolve_progress
    from .morphology import morphology_entry, read_morphscore, read_segmentation
    from .tokenizers import load_adapter
    check_threads(threads)
    progress = resolve_progress(progress)
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha <= 0:
        raise NewbpeError(f"alpha must be a positive number, got {alpha!r}")
    tokenizers, corpora = _pairs(tokenizers, "tokenizers"), _pairs(corpora, "corpora")
    parallel = [tuple(p) for p in parallel]
    if any(len(p) != 2 for p in parallel):
        raise NewbpeError("each parallel pair is (reference path, other path)")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise NewbpeError(f"samples must be a non-negative integer, got {samples!r}")
    if not tokenizers:
        raise NewbpeError("no tokenizer to evaluate")
    if not corpora and not parallel and not morphscore and not segmentation:
        raise NewbpeError("nothing to evaluate on: give corpora, parallel pairs or morphology files")
    adapters = [load_adapter(src, threads, tiktoken_pattern) for src, _ in tokenizers]
    labels = unique_labels([lab or label_of(src) for src, lab in tokenizers])
    for path, _ in corpora:
        check_corpus(path, column)
    for ref, other in parallel:
        check_corpus(ref, column)
        check_corpus(other, column)
        n_ref, n_other = _line_count(ref, column), _line_count(other, column)
        if n_ref != n_other:
            raise NewbpeError(f"parallel pair {os.fspath(ref)} ({n_ref} lines) and {os.fspath(other)} "
                              f"({n_other} lines): line counts differ")
    morph_files = [(os.fspath(p), "morphscore", read_morphscore(os.fspath(p)), 0) for p in morphscore]
    morph_files += [(os.fspath(p), "segmentation", *read_segmentation(os.fspath(p))) for p in segmentation]

    corpus_paths = [os.fspath(p) for p, _ in corpora]
    parallel_paths = {os.fspath(p) for pair in parallel for p in pair}
    paths = list(dict.fromkeys(corpus_paths + [os.fspath(p) for pair in parallel for p in pair]))
    total = sum(_progress_size(p, column) for p in paths) * len(adapters) if progress is not None else 0
    done = [0]

    def tick(n):
        done[0] += n
        if progress is not None:
            progress("eval", done[0], total)

    result = EvalResult(metric_info=metric_info(alpha))
    result.tokenizers = [{"label": lab, "source": a.source, "kind": a.kind, "vocab_size": a.vocab_size}
                         for lab, a in zip(labels, adapters)]
    sizes: dict[str, dict[str, int]] = {}
    sample_texts = _sample_lines(corpus_paths[0], samples, column) if corpus_paths else []
    result.samples = [{"text": t, "segments": {}} for t in sample_texts]
    corpus_labels = unique_labels([label_of(p) for p, _ in corpora])
    for label, adapter in zip(labels, adapters):
        accs, per_line = {}, {}
        for path in paths:
            acc, found, lines = _encode_corpus(adapter, path, column, path not in sizes, path in parallel_paths, tick)
            accs[path] = acc
            if found is not None:
                sizes[path] = found
            if lines is not None:
                per_line[path] = lines
        pooled, pooled_sizes, costs = Accumulator(adapter.vocab_size), dict.fromkeys(sizes[paths[0]], 0) if paths else {}, {}
        for corpus_label, (path, lang) in zip(corpus_labels, corpora):
            path = os.fspath(path)
            metrics = accs[path].metrics(sizes[path], adapter.vocab_size, alpha)
            result.rows.append({"tokenizer": label, "corpus": corpus_label, "language": lang, **metrics})
            pooled.add(accs[path])
            for k in pooled_sizes:
                pooled_sizes[k] += sizes[path][k]
            if lang is not None:
                t, n = costs.get(lang, (0, 0))
                costs[lang] = (t + metrics["tokens"], n + sizes[path]["nonempty_lines"])
        if corpora:
            lang_costs = [t / n for t, n in (costs[k] for k in sorted(costs)) if n]
            result.totals.append({"tokenizer": label, **pooled.metrics(pooled_sizes, adapter.vocab_size, alpha),
                                  "gini": gini(lang_costs)})
            result.histograms[label] = pooled.histograms()
        for ref, other in parallel:
            ref, other = os.fspath(ref), os.fspath(other)
            premium, share = parity(per_line[ref], per_line[other])
            result.parity.append({"tokenizer": label, "reference": ref, "other": other, "premium": premium,
                                  "parity_share": share, "lines": len(per_line[ref])})
        for path, kind, rows, left_out in morph_files:
            result.morphology.append(morphology_entry(adapter, label, path, kind, rows, left_out))
        if curve_merges is not None and adapter.model is not None and corpus_paths:
            curve = _curve(adapter.model, curve_merges, corpus_paths, threads, column)
            if curve is not None:
                result.curves[label] = curve
        if sample_texts:
            batch = _Batch(sample_texts)
            enc = adapter.encode(sample_texts, batch.offsets)
            for k, sample in enumerate(result.samples):
                sl = slice(enc.token_bounds[k], enc.token_bounds[k + 1])
                sample["segments"][label] = pieces_at_ends(sample["text"], enc.ends[sl] - batch.offsets[k])
    result.corpora = [{"label": corpus_labels[i], "path": os.fspath(p), "language": lang,
                       **{k: sizes[os.fspath(p)][k] for k in ("bytes", "chars", "words", "lines")}}
                      for i, (p, lang) in enumerate(corpora)]
    return result
