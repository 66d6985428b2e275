"""Morphology: MorphScore and morpheme-boundary precision / recall / F1.

**MorphScore** (Arnett & Bergen 2025, "Why do language models perform worse for morphologically
complex languages?", catherinearnett/morphscore `morphscore.py`): files with columns `full_word`,
`pt1`, `rest` (pt1 + rest = full_word, one morpheme boundary each). The reference tokenizes the
bare word, scores 1 when exactly one cut of the token list gives [pt1, rest], 0 otherwise, and
drops words the tokenizer keeps as one token (point 0 → excluded) before averaging. Here, on byte
spans: the boundary offset is the UTF-8 byte length of pt1; a word is excluded when a single token
span overlaps it; score = share of the remaining words with a token boundary exactly at the offset
(token boundaries are unique, so "exactly one cut" is "a boundary there"). Both forms are reported:
`score`/`n`/`excluded` for the bare word (the reference's), `score_space`/`n_space`/`excluded_space`
for the word after a space (" walked": how the word appears inside a sentence for GPT-style
pre-tokenizers; the offset moves by the space's one byte and only the word's own bytes count).

**Boundary precision / recall / F1** against SIGMORPHON 2022 segmentation files (Batsuren et al.
2022), `word TAB morphs TAB category`: gold boundaries are the internal byte offsets between
morphs, predicted ones the internal token boundaries inside the word; micro-averaged over all words
(P = Σ|pred ∩ gold| / Σ|pred|, R = Σ|pred ∩ gold| / Σ|gold|). Only surface segmentations (morphs
that concatenate to the word, space-separated: `*.surface.tsv`) give byte offsets; a canonical file
(morphs joined by " @@", which may differ from the word's spelling) is refused with the advice to
use the surface file. `n` = words scored (single-morpheme words count: every boundary a tokenizer
puts in them is a false positive); `excluded` = multi-word entries ("mouth harpist": the spaces that
separate morphs cannot tell a morph boundary from the word's own space), left out. The `_space` keys: the same after a leading space.
"""
from __future__ import annotations

import csv
import os

import numpy as np

from ..errors import NewbpeError

MORPHSCORE_COLUMNS = ("full_word", "pt1", "rest")
BATCH_WORDS = 4096


def _open_text(path, what):
    if not os.path.isfile(path):
        raise NewbpeError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise NewbpeError(f"cannot read {what} {path}: {e}") from None


def read_morphscore(path):
    """[(full_word, pt1 byte length)] of a MorphScore CSV; missing columns or a row whose pt1 + rest
    is not full_word are one-line errors naming the file."""
    text = _open_text(path, "MorphScore file")
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in MORPHSCORE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise NewbpeError(f"{path}: MorphScore file lacks column(s) {', '.join(missing)} "
                          f"(needs {', '.join(MORPHSCORE_COLUMNS)})")
    rows = []
    for line, row in enumerate(reader, 2):
        word, pt1, rest = (row[c] or "" for c in MORPHSCORE_COLUMNS)
        if not word:
            continue
        if pt1 + rest != word:
            raise NewbpeError(f"{path}:{line}: pt1 + rest ({pt1!r} + {rest!r}) is not full_word {word!r}")
        rows.append((word, len(pt1.encode("utf-8"))))
    if not rows:
        raise NewbpeError(f"{path}: MorphScore file has no words")
    return rows


def read_segmentation(path):
    """([(word, internal boundary byte offsets)], multi-word entries left out) of a SIGMORPHON 2022
    surface segmentation file."""
    text = _open_text(path, "segmentation file")
    rows, excluded = [], 0
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        fields = raw.split("\t")
        if len(fields) < 2:
            raise NewbpeError(f"{path}:{line}: expected 'word TAB morphs', got {raw[:60]!r}")
        word, morphs = fields[0], fields[1]
        if " @@" in morphs:
            raise NewbpeError(f"{path}:{line}: a canonical segmentation (' @@') has no byte offsets in the word; "
                              "use the surface file (*.surface.tsv)")
        if " " in word:
            excluded += 1
            continue
        parts = morphs.split(" ")
        if "".join(parts) != word:
            raise NewbpeError(f"{path}:{line}: morphs {morphs!r} do not spell {word!r} (need a surface segmentation)")
        offsets, pos = [], 0
        for p in parts[:-1]:
            pos += len(p.encode("utf-8"))
            offsets.append(pos)
        rows.append((word, offsets))
    if not rows:
        raise NewbpeError(f"{path}: segmentation file has no words")
    return rows, excluded


def word_boundaries(adapter, words, space):
    """For each word: (internal token boundaries as byte offsets into the word, tokens overlapping
    it). With `space` the word is encoded after a space and offsets still count from the word."""
    out = []
    pad = 1 if space else 0
    for i in range(0, len(words), BATCH_WORDS):
        texts = [(" " + w) if space else w for w in words[i:i + BATCH_WORDS]]
        lens = [len(t.encode("utf-8", "surrogateescape")) for t in texts]
        offs = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lens, out=offs[1:])
        enc = adapter.encode(texts, offs)
        for k in range(len(texts)):
            lo, hi = offs[k] + pad, offs[k + 1]
            sl = slice(enc.token_bounds[k], enc.token_bounds[k + 1])
            s, e = enc.starts[sl], enc.ends[sl]
            keep = (e > s) & (e > lo) & (s < hi)         # tokens overlapping the word's own bytes
            inner = s[keep]
            inner = inner[(inner > lo) & (inner < hi)] - lo
            out.append((set(inner.tolist()), int(keep.sum())))
    return out


def morphscore(adapter, rows, space=False):
    """(score, n, excluded) of MorphScore rows (read_morphscore) for one tokenizer."""
    found = word_boundaries(adapter, [w for w, _ in rows], space)
    hits = n = excluded = 0
    for (_, offset), (bounds, n_tokens) in zip(rows, found):
        if n_tokens <= 1:
            excluded += 1
            continue
        n += 1
        hits += offset in bounds
    return (hits / n if n else 0.0), n, excluded


def boundary_prf(adapter, rows, space=False):
    """(precision, recall, f1, n) of segmentation rows (read_segmentation), micro-averaged."""
    found = word_boundaries(adapter, [w for w, _ in rows], space)
    tp = n_pred = n_gold = 0
    for (_, gold), (pred, _) in zip(rows, found):
        gold = set(gold)
        tp += len(pred & gold)
        n_pred += len(pred)
        n_gold += len(gold)
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1, len(rows)


def morphology_entry(adapter, label, path, kind, rows, left_out=0):
    """One EvalResult.morphology entry (both the bare and the space-prefixed forms); `left_out`:
    the entries read_segmentation excluded."""
    entry = {"tokenizer": label, "file": os.fspath(path), "kind": kind}
    for space, suffix in ((False, ""), (True, "_space")):
        if kind == "morphscore":
            score, n, excluded = morphscore(adapter, rows, space)
            entry.update({"score" + suffix: score, "n" + suffix: n, "excluded" + suffix: excluded})
        else:
            p, r, f1, n = boundary_prf(adapter, rows, space)
            entry.update({"precision" + suffix: p, "recall" + suffix: r, "f1" + suffix: f1,
                          "n" + suffix: n, "excluded" + suffix: left_out})
    return entry
