"""Where a text may be cut without changing its pieces, and the readers that cut there.

One mechanism for every place that would otherwise hold a whole line or document: counting's file
chunks (`counting._chunks`), the line readers of encode, eval, StochasTok and SPLINTER
(`io.iter_line_parts`), and encoding one long str (`Tokenizer.encode`). So memory follows the
longest piece, not the longest line: a 30 MB line encoded at once peaked at 1.4 GB.

The safe points: position p of a text t with t[p] an ASCII space and t[p-1] not whitespace (neither
the `regex` module's \\s nor str.isspace), outside every special-token occurrence. Cutting there gives
the same pieces on both sides as on the whole, for these pre-tokenizers:

- gpt2, cl100k, o200k, superbpe_stage1: the piece holding t[p-1] ends at p. Every alternative that
  can hold a non-whitespace character ends before a space: letters, digits and contractions stop at
  any non-letter / non-digit; `[^\\s\\p{L}\\p{N}]+` (cl100k/o200k: then only \\r, \\n, /) stops at \\s;
  the optional one-character prefix of cl100k/o200k letters is never followed by a space inside a
  piece. The only lookahead, `(?!\\S)`, sees a space at p in the whole text and the end of the string
  in the prefix: both succeed. No pattern looks behind, so the rest is scanned from p alike.
- superbpe_stage2 has none: its unmatched gaps are pieces too (HF Split "Isolated", so a gap such as
  "a 's" runs across spaces), and cutting inside a gap splits it; its lines are read whole.
- whitespace (str.split): cutting in front of a space never joins or splits a word.
- none, custom regexes: no safe point (a custom pattern may do anything); the line is read whole.

Bytes are cut at the same points: the space is ASCII, so UTF-8 (valid or not, CRLF included) decodes
alike on both sides, with surrogateescape or with U+FFFD replacement; the character before is read
back from its last bytes (only U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F
and U+3000 are non-ASCII whitespace, and a UTF-8 lead byte always starts a character). A special token
occurrence spanning p forbids p; SPLINTER's transform rewrites letter runs only and passes spaces
through, so it commutes with these cuts (its inverse also needs p not right after its escape
character: `CutRule.avoid`).
"""
PRESET_CUTS = ("gpt2", "cl100k", "o200k", "superbpe_stage1", "whitespace")

#: Parts are about this long (bytes or characters) when a line or text is cut.
PART_SIZE = 1 << 20

# \s of the `regex` module (Unicode White_Space) and str.isspace (adds U+001C-U+001F); a test pins both
WHITESPACE = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                       "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_ASCII_WS = frozenset(ord(c) for c in WHITESPACE if ord(c) < 0x80)
_WIDE_WS = tuple(c.encode("utf-8") for c in WHITESPACE if ord(c) >= 0x80)     # 2 or 3 bytes each


