"""Pre-tokenizers: how text is cut into pieces ("words") before BPE sees it (specs README §5).

Presets (exact strings, "isolated" semantics: every match is a piece and any unmatched gap is a piece
too, so splitting never loses text):

- ``gpt2``: GPT-2's pattern (HF ``ByteLevel(use_regex=True)``);
- ``cl100k`` (aliases ``gpt4``, ``llama3``): the classic cl100k form;
- ``o200k``: GPT-4o;
- ``superbpe_stage1`` / ``superbpe_stage2``: SuperBPE's two patterns;
- ``whitespace`` (alias ``whitespace_metaspace``): split like Python ``str.split()`` and prefix
  every word with ``▁`` (U+2581), as SentencePiece and the Picky BPE reference do. **Lossy**: the
  whitespace layout is not kept (decoding joins words with single spaces);
- ``none``: the whole text is one piece;
- ``regex:PATTERN``: a custom regex (Python ``regex`` module). The prefix is required, so a typo in a
  preset name is an error (with the nearest preset) instead of a literal pattern. Model and count
  files store custom patterns as ``{"name": "regex", "pattern": PATTERN}`` and load as before.

Invalid UTF-8: byte-level models decode input with ``surrogateescape`` so every byte survives the
regex and maps back exactly; the escaped code points U+DC80–U+DCFF count as "other" characters.
"""
import regex

from ..errors import NewbpeError
from ..units import METASPACE  # noqa: F401  (re-exported)
from .presets import ALIASES, PATTERNS, PRESETS  # noqa: F401  (re-exported)

SCANNER_PRESETS = ("gpt2", "cl100k", "o200k", "superbpe_stage1", "superbpe_stage2")  # numba scanner (scanner.py)
# presets whose pattern matches every character, so `findall` already returns every piece; any other
# pattern (superbpe_stage2 matches only digit groups, punctuation runs and space runs) also yields the
# unmatched gaps as pieces (HF Split "Isolated")
COVERING_PRESETS = ("gpt2", "cl100k", "o200k", "superbpe_stage1")
_HF_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
REGEX_PREFIX = "regex:"


def covering_pattern(pattern):
    """A pattern whose matches are the pieces HF Split("Isolated") makes with `pattern`: its matches
    and the unmatched gaps between them. tiktoken keeps only what its pattern matches, so a pattern
    that does not cover every character (superbpe_stage2) would lose the gaps there. At each position
    the first branch is `pattern` itself (the same match); otherwise the second branch runs until the
    next position where `pattern` matches, i.e. exactly the gap. Exact for patterns that never match
    the empty string (every preset; a custom regex that can match empty has no exact tiktoken form)."""
    return f"(?:{pattern})|(?:(?!(?:{pattern}))[\\s\\S])+"


def nearest_preset(name):
    """The preset or alias closest to `name` (difflib ratio >= 0.6; presets win ties), or None."""
    from difflib import SequenceMatcher
    best, best_ratio = None, 0.6
    for cand in PRESETS + tuple(ALIASES):
        r = SequenceMatcher(None, name.lower(), cand).ratio()
        if r > best_ratio or (r == best_ratio and best is None):
            best, best_ratio = cand, r
    return best


def unknown_pretokenizer(spec):
    """The one-line error for a pre-tokenizer name that is neither a preset nor regex:PATTERN."""
    near = nearest_preset(spec) if isinstance(spec, str) and spec else None
    hint = f"did you mean {near}? " if near else ""
    looks_like_regex = isinstance(spec, str) and any(c in spec for c in "\\[](){}|*+?^$")
    example = f" ({REGEX_PREFIX}{spec})" if looks_like_regex and len(spec) <= 60 else ""
    return NewbpeError(f"unknown pre-tokenizer {spec!r}: {hint}presets: {', '.join(PRESETS)} "
                       f"(aliases: {', '.join(ALIASES)}); a custom regex is written {REGEX_PREFIX}PATTERN{example}")


