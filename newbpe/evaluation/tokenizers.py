"""Adapters: every kind of tokenizer `newbpe eval` compares, behind one call that returns token ids
and the byte span of every token in the text.

`Adapter.encode(texts, text_offsets)` encodes a batch of texts (str, no line breaks) and returns an
`Encoded`: the ids of all texts in order, each token's (start, end) byte span in the batch's UTF-8
bytes (the texts concatenated; text k starts at `text_offsets[k]`), and `token_bounds` (text k's
tokens are `token_bounds[k]:token_bounds[k+1]`). Spans never decrease and never overlap: a token
that covers no input byte of its own gets an empty span (start == end) and counts as a token in
every count-based metric but has no position for the boundary metrics (words split, MorphScore).

How each kind maps tokens to byte spans:

- **newbpe** (model dir, model.json, or an HF tokenizer.json newbpe loads exactly): encoded with
  newbpe's numba encoders (`Tokenizer.iter_encoded`). When a text's token bytes add up to its length
  (every byte-level model without a text transform) the spans are the running sum of the token
  lengths; otherwise (metaspace `▁`, the `whitespace` pre-tokenizer, char units with unknown
  characters) `newbpe.encoding.byte_spans` matches the tokens against the text. Where neither
  applies (SPLINTER rewrites the text, so tokens spell another text: newbpe/encoding.py) the spans
  are the running sum of token lengths clipped to the text: approximate, documented.
- **hf** (`tokenizers.Tokenizer`, any model type: BPE, WordPiece, Unigram, WordLevel): HF's
  character offsets converted to byte offsets through the UTF-8 length of every character.
  Byte-fallback pieces of one character all carry that character's offsets: the first piece gets
  the character's bytes, the others empty spans (so partial UTF-8 tokens never break a span).
  A tokenizer.json that `newbpe.load` reads is first checked against `tokenizers` on the first
  batch; if the ids differ anywhere it is encoded through `tokenizers` from then on.
- **tiktoken** (`.tiktoken` rank files): encoded by `tiktoken`; token bytes concatenate to the
  text, so spans are the running sum of token byte lengths. The pre-tokenization pattern is a preset
  (gpt2, cl100k, o200k) or a regex; default: the preset named in the file name (`cl100k_base.tiktoken`
  → cl100k, `o200k…` → o200k), else gpt2 (r50k/p50k/GPT-2 files have no name hint).
- **sentencepiece** (`.model`, needs `sentencepiece`): SentencePiece's own byte offsets of each
  piece (`offset_mapping` with `return_bytes=True`; the dummy-prefix `▁` covers no input byte;
  byte-fallback pieces of one character: the first is empty, the last spans the character).
"""
from __future__ import annotations

import os
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from ..errors import NewbpeError

#: presets a .tiktoken file name may name, checked in this order (the default is gpt2)
TIKTOKEN_NAMED_PRESETS = ("o200k", "cl100k")


class Encoded(NamedTuple):
    """One encoded batch (see the module docstring)."""
    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    token_bounds: np.ndarray


def running_spans(lengths, token_bounds, text_offsets):
    """Spans from token byte lengths laid end to end from each text's start, clipped to the text's
    end (exact when the tokens spell the text; the fallback otherwise). Vectorised over the batch."""
    n_texts = len(token_bounds) - 1
    text_of = np.repeat(np.arange(n_texts), np.diff(token_bounds))
    cum = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=cum[1:])
    starts = cum[:-1] - cum[token_bounds[:-1]][text_of] + text_offsets[:-1][text_of]
    ends = starts + lengths
    limit = text_offsets[1:][text_of]
    return np.minimum(starts, limit), np.minimum(ends, limit)


def spelled_texts(lengths, token_bounds, text_offsets):
    """Boolean per text: its tokens' byte lengths add up to its byte length."""
    cum = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=cum[1:])
    return cum[token_bounds[1:]] - cum[token_bounds[:-1]] == np.diff(text_offsets)


