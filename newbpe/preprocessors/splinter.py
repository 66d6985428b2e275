"""SPLINTER: lossless nonconcatenative preprocessing for Hebrew, Arabic and Malay (specs `splinter.md`).

Gazit, Shmidman, Shmidman, Pinter, *Splintering Nonconcatenative Languages for Better Tokenization*,
Findings of ACL 2025 (arXiv 2503.14433); reference code MeLeLBGU/Splintering.

A word is "splintered" by deleting one letter at a time (a reduction) until at most 3 letters remain;
it is rewritten as the remaining root letters followed by one symbol per deletion, innermost first.
A deletion is a key ``"p:letter"``: p >= 0 counts from the start, p < 0 from the end (-1 = last),
each index addressed from its nearer edge. Which deletion to take comes from a *reduction map* learned
from a word-frequency table (two iterations, spec §5) and a look-ahead search (depth 3, width 3, §6.1).

Unlike the reference text pipeline (which deletes punctuation and diacritics), the whole-text
transform here is lossless: only maximal runs of the language's letters (with the diacritics inside
them) are rewritten; everything else passes through, and ``invert(apply(text)) == text`` for every
string. Symbols are private-use code points (default from U+E000), never U+5000 (CJK) as in the
reference. Layout of the reserved block, from ``base``: the symbols in the reference's sorted-key order
(letters included), ESC (an input character inside the block is written ESC + character), MARKX, and
MARK(0..63). A diacritic group after the k-th letter of a word is written MARK(k) + the raw marks
after the word's symbols (k >= 64: MARKX + decimal k + marks).

This module is the transform: `Splinter` (per-word reduction, apply/invert), its map checks and
file format. `load_map` / `resolve_splinter` (where a map comes from) are in splinter_source.py. Learning the map lives in
`splinter_learn`, the language tables and key syntax in `splinter_lang`.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from ..errors import NewbpeError
from ..io import atomic_write_text, read_json
from .splinter_lang import LANGUAGES, REFERENCE_DELIMITERS, delete, get_language, positions, split_key, swap_last
from .splinter_learn import LEARN_OPTIONS, learn_map, source_word_counts

FORMAT = "newbpe-splinter"
FORMAT_VERSION = 1
N_MARKS = 64
PUA_RANGES = ((0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))
TRANSFORM_OPTIONS = {"depth": 3, "width": 3, "diacritics": "keep", "segmentation": "letter_runs",
                     "on_reserved": "escape", "base": 0xE000}


# ---------------------------------------------------------------------------------------------- the model
class Splinter:
    """A learned SPLINTER map plus the transform options.

        sp = Splinter.learn({"word": count, ...}, "he")     # or Splinter.learn("wordfreq", "he"),
        sp = Splinter.learn(["corpus.txt"], "he")           # or any text source newbpe.count accepts
        sp.decompose("המלכים")   # ['כ', 'י', 'מ', '0:ל', '0:מ', '0:ה']
        t = sp.apply(text); sp.invert(t) == text
        sp.save("splinter.json"); Splinter.load("splinter.json")
    """

    def __init__(self, lang: str, reductions_map: dict[Any, Any], **options: Any) -> None:
        self.language = get_language(lang)
        self.lang = lang
        known = {**LEARN_OPTIONS, **TRANSFORM_OPTIONS, "source": None}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise NewbpeError(f"unknown SPLINTER option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        self.options = {**known, **options}
        o = self.options
        if o["diacritics"] not in ("keep", "strip"):
            raise NewbpeError(f"diacritics must be 'keep' or 'strip', not {o['diacritics']!r}")
        if o["segmentation"] not in ("letter_runs", "reference"):
            raise NewbpeError(f"segmentation must be 'letter_runs' or 'reference', not {o['segmentation']!r}")
        if o["on_reserved"] not in ("escape", "error"):
            raise NewbpeError(f"on_reserved must be 'escape' or 'error', not {o['on_reserved']!r}")
        for k in ("depth", "width"):
            if not isinstance(o[k], int) or isinstance(o[k], bool) or o[k] < 1:
                raise NewbpeError(f"{k} must be a positive integer, not {o[k]!r}")
        self.map = _check_map(reductions_map, self.language)
        self._finals = self.language.finals if o["final_letters"] else {}
        self.stats = {}
        self._setup()

    # ------------------------------------------------------------------ construction
    @classmethod
    def learn(cls, source: Any, lang: str, *, letters: Any = "all", min_count: int = 10, iterations: int = 2,
              candidates: int = 3, final_letters: bool = True, strip_diacritics: bool = True, split: str = "line",
              column: str = "text", wordlist: str = "best", **transform_options: Any) -> Splinter:
        """Learn the reduction map. `source`: a {word: count} mapping, the string "wordfreq" (the
        wordfreq package's list for `lang`), or text (file paths, a dataset, an iterable of str),
        whose words are counted with the reference extractor's rules."""
        counts, desc = source_word_counts(source, lang, strip_diacritics, split, column, wordlist)
        m, _, stats = learn_map(counts, lang, letters, min_count, iterations, candidates, final_letters)
        sp = cls(lang, m, letters=letters, min_count=min_count, iterations=iterations, candidates=candidates,
                 final_letters=final_letters, source=desc, **transform_options)
        sp.stats = stats
        return sp

    def _setup(self):
        o = self.options
        keys = sorted({k for m in self.map.values() for k in m})
        base = o["base"]
        size = len(keys) + 2 + N_MARKS
        if not isinstance(base, int) or not any(a <= base and base + size - 1 <= b for a, b in PUA_RANGES):
            raise NewbpeError(f"symbol base {base!r} does not leave {size} code points inside a Unicode "
                              "private-use area (U+E000-U+F8FF, planes 15-16)")
        self.keys = keys
        self.symbol = {k: chr(base + i) for i, k in enumerate(keys)}
        self.unsymbol = {v: k for k, v in self.symbol.items()}
        self._items = {v: split_key(k) if len(k) > 1 else (None, k) for k, v in self.symbol.items()}
        self.esc = chr(base + len(keys))
        self.markx = chr(base + len(keys) + 1)
        self.marks = [chr(base + len(keys) + 2 + k) for k in range(N_MARKS)]
        self.mark_index = {c: k for k, c in enumerate(self.marks)}
        self.reserved = (base, base + size - 1)
        # per length: {(position, letter): (rank, key, position, share)}
        self._tables = {n: {split_key(k): (i, k, split_key(k)[0], s) for i, (k, s) in enumerate(m.items())}
                        for n, m in self.map.items() if n >= 4}
        lang = self.language
        L = _class(lang.letters)
        D = _class(lang.diacritics) if lang.diacritics else None
        R = f"{re.escape(chr(self.reserved[0]))}-{re.escape(chr(self.reserved[1]))}"
        self._reserved_re = re.compile(f"[{R}]")
        if o["segmentation"] == "letter_runs":
            self._run_re = re.compile(f"([{L}][{L}{D or ''}]*)")
        else:
            self._run_re = re.compile(f"([^{REFERENCE_DELIMITERS}]+)")
        S = f"{re.escape(chr(base))}-{re.escape(chr(base + len(keys) - 1))}"
        M = f"{re.escape(self.marks[0])}-{re.escape(self.marks[-1])}"
        marks = f"(?:(?:[{M}]|{re.escape(self.markx)}[0-9]+)[{D}]*)*" if D else ""
        self._word_re = re.compile(f"[{S}]+{marks}")
        self._inv_re = re.compile(f"({re.escape(self.esc)}.|[{S}]+{marks})", re.DOTALL)
        self._cache, self._inv_cache, self._reduce_cache, self._word_cache = {}, {}, {}, {}
        self._child_cache, self._first_cache = {}, {}

    # ------------------------------------------------------------------ one word
    def _children(self, w):
        """The first `width` keys of map[len(w)] (map order) whose letter matches w, as
        (key, share, reduced word); cached per string."""
        got = self._child_cache.get(w)
        if got is not None:
            return got
        tab = self._tables.get(len(w))
        if tab is None:
            got = ()
        else:
            found = []
            for p in positions(len(w)):
                e = tab.get((p, w[p]))
                if e is not None:
                    found.append(e)
            found.sort()
            got = tuple((key, share, delete(w, p)) for _, key, p, share in found[:self.options["width"]])
        if len(self._child_cache) > 4_000_000:
            self._child_cache.clear()
        self._child_cache[w] = got
        return got

    def _first(self, w):
        """(key, share) of the best-ranked matching key of map[len(w)], or None; cached."""
        got = self._first_cache.get(w, 0)
        if got != 0:
            return got
        tab = self._tables.get(len(w))
        best = None
        if tab is not None:
            for p in positions(len(w)):
                e = tab.get((p, w[p]))
                if e is not None and (best is None or e[0] < best[0]):
                    best = e
        got = None if best is None else (best[1], best[3])
        if len(self._first_cache) > 4_000_000:
            self._first_cache.clear()
        self._first_cache[w] = got
        return got

    def _lookahead(self, w):
        """The first reduction of the best path of the depth x width look-ahead (spec §6.1), or None.
        Keys of a length are in share order, so at the last level an item's best child is its first
        candidate: the last level needs no reduced strings."""
        levels = min(self.options["depth"], len(w) - 3)
        if levels < 1:
            return None
        frontier = [(w, None, 1.0)]
        for _ in range(levels - 1):
            children = []
            for x, root, score in frontier:
                for key, share, y in self._children(x):
                    children.append((y, root or key, score * share))
            if not children:
                return None
            frontier = children
        best = None
        for x, root, score in frontier:
            f = self._first(x)
            if f is not None:
                sc = score * f[1]
                if best is None or sc > best[1]:
                    best = (root or f[0], sc)
        return None if best is None else best[0]

    def decompose(self, word: str) -> list[str]:
        """The spec's per-word result: root letters, then the keys innermost first
        (e.g. 'המלכים' -> ['כ', 'י', 'מ', '0:ל', '0:מ', '0:ה']). A word with a non-letter is not
        reduced: its characters (after the final-letter swap) are returned."""
        w = swap_last(word, self._finals)
        if any(c not in self.language.letter_set for c in w):
            return list(w)
        root, keys = self._reduce(w)
        return list(root) + list(keys[::-1])

    def _reduce(self, w):
        """(root, keys in removal order) of a swapped letters-only word. The rest of a reduction
        depends only on the current string, so every intermediate string is cached."""
        got = self._reduce_cache.get(w)
        if got is not None:
            return got
        chain, x = [], w
        while True:
            got = self._reduce_cache.get(x)
            if got is not None:
                break
            k = self._lookahead(x) if len(x) > 3 and len(x) in self._tables else None
            if k is None:
                got = (x, ())
                break
            chain.append((x, k))
            x = delete(x, split_key(k)[0])
        for y, k in reversed(chain):
            got = (got[0], (k,) + got[1])
            self._reduce_cache[y] = got
        if len(self._reduce_cache) > 4_000_000:
            self._reduce_cache.clear()
        return got

    def encode_word(self, word: str) -> str:
        """Symbols of a letters-only word."""
        out = self._word_cache.get(word)
        if out is None:
            sym = self.symbol
            out = self._word_cache[word] = "".join(sym[x] for x in self.decompose(word))
            if len(self._word_cache) > 2_000_000:
                self._word_cache.clear()
        return out

    def decode_word(self, symbols: str) -> str:
        """Inverse of encode_word (lenient: out-of-range positions are clamped)."""
        cur = ""
        items = self._items
        for ch in symbols:
            p, c = items.get(ch, (None, ch))
            if p is not None:
                i = p if p >= 0 else len(cur) + p + 1
                i = min(max(i, 0), len(cur))
                cur = cur[:i] + c + cur[i:]
            else:
                cur += c
        return swap_last(cur, self._finals)

    # ------------------------------------------------------------------ whole text
    def _mark(self, k):
        return self.marks[k] if k < N_MARKS else f"{self.markx}{k}"

    def _escape(self, text):
        if self._reserved_re.search(text) is None:
            return text
        if self.options["on_reserved"] == "error":
            c = self._reserved_re.search(text).group()
            raise NewbpeError(f"input contains U+{ord(c):04X}, reserved for SPLINTER symbols "
                              f"(U+{self.reserved[0]:04X}-U+{self.reserved[1]:04X}); use on_reserved='escape' "
                              "or another base")
        return self._reserved_re.sub(lambda m: self.esc + m.group(), text)

    def _run(self, run):
        """Transform one segment (a letter run, or a reference-segmentation word)."""
        letters_set = self.language.letter_set
        diac = self.language.diacritic_set
        keep = self.options["diacritics"] == "keep"
        reference = self.options["segmentation"] == "reference"
        if reference:
            if not any(c in letters_set for c in run):
                return self._escape(run)
            if not keep:
                run = "".join(c for c in run if c not in diac)
            if not all(c in letters_set or c in diac for c in run):
                w = swap_last(run, self._finals)          # the reference's non-reduction branch
                sym = self.symbol
                return "".join(sym[c] if c in letters_set else self._escape(c) for c in w)
        letters, marks, group, k = [], [], [], 0
        for c in run:
            if c in letters_set:
                if group:
                    marks.append((k, "".join(group)))
                    group = []
                letters.append(c)
                k += 1
            else:
                group.append(c)
        if group:
            marks.append((k, "".join(group)))
        out = self.encode_word("".join(letters))
        if keep and marks:
            out += "".join(self._mark(k) + g for k, g in marks)
        return out

    def apply(self, text: str) -> str:
        """Transform a text: each letter run (or reference word) becomes its symbols; everything else
        passes through. Input code points in the reserved block are escaped (or rejected)."""
        parts = self._run_re.split(text)
        cache = self._cache
        if len(cache) > 2_000_000:
            cache.clear()
        for i in range(1, len(parts), 2):
            run = parts[i]
            out = cache.get(run)
            if out is None:
                out = cache[run] = self._run(run)
            parts[i] = out
        for i in range(0, len(parts), 2):
            if parts[i]:
                parts[i] = self._escape(parts[i])
        return "".join(parts)

    def _invert_word(self, s):
        """Inverse of _run for a matched `symbols (MARK marks)*` string."""
        i = 0
        while i < len(s) and s[i] in self.unsymbol:
            i += 1
        word = self.decode_word(s[:i])
        if i == len(s):
            return word
        groups, j = [], i
        while j < len(s):
            c = s[j]
            j += 1
            if c == self.markx:
                m = re.match(r"[0-9]+", s[j:])
                k = int(m.group())
                j += m.end()
            else:
                k = self.mark_index[c]
            start = j
            while j < len(s) and s[j] in self.language.diacritic_set:
                j += 1
            groups.append((k, s[start:j]))
        out, prev = [], 0
        for k, g in groups:
            k = min(max(k, prev), len(word))
            out.append(word[prev:k])
            out.append(g)
            prev = k
        out.append(word[prev:])
        return "".join(out)

    def invert(self, text: str) -> str:
        """Exact inverse of `apply` (lenient on strings `apply` cannot produce)."""
        if self.options["segmentation"] == "reference":
            parts = self._run_re.split(text)
            for i in range(1, len(parts), 2):
                parts[i] = self._invert_reference_word(parts[i])
            return "".join(parts)
        cache = self._inv_cache
        if len(cache) > 2_000_000:
            cache.clear()
        parts = self._inv_re.split(text)
        esc = self.esc
        for i in range(1, len(parts), 2):
            s = parts[i]
            if s[0] == esc:
                parts[i] = s[1:]
                continue
            out = cache.get(s)
            if out is None:
                out = cache[s] = self._invert_word(s)
            parts[i] = out
        return "".join(parts)

    def _invert_reference_word(self, w):
        if self._word_re.fullmatch(w):
            return self._invert_word(w)
        if not any(c in self.unsymbol or c == self.esc for c in w):
            return w
        out, i = [], 0
        while i < len(w):
            c = w[i]
            if c == self.esc and i + 1 < len(w):
                out.append(w[i + 1])
                i += 2
                continue
            item = self.unsymbol.get(c, c)
            out.append(item if len(item) == 1 else split_key(item)[1])
            i += 1
        return swap_last("".join(out), self._finals)

    # ------------------------------------------------------------------ persistence
    def info(self) -> dict[str, Any]:
        """What `newbpe info` shows of this transform."""
        return {"lang": self.lang, "symbols": len(self.keys), "options": self.options}

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "lang": self.lang, "options": dict(self.options),
                "reductions_map": {str(n): m for n, m in self.map.items()},
                "symbols": {k: f"U+{ord(c):04X}" for k, c in self.symbol.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "SPLINTER map") -> Splinter:
        """Strict validation: every problem is a one-line NewbpeError."""
        if not isinstance(d, dict):
            raise NewbpeError(f"{source}: not a SPLINTER map")
        if d.get("format") != FORMAT:
            raise NewbpeError(f"{source}: not a newbpe SPLINTER map (format {d.get('format')!r})")
        if not isinstance(d.get("version"), int) or d["version"] > FORMAT_VERSION:
            raise NewbpeError(f"{source}: unsupported SPLINTER map version {d.get('version')!r}")
        if not isinstance(d.get("options"), dict):
            raise NewbpeError(f"{source}: missing options")
        try:
            sp = cls(d.get("lang"), d.get("reductions_map"), **d["options"])
        except NewbpeError as e:
            raise NewbpeError(f"{source}: {e}") from None
        symbols = d.get("symbols")
        if symbols is not None and symbols != {k: f"U+{ord(c):04X}" for k, c in sp.symbol.items()}:
            raise NewbpeError(f"{source}: symbol table does not match the reduction map")
        return sp

    def save(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], lang: str | None = None) -> Splinter:
        """Load a saved map; a reference `reductions_map.json` (bare {length: {key: share}}) also loads
        when `lang` is given."""
        path = os.fspath(path)
        d = read_json(path, "SPLINTER map")
        if isinstance(d, dict) and "format" not in d and lang is not None:
            try:
                return cls(lang, d)
            except NewbpeError as e:
                raise NewbpeError(f"{path}: {e}") from None
        return cls.from_dict(d, path)

    def __repr__(self) -> str:
        return f"Splinter(lang={self.lang!r}, lengths={sorted(n for n in self.map if n > 1)}, symbols={len(self.keys)})"