class PreTokenizer:
    """Splits a str into pieces. `name` is a preset name or 'regex' (then `pattern` is the regex).

    spec: a preset name or alias, or "regex:PATTERN"; anything else is a ValueError naming the
    nearest preset."""

    def __init__(self, spec="gpt2"):
        if not isinstance(spec, str):
            raise NewbpeError(f"a pre-tokenizer is a preset name or {REGEX_PREFIX}PATTERN, not {type(spec).__name__}")
        spec = ALIASES.get(spec, spec)
        if spec in PATTERNS:
            self.name, self.pattern = spec, PATTERNS[spec]
        elif spec in ("whitespace", "none"):
            self.name, self.pattern = spec, None
        elif spec.startswith(REGEX_PREFIX):
            self.name, self.pattern = "regex", _compile_check(spec[len(REGEX_PREFIX):])
        else:
            raise unknown_pretokenizer(spec)
        self._compiled = regex.compile(self.pattern) if self.pattern else None

    @property
    def lossless(self):
        return self.name != "whitespace"

    def split(self, text):
        """Pieces of `text` (a str); their concatenation is `text` except for `whitespace`."""
        if self.name == "whitespace":
            return [METASPACE + w for w in text.split()]
        if self.name == "none":
            return [text] if text else []
        if self.name in COVERING_PRESETS:
            return self._compiled.findall(text)
        pieces = []
        pos = 0
        for m in self._compiled.finditer(text):
            if m.start() > pos:
                pieces.append(text[pos:m.start()])
            if m.end() > m.start():
                pieces.append(m.group())
            pos = m.end()
        if pos < len(text):
            pieces.append(text[pos:])
        return pieces

    @property
    def spec(self):
        """The string that builds this pre-tokenizer again: the preset name, or regex:PATTERN."""
        return REGEX_PREFIX + self.pattern if self.name == "regex" else self.name

    # ------------------------------------------------------------------ what other stages ask
    @property
    def scanner(self):
        """The numba scanner preset that splits bytes exactly like this pre-tokenizer, or None."""
        return self.name if self.name in SCANNER_PRESETS else None

    @property
    def splits_at_newline_letter(self):
        """True when no piece crosses a '\\n' followed by an ASCII letter (document mode may cut
        files there for parallel counting)."""
        return self.name in COVERING_PRESETS or self.name == "whitespace"

    def piece_offsets(self, data, seg_off, segments, threads=1):
        """Byte offsets of every piece of many segments at once: `data` (uint8) holds the UTF-8
        (surrogateescape) bytes of the str `segments`, segment i at data[seg_off[i]:seg_off[i+1]].
        Returns the increasing piece boundaries, every segment boundary included."""
        import numpy as np
        if self.scanner is not None:
            from .scanner import split_bytes_many
            return split_bytes_many(data, seg_off, self.scanner, threads=threads)
        if self.name == "none":
            return np.unique(seg_off)
        lens = [len(p.encode("utf-8", "surrogateescape")) for seg in segments for p in self.split(seg)]
        offsets = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        return offsets

    def decoder(self):
        """The decoder stage that undoes this pre-tokenizer's marks (decoders.py)."""
        from ..decoders import ByteDecoder, MetaspaceDecoder
        return MetaspaceDecoder() if self.name == "whitespace" else ByteDecoder()

    def to_hf(self, byte_level):
        """This pre-tokenizer as HF `tokenizer.json` JSON (None: no pre-tokenizer), followed by
        ByteLevel(use_regex=false) for byte-level models; gpt2 is ByteLevel's own regex."""
        if self.name == "whitespace":
            steps = [{"type": "WhitespaceSplit"},
                     {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "always", "split": False}]
        elif self.name == "gpt2" and byte_level:
            return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        elif self.name == "none":
            steps = []
        else:
            steps = [{"type": "Split", "pattern": {"Regex": self.pattern}, "behavior": "Isolated", "invert": False}]
        if byte_level:
            steps.append(dict(_HF_BYTE_LEVEL))
        if not steps:
            return None
        return steps[0] if len(steps) == 1 else {"type": "Sequence", "pretokenizers": steps}

    def to_tiktoken(self):
        """tiktoken's `pat_str` for this pre-tokenizer, or None when tiktoken cannot express it
        (whitespace's ▁ marks). `none` is one piece per text."""
        if self.name == "whitespace":
            return None
        if self.pattern is None:
            return r"[\s\S]+"
        if self.name in COVERING_PRESETS:
            return self.pattern
        return covering_pattern(self.pattern)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self):
        """{"type": "preset", "name", "pattern"} for regex presets (the pattern is kept so a model
        keeps its meaning if a preset ever changes), {"type": "regex", "pattern"}, {"type":
        "whitespace"} or {"type": "none"}."""
        if self.name == "regex":
            return {"type": "regex", "pattern": self.pattern}
        if self.pattern is None:
            return {"type": self.name}
        return {"type": "preset", "name": self.name, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, d):
        """Reads `to_dict`'s form and the version-1 form {"name", "pattern"}; a bad entry is a
        one-line NewbpeError."""
        if not isinstance(d, dict):
            raise NewbpeError(f"a pre-tokenizer entry is an object, got {str(d)[:60]}")
        kind = d.get("type")
        if kind is None:                                   # model.json / count files of version 1
            if not isinstance(d.get("name"), str):
                raise NewbpeError(f"a pre-tokenizer entry is {{\"name\": ..., \"pattern\": ...}}, got {str(d)[:60]}")
            if d["name"] == "regex":
                return cls._regex(d.get("pattern"))
            if d["name"].startswith(REGEX_PREFIX):
                raise unknown_pretokenizer(d["name"])
            return cls(d["name"])
        if kind == "regex":
            return cls._regex(d.get("pattern"))
        if kind == "preset":
            preset = cls(d.get("name"))
            return preset if d.get("pattern", preset.pattern) == preset.pattern else cls._regex(d.get("pattern"))
        if kind in ("whitespace", "none"):
            return cls(kind)
        raise NewbpeError(f"unknown pre-tokenizer type {str(kind)[:40]!r}")

    @classmethod
    def _regex(cls, pattern):
        """A custom regex stored in a file (without the regex: prefix)."""
        if not isinstance(pattern, str):
            raise NewbpeError("a regex pre-tokenizer needs its pattern (a string)")
        return cls(REGEX_PREFIX + pattern)

    @classmethod
    def from_hf(cls, spec):
        """The pre-tokenizer of an HF byte-level `pre_tokenizer` JSON (the inverse of `to_hf` for
        byte-level models); ValueError for anything else."""
        if spec and spec.get("type") == "ByteLevel" and spec.get("use_regex", True):
            return cls("gpt2")
        steps = spec.get("pretokenizers", []) if spec and spec.get("type") == "Sequence" else [spec] if spec else []
        if steps and steps[-1].get("type") == "ByteLevel" and not steps[-1].get("use_regex", True):
            steps = steps[:-1]
            if not steps:
                return cls("none")
            if len(steps) == 1 and steps[0].get("type") == "Split" and steps[0].get("behavior") == "Isolated" \
                    and not steps[0].get("invert") and "Regex" in steps[0].get("pattern", {}):
                pattern = steps[0]["pattern"]["Regex"]
                name = next((n for n, p in PATTERNS.items() if p == pattern), None)
                return cls(name) if name else cls._regex(pattern)
        raise ValueError("unsupported HF pre_tokenizer (newbpe imports byte-level BPE: ByteLevel, or "
                         "Split(regex, Isolated) + ByteLevel(use_regex=False))")

    def __repr__(self):
        return f"PreTokenizer({self.name!r})"


def _compile_check(pattern):
    """`pattern` if it compiles as a non-empty `regex` pattern, else a one-line ValueError."""
    if not pattern:
        raise NewbpeError(f"{REGEX_PREFIX}PATTERN needs a pattern")
    try:
        regex.compile(pattern)
    except regex.error as e:
        raise NewbpeError(f"pre-tokenizer {REGEX_PREFIX}{pattern} is not a valid regex: {e}") from None
    return pattern


def split_specials(text, specials):
    """Split `text` on occurrences of special-token strings (longest first). Returns a list of
    (is_special, str) chunks, in order."""
    if not specials:
        return [(False, text)] if text else []
    alt = "|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True))
    out = []
    pos = 0
    for m in regex.finditer(alt, text):
        if m.start() > pos:
            out.append((False, text[pos:m.start()]))
        out.append((True, m.group()))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def apply_outside_specials(transform, text, specials=()):
    """`transform.apply` (a text transform, preprocessors/) on the parts of `text` between
    special-token strings, which are kept as they are."""
    if not specials:
        return transform.apply(text)
    return "".join(c if sp else transform.apply(c) for sp, c in split_specials(text, list(specials)))