def monotone(starts, ends):
    """Spans made non-decreasing and non-overlapping: a span starting before the end of an earlier
    one starts at that end (byte-fallback pieces sharing one character: the first keeps it)."""
    if not len(starts):
        return starts, ends
    prev_end = np.maximum.accumulate(ends)
    floor = np.concatenate([[0], prev_end[:-1]])
    starts = np.maximum(starts, floor)
    return starts, np.maximum(ends, starts)


def _bounds(counts):
    bounds = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=bounds[1:])
    return bounds


class Adapter:
    """A loaded tokenizer: `kind`, `source`, `vocab_size`, `encode(texts, text_offsets)`, and the
    newbpe `Tokenizer` (`model`) when it is one (curves need it)."""
    kind = ""
    model: Any = None

    def __init__(self, source: str, vocab_size: int):
        self.source = source
        self.vocab_size = int(vocab_size)

    def encode(self, texts: list[str], text_offsets: np.ndarray) -> Encoded:
        raise NotImplementedError


class NewbpeAdapter(Adapter):
    kind = "newbpe"

    def __init__(self, tok, source, threads=None):
        super().__init__(source, tok.vocab_size)
        self.model = tok
        self.threads = threads
        v = tok.vocabulary
        self.lengths = np.array([len(t) for t in v.tokens], dtype=np.int64)[v.to_internal]

    def encode(self, texts, text_offsets):
        ids, bounds = self.model.encode_flat(texts, self.threads)
        lengths = self.lengths[ids]
        starts, ends = running_spans(lengths, bounds, text_offsets)
        exact = spelled_texts(lengths, bounds, text_offsets)
        if self.model.transforms or self.model.decoder.type == "metaspace":
            exact[:] = False
        if not exact.all():
            from ..encoding import byte_spans
            for k in np.flatnonzero(~exact).tolist():
                data = texts[k].encode("utf-8", "surrogateescape")
                spans = None if self.model.transforms else byte_spans(self.model, data, ids[bounds[k]:bounds[k + 1]].tolist())
                if spans:
                    sl = slice(bounds[k], bounds[k + 1])
                    starts[sl] = np.array([s for s, _ in spans], dtype=np.int64) + text_offsets[k]
                    ends[sl] = np.array([e for _, e in spans], dtype=np.int64) + text_offsets[k]
        starts, ends = monotone(starts, ends)
        return Encoded(ids, starts, ends, bounds)


_SURROGATES = {c: 0xFFFD for c in range(0xDC80, 0xDD00)}


def _without_surrogates(texts):
    """Texts with each surrogateescape'd byte (invalid UTF-8 in the file) replaced by U+FFFD, which
    Rust-backed tokenizers accept: one character for one, so character offsets stay those of the
    original text (and `_char_to_byte` counts the original byte)."""
    return [t if t.isascii() else t.translate(_SURROGATES) for t in texts]


def _char_to_byte(text):
    """Byte offset of every character index of `text` (length len(text)+1); surrogateescape'd
    bytes (lone U+DC80..U+DCFF) are one byte each."""
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    sizes = np.where(cps < 0x80, 1, np.where(cps < 0x800, 2, np.where(cps < 0x10000, 3, 4)))
    sizes[(cps >= 0xDC80) & (cps <= 0xDCFF)] = 1
    table = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(sizes, out=table[1:])
    return table