def _class(chars):
    """A regex character class body for a set of characters (as ranges)."""
    cps = sorted(set(ord(c) for c in chars))
    out, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        out.append(re.escape(chr(cps[i])) + ("-" + re.escape(chr(cps[j])) if j > i else ""))
        i = j + 1
    return "".join(out)


def _check_map(m, language):
    """Validate a reduction map {length: {key: share}} (JSON string lengths are converted)."""
    if not isinstance(m, dict) or not m:
        raise NewbpeError("reduction map must be a non-empty object {length: {key: share}}")
    out = {}
    for n, keys in m.items():
        try:
            n_int = int(n)
        except (TypeError, ValueError):
            raise NewbpeError(f"reduction map length {n!r} is not an integer") from None
        if n_int != 1 and n_int < 4 or not isinstance(keys, dict):
            raise NewbpeError(f"reduction map has a bad entry for length {n!r}")
        if n_int == 1:
            if set(keys) != language.letter_set:
                raise NewbpeError(f"reduction map length 1 must list exactly the {language.code} letters")
            out[1] = {k: keys[k] for k in keys}
            continue
        if not keys:
            raise NewbpeError(f"reduction map length {n_int} has no keys")
        prev = None
        for k, s in keys.items():
            try:
                p, c = split_key(k)
            except (ValueError, AttributeError):
                raise NewbpeError(f"reduction map key {k!r} is not 'position:letter'") from None
            if c not in language.letter_set or p not in positions(n_int) or k != f"{p}:{c}":
                raise NewbpeError(f"reduction map key {k!r} is invalid for length {n_int}")
            if not isinstance(s, (int, float)) or isinstance(s, bool) or not 0 < s <= 1:
                raise NewbpeError(f"reduction map share {s!r} of {k!r} is not in (0, 1]")
            if prev is not None and (s > prev[1] or (s == prev[1] and k < prev[0])):
                raise NewbpeError(f"reduction map length {n_int} is not sorted by (share desc, key asc)")
            prev = (k, s)
        if abs(sum(keys.values()) - 1) > 1e-9:
            raise NewbpeError(f"reduction map shares of length {n_int} do not sum to 1")
        out[n_int] = dict(keys)
    if 1 not in out:
        raise NewbpeError("reduction map has no length-1 letters entry")
    return dict(sorted(out.items()))
