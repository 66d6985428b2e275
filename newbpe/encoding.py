"""`Encoding`: what `encode(..., return_offsets=True)` returns — ids, token strings, byte and character
offsets — plus the helpers behind the tiktoken/HF-style API of the `Tokenizer` (HF string vocabulary,
tiktoken's `disallowed_special`).

Offsets are exact spans of the input: `byte_offsets[k] = (start, end)` into the UTF-8 bytes of the
text (surrogateescape for invalid bytes, so a str read with surrogateescape and the bytes it came
from have the same offsets), `offsets[k]` the same span in characters of the str (a token that ends
or starts inside a multi-byte character covers that whole character, as HF does). How they are found:
the tokens' bytes, in order, are matched against the input (specials as their text, the metaspace
`▁` as a space); input a token does not cover is skipped (whitespace the `whitespace` pre-tokenizer
drops, bytes outside an observed alphabet, the space an imported `add_prefix_space` adds); an unknown
character (char units) is the character it replaced. Template tokens (bos/eos) get (0, 0), as in HF.

Text transforms: NFC leaves offsets exact where the text is already NFC. Where a transform changed
the text (SPLINTER always does on words it rewrites; NFC on non-NFC text) the tokens spell the
transformed text, not the input, so `offsets` and `byte_offsets` are None (documented, not guessed).
"""
import numpy as np

from .errors import NewbpeError
from .units import METASPACE, bytes_to_token_string

_META = METASPACE.encode("utf-8")


class Encoding:
    """One encoded text: `ids`, `tokens` (HF's string form), `offsets` (character spans of the input,
    or None), `byte_offsets` (byte spans, or None), `special_tokens_mask` (1 for special tokens)."""
    __slots__ = ("ids", "tokens", "offsets", "byte_offsets", "special_tokens_mask")

    def __init__(self, ids, tokens, offsets, byte_offsets, special_tokens_mask):
        self.ids = ids
        self.tokens = tokens
        self.offsets = offsets
        self.byte_offsets = byte_offsets
        self.special_tokens_mask = special_tokens_mask

    def __len__(self):
        return len(self.ids)

    def __eq__(self, other):
        return isinstance(other, Encoding) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __repr__(self):
        return f"Encoding(n_tokens={len(self.ids)}, ids={self.ids[:8]}{'...' if len(self.ids) > 8 else ''})"


CONTINUATION_PREFIX = "\u2021"      # ByteSpan's continuation tokens in HF (export/hf.py's WordPiece recipe)


def token_string(tok, internal):
    """HF's string form of an internal token: GPT-2 byte mapping for byte-level tokens, ByteSpan's
    continuation tokens behind ‡ (as its WordPiece tokenizer.json spells them, so the two tokens of
    one byte string stay apart), text for special and char-level tokens."""
    v = tok.vocabulary
    t = v.tokens[internal]
    if v.is_special(internal) or tok.units == "chars":
        return t.decode("utf-8", "surrogatepass")
    return (CONTINUATION_PREFIX if v.idents[internal] else "") + bytes_to_token_string(t)


def hf_vocab(tok):
    """{HF token string: model id} over the emittable tokens (the first id wins if two tokens share a
    string, which only a special token spelling a byte-level string can cause)."""
    out = {}
    for m, internal in enumerate(tok.vocabulary.model_ids):
        out.setdefault(token_string(tok, internal), m)
    return out


def disallowed_checker(tok, allowed, disallowed):
    """A function that raises on text holding a disallowed special token (tiktoken's rule), or None
    when nothing is disallowed. disallowed: "all" (every special not in `allowed`), or tokens."""
    if disallowed == "all":
        banned = [s for s in tok.special_tokens if s not in allowed]
    else:
        banned = [s for s in tok._allowed(disallowed) if s not in allowed]
    if not banned:
        return None
    import regex
    alt = "|".join(regex.escape(s) for s in sorted(banned, key=len, reverse=True))
    pat_s = regex.compile(alt)
    pat_b = regex.compile(alt.encode("utf-8"))

    def check(text):
        if not isinstance(text, (str, bytes, bytearray)):
            return                            # encode's own check names the wrong type
        m = (pat_b if isinstance(text, (bytes, bytearray)) else pat_s).search(text)
        if m is not None:
            found = m.group()
            found = found.decode("utf-8") if isinstance(found, bytes) else found
            raise NewbpeError(f"text contains the special token {found!r}: pass allowed_special={{{found!r}}} "
                              "(or 'all') to encode it as the special token, or disallowed_special=() / "
                              "encode_ordinary() to encode it as text")
    return check


def _char_index(text, data):
    """int64[len(data) + 1]: the character index of every byte position of `data` (the UTF-8 of `text`)."""
    if isinstance(text, str):
        try:
            text.encode("utf-8")
            valid = True
        except UnicodeEncodeError:
            valid = False
        if not valid:
            lens = [len(c.encode("utf-8", "surrogateescape")) for c in text]
            idx = np.repeat(np.arange(len(text), dtype=np.int64), lens)
            return np.append(idx, len(text))
    arr = np.frombuffer(bytes(data), dtype=np.uint8)
    starts = (arr & 0xC0) != 0x80
    idx = np.cumsum(starts, dtype=np.int64) - 1
    return np.append(idx, int(starts.sum()))


