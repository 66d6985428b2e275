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
- any other string is used as a custom regex (Python ``regex`` module).

Invalid UTF-8: byte-level models decode input with ``surrogateescape`` so every byte survives the
regex and maps back exactly; the escaped code points U+DC80–U+DCFF count as "other" characters.
"""
import regex

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


class PreTokenizer:
    """Splits a str into pieces. `name` is a preset name or 'regex' (then `pattern` is the regex)."""

    def __init__(self, spec="gpt2"):
        spec = ALIASES.get(spec, spec)
        if spec in PATTERNS:
            self.name, self.pattern = spec, PATTERNS[spec]
        elif spec in ("whitespace", "none"):
            self.name, self.pattern = spec, None
        else:
            if not isinstance(spec, str) or not spec:
                raise ValueError(f"unknown pre-tokenizer {spec!r}")
            try:
                regex.compile(spec)
            except regex.error as e:
                raise ValueError(f"pre-tokenizer {spec!r} is neither a preset ({', '.join(PRESETS)}) "
                                 f"nor a valid regex: {e}") from None
            self.name, self.pattern = "regex", spec
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

    def to_dict(self):
        return {"name": self.name, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, d):
        return cls(d["pattern"] if d["name"] == "regex" else d["name"])

    def __repr__(self):
        return f"PreTokenizer({self.name!r})"


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