class CutRule:
    """Safe cut points of a text (module doc). `enabled=False` has none; `specials`: token strings
    that must not be cut through; `avoid`: characters that may not precede a cut."""

    def __init__(self, enabled=True, specials=(), avoid=""):
        self.enabled = bool(enabled)
        self.specials = tuple(s for s in specials if s)
        self._special_bytes = tuple(s.encode("utf-8", "surrogateescape") for s in self.specials)
        self.avoid = frozenset(avoid)
        self._avoid_bytes = tuple(c.encode("utf-8", "surrogateescape") for c in self.avoid)

    @classmethod
    def for_pretokenizer(cls, pretokenizer, specials=(), avoid=""):
        """The rule of a `PreTokenizer` (or preset name); specials: the ones matched in the text."""
        name = getattr(pretokenizer, "name", pretokenizer)
        return cls(name in PRESET_CUTS, specials, avoid)

    def _ok(self, buf, p):
        """Whether p (with buf[p] a space) is a safe point; conservative at the buffer's edges."""
        if p <= 0:
            return False
        if isinstance(buf, str):
            c = buf[p - 1]
            if c in WHITESPACE or c in self.avoid:
                return False
            specials = self.specials
        else:
            b = buf[p - 1]
            if b < 0x80:
                if b in _ASCII_WS:
                    return False
            else:
                if p < 3:
                    return False                        # cannot see the whole character
                tail = bytes(buf[p - 3:p])
                if any(tail.endswith(w) for w in _WIDE_WS):
                    return False
            if self._avoid_bytes:
                if p < 4:
                    return False
                if any(bytes(buf[p - 4:p]).endswith(a) for a in self._avoid_bytes):
                    return False
            specials = self._special_bytes
        for s in specials:
            n = len(s)
            if p - n + 1 < 0 or p + n - 1 > len(buf):
                if n > 1:
                    return False                        # an occurrence could run past the buffer
                continue
            i = buf.find(s, p - n + 1, p + n - 1)
            if 0 <= i < p:
                return False
        return True

    def find(self, buf, lo, hi):
        """The first safe point in [lo, hi) of `buf` (bytes, bytearray or str), or -1."""
        return self._scan(buf, lo, hi, last=False)

    def rfind(self, buf, lo, hi):
        """The last safe point in [lo, hi) of `buf`, or -1."""
        return self._scan(buf, lo, hi, last=True)

    def _scan(self, buf, lo, hi, last):
        """Visit the spaces of [max(lo, 1), hi) from the front (or the back when `last`) until one is
        a safe point (a cut never falls at 0: the piece before it would be empty)."""
        if not self.enabled:
            return -1
        space = " " if isinstance(buf, str) else b" "
        lo = max(lo, 1)
        p = buf.rfind(space, lo, hi) if last else buf.find(space, lo, hi)
        while p >= 0:
            if self._ok(buf, p):
                return p
            p = buf.rfind(space, lo, p) if last else buf.find(space, p + 1, hi)
        return -1
        space = " " if isinstance(buf, str) else b" "
        p = buf.rfind(space, max(lo, 1), hi)
        while p >= 0:
            if self._ok(buf, p):
                return p
            p = buf.rfind(space, max(lo, 1), p)
        return -1

    @property
    def margin(self):
        """Bytes (characters) a buffer must extend past a point for the rule to judge it."""
        return max([len(s) for s in self._special_bytes] + [1])


def split_text(text, rule, size=None):
    """Parts of a str (or bytes) of about `size` characters, cut at the rule's safe points; a stretch
    without one stays whole. Yields slices; their concatenation is `text`."""
    size = size or PART_SIZE
    start = 0
    n = len(text)
    while n - start > size:
        p = rule.rfind(text, start + 1, start + size + 1)
        if p < 0:
            p = rule.find(text, start + size + 1, n)
            if p < 0:
                break
        yield text[start:p]
        start = p
    if start < n or n == 0:
        yield text[start:]


def iter_parts(stream, rule, size=None, lines=True):
    """Parts of a binary stream: (bytes, end) with end True on the last part of a line (lines=True:
    a part never holds more than one line) or of the stream. Long lines are cut at the rule's safe
    points into parts of about `size` bytes; without one the part grows until one comes (or the
    line ends), so memory follows the longest piece, not the longest line."""
    size = size or PART_SIZE
    margin = rule.margin
    buf = bytearray()
    searched = 0                        # no safe point before this offset of buf
    while True:
        chunk = stream.readline(size) if lines else stream.read(size)
        if not chunk:
            if buf:
                part = bytes(buf)
                buf.clear()
                yield part, True
            return
        buf += chunk
        if lines and buf[-1] == 10:
            part = bytes(buf)
            buf.clear()                 # before yielding: the consumer holds the only copy
            searched = 0
            yield part, True
            continue
        if len(buf) < size:
            continue
        p = rule.rfind(buf, searched, len(buf) - margin + 1)
        if p > 0:
            part = bytes(buf[:p])
            del buf[:p]
            searched = 0
            yield part, False
        else:
            searched = max(searched, len(buf) - margin - 3)