def _skippable(tok):
    """Bytes of the input that may lie inside or between tokens without being spelled by one: bytes
    outside an observed alphabet (byte units), whitespace and non-ASCII bytes (char units: what the
    whitespace pre-tokenizer drops, unknown characters it drops)."""
    if tok.units == "bytes":
        return frozenset(b for b, u in enumerate(tok._byte_unit) if u < 0)
    return frozenset(b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f") | frozenset(range(0x80, 0x100))


def _match(data, pos, t, skip):
    """(start, end) of `t` in data[pos:] as a subsequence whose gaps are skippable bytes, or None."""
    i, n, start = pos, len(data), None
    for b in t:
        while i < n and data[i] != b and data[i] in skip:
            i += 1
        if i >= n or data[i] != b:
            return None
        if start is None:
            start = i
        i += 1
    return (pos if start is None else start), i


def _char_end(data, pos):
    """End of the UTF-8 character that starts at data[pos]."""
    end, n = pos + 1, len(data)
    while end < n and (data[end] & 0xC0) == 0x80 and end - pos < 4:
        end += 1
    return end


def byte_spans(tok, data, ids):
    """(start, end) byte spans of `ids` in `data`, or None when the tokens do not spell the input."""
    v = tok.vocabulary
    internal = v.to_internal[np.asarray(ids, dtype=np.int64)].tolist() if ids else []
    metaspace = tok.decoder.type == "metaspace"
    unk = tok._unk if tok.units == "chars" else None
    skip = None
    spans, pos, n = [], 0, len(data)
    for i in internal:
        t = v.tokens[i]
        if metaspace and not v.is_special(i):
            t = t.replace(_META, b" ")
        if data.startswith(t, pos):
            spans.append((pos, pos + len(t)))
            pos += len(t)
            continue
        if skip is None:
            skip = _skippable(tok)
        stripped = t.lstrip(b" ")                 # a space the model adds (metaspace, add_prefix_space)
        found = _match(data, pos, t, skip) if stripped or not metaspace else (pos, pos)   # a bare ▁: no text
        if found is None and stripped != t:
            found = _match(data, pos, stripped, skip | {0x20})
        if found is None and unk is not None and i == unk:   # an unknown character: the next non-space one
            while pos < n:
                end = _char_end(data, pos)
                if not data[pos:end].decode("utf-8", "surrogateescape").isspace():
                    break
                pos = end
            found = (pos, _char_end(data, pos) if pos < n else n)
        if found is None:
            return None
        spans.append(found)
        pos = found[1]
    return spans


def with_offsets(tok, texts, results, allowed, add_special_tokens):
    """`Encoding`s of `texts` given their ids (`results`, template tokens included when applied)."""
    from .roles import template_ids
    pre, suf = template_ids(tok, add_special_tokens)
    k = tok.vocabulary.n_specials
    out = []
    for text, ids in zip(texts, results):
        body = ids[len(pre):len(ids) - len(suf)]
        data = bytes(text) if isinstance(text, (bytes, bytearray)) else text.encode("utf-8", "surrogateescape")
        spans = None
        if not tok.transforms or _transforms_keep(tok, text, allowed):
            spans = byte_spans(tok, data, body)
        internal = tok.vocabulary.to_internal[np.asarray(ids, dtype=np.int64)].tolist() if ids else []
        strings = [token_string(tok, i) for i in internal]
        mask = [int(i < k) for i in internal]
        if spans is None:
            out.append(Encoding(list(ids), strings, None, None, mask))
            continue
        if tok.options.get("trim_offsets"):          # an imported HF ByteLevel(trim_offsets=true)
            spans = _trimmed(data, spans, mask[len(pre):len(mask) - len(suf)])
        spans = [(0, 0)] * len(pre) + spans + [(0, 0)] * len(suf)
        if isinstance(text, (bytes, bytearray)):
            text = data.decode("utf-8", "surrogateescape")
        cidx = _char_index(text, data)
        chars = [(int(cidx[s]), int(cidx[e - 1]) + 1) if e > s else (int(cidx[s]),) * 2 for s, e in spans]
        out.append(Encoding(list(ids), strings, chars, spans, mask))
    return out


def _trimmed(data, spans, mask):
    """HF's ByteLevel trim_offsets: the leading and trailing spaces of a token are left out of its span
    (a token of spaces only ends as an empty span at its end)."""
    out = []
    for (s, e), special in zip(spans, mask):
        if not special:
            while s < e and data[s] == 0x20:
                s += 1
            while e > s and data[e - 1] == 0x20:
                e -= 1
        out.append((s, e))
    return out


def _transforms_keep(tok, text, allowed):
    """True when the model's text transforms leave `text` as it is (outside allowed specials)."""
    from .pretokenizers import split_specials
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    return all(sp or tok._transform(c) == c for sp, c in split_specials(text, allowed))