class HFAdapter(Adapter):
    kind = "hf"

    def __init__(self, hf, source, newbpe_tok=None, threads=None):
        super().__init__(source, hf.get_vocab_size(with_added_tokens=True))
        self.hf = hf
        self.newbpe = NewbpeAdapter(newbpe_tok, source, threads) if newbpe_tok is not None else None
        self.checked = False

    @property
    def model(self):  # type: ignore[override]
        return self.newbpe.model if self.newbpe is not None else None

    def encode(self, texts, text_offsets):
        if self.newbpe is not None and self.checked:
            return self.newbpe.encode(texts, text_offsets)
        encodings = self.hf.encode_batch(_without_surrogates(texts), add_special_tokens=False)
        counts = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        n = int(counts.sum())
        ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.int64, count=n)
        if self.newbpe is not None:
            ours = self.newbpe.encode(texts, text_offsets)
            self.checked = True
            if np.array_equal(ours.ids, ids):
                return ours
            self.newbpe = None                # newbpe reads this file differently: trust tokenizers
        # character offsets of every token, made global over the batch's texts, then bytes through
        # one character→byte table of the whole batch (vectorised: 2 MB took 3.4 s text by text)
        offs = np.fromiter(chain.from_iterable(chain.from_iterable(e.offsets for e in encodings)),
                           dtype=np.int64, count=2 * n).reshape(n, 2)
        char_lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        bounds = _bounds(counts)
        text_of = np.repeat(np.arange(len(texts)), counts)
        offs = np.minimum(offs, char_lens[text_of][:, None]) + _bounds(char_lens)[:-1][text_of][:, None]
        table = _char_to_byte("".join(texts)) + text_offsets[0]
        starts, ends = monotone(table[offs[:, 0]], table[offs[:, 1]])
        return Encoded(ids, starts, ends, bounds)


class TiktokenAdapter(Adapter):
    kind = "tiktoken"

    def __init__(self, enc, source):
        super().__init__(source, enc.n_vocab)
        self.enc = enc
        self.lengths = np.zeros(enc.n_vocab, dtype=np.int64)
        for t, r in enc._mergeable_ranks.items():
            self.lengths[r] = len(t)

    def encode(self, texts, text_offsets):
        # one call per line: tiktoken's encode_ordinary_batch hands every text to a thread pool,
        # 6x slower on Gutenberg's short lines (2 MB: 2.69 s batched, 0.46 s in this loop)
        encode = self.enc.encode_ordinary
        batch = [encode(t) for t in texts]
        counts = np.array([len(x) for x in batch], dtype=np.int64)
        ids = np.fromiter((i for x in batch for i in x), dtype=np.int64, count=int(counts.sum()))
        bounds = _bounds(counts)
        starts, ends = running_spans(self.lengths[ids], bounds, text_offsets)
        return Encoded(ids, *monotone(starts, ends), bounds)


class SentencePieceAdapter(Adapter):
    kind = "sentencepiece"

    def __init__(self, sp, source):
        super().__init__(source, sp.get_piece_size())
        self.sp = sp

    def encode(self, texts, text_offsets):
        ids, starts, ends, counts = [], [], [], []
        for piece_ids, spans, base in zip(*self._pieces(texts), text_offsets[:-1].tolist()):
            counts.append(len(piece_ids))
            ids.extend(piece_ids)
            starts.extend(s + base for s, _ in spans)
            ends.extend(e + base for _, e in spans)
        bounds = _bounds(np.array(counts, dtype=np.int64))
        limit = np.repeat(text_offsets[1:], np.diff(bounds))
        s, e = monotone(np.minimum(starts, limit), np.minimum(ends, limit))
        return Encoded(np.array(ids, dtype=np.int64), s, e, bounds)

    def _pieces(self, texts):
        """(ids, byte spans) per text: `offset_mapping` with byte offsets (sentencepiece ≥ 0.2.1, no
        protobuf needed), else the immutable proto's begin/end (older releases)."""
        texts = _without_surrogates(texts)     # offsets then count U+FFFD's 3 bytes: clipped below
        try:
            out = self.sp.encode(texts, return_type="offset_mapping", return_bytes=True)
            return [d["ids"] for d in out], [d["offsets"] for d in out]
        except TypeError:
            protos = self.sp.encode(texts, out_type="immutable_proto")
            return ([[p.id for p in x.pieces] for x in protos],
                    [[(p.begin, p.end) for p in x.pieces] for x in protos])


