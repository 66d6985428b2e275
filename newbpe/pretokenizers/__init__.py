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

PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "cl100k": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "o200k": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]),
    "superbpe_stage1": r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "superbpe_stage2": r"""\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)""",
}
ALIASES = {"gpt4": "cl100k", "llama3": "cl100k", "whitespace_metaspace": "whitespace"}
PRESETS = tuple(PATTERNS) + ("whitespace", "none")
METASPACE = "\u2581"
REGEX_PREFIX = "regex:"


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
        if self.name != "regex":
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

    def to_dict(self):
        return {"name": self.name, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, d):
        """From `to_dict` (model.json, count files): {"name": preset} or {"name": "regex",
        "pattern": PATTERN} (the stored pattern is used as is, without a prefix)."""
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise NewbpeError(f"a pre-tokenizer entry is {{\"name\": ..., \"pattern\": ...}}, got {str(d)[:60]}")
        if d["name"] == "regex":
            if not isinstance(d.get("pattern"), str):
                raise NewbpeError("a regex pre-tokenizer needs its pattern (a string)")
            return cls(REGEX_PREFIX + d["pattern"])
        if d["name"].startswith(REGEX_PREFIX):
            raise unknown_pretokenizer(d["name"])
        return cls(d["name"])

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
