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

from ..units import METASPACE  # noqa: F401  (re-exported)

from .presets import ALIASES, PATTERNS, PRESETS  # noqa: E402,F401  (re-exported)
SCANNER_PRESETS = ("gpt2", "cl100k", "o200k")     # split by the numba scanner (scanner.py)
_HF_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}


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
    def label(self):
        """A preset's name, or a custom pattern itself (for `info`)."""
        return self.pattern if self.name == "regex" else self.name

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

    # ------------------------------------------------------------------ what other stages ask
    @property
    def scanner(self):
        """The numba scanner preset that splits bytes exactly like this pre-tokenizer, or None."""
        return self.name if self.name in SCANNER_PRESETS else None

    @property
    def splits_at_newline_letter(self):
        """True when no piece crosses a '\\n' followed by an ASCII letter (document mode may cut
        files there for parallel counting)."""
        return self.name in SCANNER_PRESETS or self.name == "whitespace"

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
        return self.pattern if self.pattern is not None else r"[\s\S]+"

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
        """Reads `to_dict`'s form and the version-1 form {"name", "pattern"}."""
        kind = d.get("type")
        if kind is None:                                   # model.json / count files of version 1
            return cls._regex(d["pattern"]) if d["name"] == "regex" else cls(d["name"])
        if kind == "regex":
            return cls._regex(d["pattern"])
        if kind == "preset":
            preset = cls(d["name"])
            return preset if d.get("pattern", preset.pattern) == preset.pattern else cls._regex(d["pattern"])
        if kind in ("whitespace", "none"):
            return cls(kind)
        raise ValueError(f"unknown pre-tokenizer type {kind!r}")

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

    @classmethod
    def _regex(cls, pattern):
        """A custom regex, even one that spells a preset's name."""
        tok = cls.__new__(cls)
        try:
            compiled = regex.compile(pattern)
        except (regex.error, TypeError) as e:
            raise ValueError(f"invalid pre-tokenizer regex: {e}") from None
        tok.name, tok.pattern, tok._compiled = "regex", pattern, compiled
        return tok

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


def apply_outside_specials(transform, text, specials=()):
    """`transform.apply` (a text transform, preprocessors/) on the parts of `text` between
    special-token strings, which are kept as they are."""
    if not specials:
        return transform.apply(text)
    return "".join(c if sp else transform.apply(c) for sp, c in split_specials(text, list(specials)))