def tiktoken_pattern(path, pattern=None):
    """The pre-tokenization regex of a .tiktoken file: `pattern` (a preset name or a regex), else
    the preset its file name names, else gpt2 (module docstring)."""
    from ..pretokenizers.presets import PATTERNS
    if pattern is None:
        name = os.path.basename(path).lower()
        pattern = next((p for p in TIKTOKEN_NAMED_PRESETS if p in name), "gpt2")
    return PATTERNS.get(pattern, pattern)


def load_adapter(source, threads=None, tiktoken_pattern_name=None):
    """An Adapter for `source`: a path (model dir, model.json, tokenizer.json or a directory holding
    one, .tiktoken, .model), a newbpe `Tokenizer`, a `tokenizers.Tokenizer`, a `tiktoken.Encoding`
    or a `sentencepiece.SentencePieceProcessor`. An unreadable file is a one-line NewbpeError naming it."""
    from ..model import Tokenizer
    if isinstance(source, Tokenizer):
        return NewbpeAdapter(source, "<Tokenizer>", threads)
    kind = type(source).__module__.split(".")[0]
    if kind == "tokenizers":
        return HFAdapter(source, "<tokenizers.Tokenizer>", None, threads)
    if kind == "tiktoken":
        return TiktokenAdapter(source, f"<tiktoken {source.name}>")
    if kind == "sentencepiece":
        return SentencePieceAdapter(source, "<SentencePieceProcessor>")
    if not isinstance(source, (str, os.PathLike)):
        raise NewbpeError(f"not a tokenizer: {type(source).__name__} (give a path or a loaded tokenizer)")
    path = os.fspath(source)
    if not os.path.exists(path):
        raise NewbpeError(f"tokenizer not found: {path}")
    try:
        return _load_path(path, threads, tiktoken_pattern_name)
    except NewbpeError as e:
        msg = str(e)
        raise NewbpeError(msg if path in msg else f"{path}: {msg}") from None
    except Exception as e:  # noqa: BLE001 - any unreadable file is one line naming it
        raise NewbpeError(f"cannot read tokenizer {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None


def _hf_file(path):
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "model.json")) \
            and os.path.exists(os.path.join(path, "tokenizer.json")):
        return os.path.join(path, "tokenizer.json")
    if os.path.isfile(path) and path.endswith(".json") and os.path.basename(path) != "model.json":
        return path
    return None


def _load_path(path, threads, pattern):
    import newbpe
    if path.endswith(".tiktoken"):
        try:
            import tiktoken
        except ImportError:
            raise NewbpeError(f"{path}: reading .tiktoken files needs tiktoken (pip install tiktoken)") from None
        from ..export.tiktoken import read_tiktoken_ranks
        ranks = read_tiktoken_ranks(path)
        if not ranks:
            raise NewbpeError(f"{path}: empty tiktoken rank file")
        enc = tiktoken.Encoding(name=os.path.basename(path), pat_str=tiktoken_pattern(path, pattern),
                                mergeable_ranks=ranks, special_tokens={})
        return TiktokenAdapter(enc, path)
    if path.endswith(".model"):
        try:
            import sentencepiece as spm
        except ImportError:
            raise NewbpeError(f"{path}: reading SentencePiece models needs sentencepiece "
                              "(pip install sentencepiece)") from None
        return SentencePieceAdapter(spm.SentencePieceProcessor(model_file=path), path)
    hf_file = _hf_file(path)
    if hf_file is not None:
        from tokenizers import Tokenizer as HFTokenizer
        hf = HFTokenizer.from_file(hf_file)
        try:
            tok = newbpe.load(hf_file) if os.path.basename(hf_file) == "tokenizer.json" else None
        except NewbpeError:
            tok = None                        # a model newbpe cannot read: encoded by tokenizers
        return HFAdapter(hf, path, tok, threads)
    return NewbpeAdapter(newbpe.load(path), path, threads)
