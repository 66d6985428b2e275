"""`Tokenizer`: a trained model (vocabulary as bytes, ranked merges, options, statistics), its
`model.json` file, and encoding/decoding.

Ids. Internal ids number every token ever created (specials, alphabet, merges in creation order);
model ids are contiguous over the tokens a model can emit (`model_ids`, increasing internal ids).
For plain BPE the two coincide. Every public id (`encode`, `vocab`, `merges`) is a model id.

model.json (format "newbpe-model", version 1) holds: algorithm, units, pre-tokenizer, special
tokens, the alphabet size, every option, the default encoder, `tokens` (base64 bytes in internal-id
order), `merges` ([left, right, out] internal ids, rank order), `model_ids`, per-token `flags`,
method-specific `extra` (e.g. Picky's event log) and training `stats`. Loading validates every field
(newbpe/modelfile.py) and refuses newer versions; saving is atomic.
"""
import binascii
import json
import os

import numpy as np

from .errors import ModelFileError, NewbpeError
from .io import atomic_write_text, read_json
from .modelfile import FORMAT, FORMAT_VERSION  # noqa: F401  (defined with the validator)
from .pretokenizers import METASPACE, PreTokenizer, split_specials
from .units import bytes_to_token_string

SCANNER_PRESETS = ("gpt2", "cl100k", "o200k")
BATCH_CHARS = 4 << 20          # encode_batch works through groups of about this many characters

MODEL_FILE = "model.json"


class Tokenizer:
    def __init__(self, *, algo, units, pretokenizer, special_tokens, n_alphabet, tokens, merges,
                 model_ids=None, options=None, stats=None, encoder="rank", flags=None, extra=None):
        self.algo = algo
        self.units = units
        if isinstance(pretokenizer, str):
            pretokenizer = PreTokenizer(pretokenizer)
        self.pretokenizer = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer.from_dict(pretokenizer)
        self.special_tokens = list(special_tokens)
        self.n_alphabet = int(n_alphabet)
        self.tokens = [bytes(t) for t in tokens]
        self._merges = [(int(a), int(b), int(c)) for a, b, c in merges]
        self.model_ids = list(range(len(self.tokens))) if model_ids is None else [int(i) for i in model_ids]
        self.options = dict(options or {})
        self.stats = dict(stats or {})
        self.default_encoder = encoder
        self.flags = list(flags) if flags is not None else [0] * len(self.tokens)
        self.extra = dict(extra or {})
        self._encoders = {}
        self._demolition = None
        self._splinter = None
        if "splinter" in self.extra:              # SPLINTER text transform (newbpe/preprocessors/splinter.py)
            from .preprocessors.splinter import Splinter
            self._splinter = Splinter.from_dict(self.extra["splinter"])
        self._setup_units()

    # ------------------------------------------------------------------ ids and units
    def _setup_units(self):
        k = len(self.special_tokens)
        self.n_specials = k
        self._to_model = np.full(len(self.tokens), -1, dtype=np.int64)
        self._to_model[np.array(self.model_ids, dtype=np.int64)] = np.arange(len(self.model_ids))
        self._model_to_internal = np.array(self.model_ids, dtype=np.int64)
        alphabet = self.tokens[k:k + self.n_alphabet]
        if self.units == "bytes":
            self._byte_unit = np.full(256, -1, dtype=np.int64)
            for i, b in enumerate(alphabet):
                self._byte_unit[b[0]] = k + i
        else:
            self._char_unit = {b.decode("utf-8", "surrogatepass"): k + i for i, b in enumerate(alphabet)}
            unk = self.options.get("unk_token", "<unk>")
            self._unk = self.special_tokens.index(unk) if (
                self.options.get("unknown_chars", "unk") == "unk" and unk in self.special_tokens) else None
        self._special_id = {s: i for i, s in enumerate(self.special_tokens)}

    @property
    def vocab_size(self):
        return len(self.model_ids)

    @property
    def vocab(self):
        """{model id: token bytes} (special tokens as their UTF-8 bytes)."""
        return {m: self.tokens[i] for m, i in enumerate(self.model_ids)}

    @property
    def merges(self):
        """Ranked merges as (left_id, right_id, new_id) model ids; merges that involve a token with
        no model id (Picky-removed, Scaffold) are listed with internal ids negated minus one."""
        def mid(i):
            m = self._to_model[i]
            return int(m) if m >= 0 else -1 - i
        return [(mid(a), mid(b), mid(c)) for a, b, c in self._merges]

    def token_to_id(self, token):
        data = token.encode("utf-8", "surrogateescape") if isinstance(token, str) else bytes(token)
        for m, i in enumerate(self.model_ids):
            if self.tokens[i] == data:
                return m
        return None

    def id_to_token(self, i):
        return self.tokens[self._internal([i])[0]]

    def _internal(self, ids):
        """Internal ids (a list) of a sequence of model ids; anything that is not an integer in
        0..vocab_size-1 (a negative id too, which Python indexing would silently accept) is a
        one-line NewbpeError."""
        if not isinstance(ids, (list, tuple, np.ndarray)):
            ids = list(ids)
        try:
            arr = np.asarray(ids)
        except (OverflowError, ValueError, TypeError):
            arr = np.asarray(ids, dtype=object)
        if arr.size == 0:
            return []
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            bad = [i for i in (ids if arr.ndim == 1 else [ids]) if isinstance(i, bool) or not isinstance(
                i, (int, np.integer)) or not 0 <= i < self.vocab_size]
            raise NewbpeError(f"ids must be integers in 0..{self.vocab_size - 1}, got {str(bad[:5])[:80]}")
        bad = (arr < 0) | (arr >= self.vocab_size)
        if bad.any():
            raise NewbpeError(f"ids out of range 0..{self.vocab_size - 1}: {arr[bad][:5].tolist()}")
        return self._model_to_internal[arr].tolist()

    def _token_units(self):
        """Base-unit sequence of every internal token (for ignore_merges and longest-match)."""
        k = self.n_specials
        out = []
        for i, t in enumerate(self.tokens):
            if i < k:
                out.append(None)
            elif self.units == "bytes":
                out.append(self._byte_unit[np.frombuffer(t, dtype=np.uint8)])
            else:
                out.append(np.array([self._char_unit[c] for c in t.decode("utf-8", "surrogatepass")],
                                    dtype=np.int64))
        return out

    # ------------------------------------------------------------------ encoding
    def demolition(self):
        """{scaffold internal id: [internal ids]}: how Scaffold-BPE demolishes each scaffold token."""
        if self._demolition is None:
            from .encoders.scaffold import demolition_table
            self._demolition = demolition_table(self._merges, self.flags,
                                                self.options.get("demolition", "first_merge"))
        return self._demolition

    def _encoder(self, name=None):
        name = name or self.default_encoder
        enc = self._encoders.get(name)
        if enc is None:
            from .encoders import make_encoder
            enc = make_encoder(self, name)
            self._encoders[name] = enc
        return enc

    def _segments_units(self, segments, threads=1):
        """Pre-tokenize many str segments and map them to base units in one pass.
        Returns (units, offsets, pieces_per_segment)."""
        pretok = self.pretokenizer
        if self.units == "bytes":
            encoded = [seg.encode("utf-8", "surrogateescape") for seg in segments]
            seg_off = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum([len(e) for e in encoded], out=seg_off[1:])
            data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
            if pretok.name in SCANNER_PRESETS:
                from .pretokenizers.scanner import split_bytes_many
                offsets = split_bytes_many(data, seg_off, pretok.name, threads=threads)
            elif pretok.name == "none":
                offsets = np.unique(seg_off)
            else:
                lens = [len(p.encode("utf-8", "surrogateescape")) for seg in segments for p in pretok.split(seg)]
                offsets = np.zeros(len(lens) + 1, dtype=np.int64)
                np.cumsum(lens, out=offsets[1:])
            units = self._byte_unit[data]
            counts = np.diff(np.searchsorted(offsets, seg_off))
        else:
            unk = self._unk
            get = self._char_unit.get
            rows, counts = [], np.zeros(len(segments), dtype=np.int64)
            for i, seg in enumerate(segments):
                pieces = pretok.split(seg)
                counts[i] = len(pieces)
                rows.extend([get(c, unk) for c in p] for p in pieces)
            rows = [[u for u in r if u is not None] for r in rows] if unk is None else rows
            units = np.fromiter((u for r in rows for u in r), dtype=np.int64)
            offsets = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum([len(r) for r in rows], out=offsets[1:])
        if len(units) and units.min() < 0:        # observed byte alphabet: unseen bytes are dropped
            keep = units >= 0
            kept = np.concatenate([[0], np.cumsum(keep)])
            offsets = kept[offsets]
            units = units[keep]
        return np.ascontiguousarray(units, dtype=np.int64), offsets.astype(np.int64), counts

    def _chunks(self, text, allowed_special):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape" if self.units == "bytes" else "replace")
        if not isinstance(text, str):
            raise NewbpeError(f"encode() takes str or bytes, not {type(text).__name__}")
        if allowed_special:
            return split_specials(text, allowed_special)
        return [(False, text)] if text else []

    def encode(self, text, allowed_special=(), encoder=None):
        """Token ids (model ids) of `text`. Special-token strings are ordinary text unless listed
        in `allowed_special` (or "all"), as in tiktoken; HF exports always match them."""
        return self.encode_batch([text], allowed_special=allowed_special, encoder=encoder, threads=1)[0]

    def encode_bytes(self, data, encoder=None):
        """Ids of raw bytes (invalid UTF-8 included; byte-level models keep every byte)."""
        return self.encode(bytes(data), encoder=encoder)

    def encode_batch(self, texts, allowed_special=(), encoder=None, threads=None):
        """Encode many texts: batches of about 4 MB go through one pre-tokenization pass and one
        call into the numba encoder each (parallel over `threads`, default all cores), so memory
        stays bounded; results are identical for any thread count."""
        from .checks import check_threads, text_error
        check_threads(threads)
        if isinstance(texts, (str, bytes)):
            raise NewbpeError("encode_batch() takes a list of texts; use encode() for one text")
        allowed_special = self._allowed(allowed_special)
        results, group, size = [], [], 0
        try:
            for text in texts:
                group.append(text)
                size += len(text) if isinstance(text, (str, bytes)) else 0
                if size >= BATCH_CHARS:
                    results.extend(self._encode_group(group, allowed_special, encoder, threads))
                    group, size = [], 0
            if group:
                results.extend(self._encode_group(group, allowed_special, encoder, threads))
        except UnicodeEncodeError as e:
            raise text_error(e) from None
        return results

    def _allowed(self, allowed_special):
        """allowed_special as a list of special tokens: "all", a single token (a str), or a collection."""
        if allowed_special == "all":
            return list(self.special_tokens)
        try:
            allowed = [allowed_special] if isinstance(allowed_special, str) else list(allowed_special or ())
        except TypeError:
            raise NewbpeError(f"allowed_special must be 'all' or special tokens, got {allowed_special!r}") from None
        allowed = [s for s in allowed if s != ""]
        unknown = {str(s) for s in allowed if not isinstance(s, str) or s not in self._special_id}
        if unknown:
            raise NewbpeError(f"not special tokens of this model: {', '.join(sorted(unknown))}")
        return allowed

    def _encode_group(self, texts, allowed_special, encoder, threads):
        enc = self._encoder(encoder)
        threads = threads or os.cpu_count() or 1
        segments, plan = [], []
        for text in texts:
            doc = []
            for is_special, chunk in self._chunks(text, allowed_special):
                if is_special:
                    doc.append(-1 - self._special_id[chunk])
                else:
                    doc.append(len(segments))
                    segments.append(self._transform(chunk))
            plan.append(doc)
        units, offsets, pieces_per_segment = self._segments_units(segments, threads)
        ids, out_offsets = enc.encode_units(units, offsets, threads=threads)
        model = self._to_model[ids] if len(ids) else ids
        if len(model) and model.min() < 0:
            raise RuntimeError("encoder emitted a token without a model id")
        seg_first_piece = np.zeros(len(segments) + 1, dtype=np.int64)
        np.cumsum(pieces_per_segment, out=seg_first_piece[1:])
        bounds = out_offsets[seg_first_piece]
        results = []
        for doc in plan:
            out = []
            for item in doc:
                if item < 0:
                    out.append(int(self._to_model[-1 - item]))
                else:
                    out.extend(model[bounds[item]:bounds[item + 1]].tolist())
            results.append(out)
        return results

    def _transform(self, text):
        """Hook for text preprocessors (SPLINTER) applied before pre-tokenization."""
        return self._splinter.apply(text) if self._splinter is not None else text

    def set_splinter(self, splinter):
        """Attach a SPLINTER transform: encode applies it, decode inverts it, model.json stores it."""
        self._splinter = splinter
        self.extra["splinter"] = splinter.to_dict()
        self._encoders.clear()

    # ------------------------------------------------------------------ decoding
    def decode_bytes(self, ids):
        """Exact bytes of a sequence of model ids."""
        tokens = self.tokens
        data = b"".join([tokens[i] for i in self._internal(ids)])
        if self.pretokenizer.name == "whitespace":
            data = data.replace(METASPACE.encode(), b" ")
            if data.startswith(b" "):
                data = data[1:]
        if self._splinter is not None:
            data = self._splinter.invert(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        return data

    def decode(self, ids):
        """Text of a sequence of model ids (UTF-8, invalid sequences replaced by U+FFFD)."""
        return self.decode_bytes(ids).decode("utf-8", "replace")

    def token_strings(self, ids):
        """Readable strings of tokens (GPT-2 byte mapping in byte mode, text in char mode)."""
        out = []
        for i in self._internal(ids):
            t = self.tokens[i]
            if i < self.n_specials or self.units == "chars":
                out.append(t.decode("utf-8", "replace"))
            else:
                out.append(bytes_to_token_string(t))
        return out

    # ------------------------------------------------------------------ introspection
    def info(self):
        d = {
            "algorithm": self.algo,
            "vocab_size": self.vocab_size,
            "units": self.units,
            "pretokenizer": self.pretokenizer.spec,
            "special_tokens": self.special_tokens,
            "alphabet_size": self.n_alphabet,
            "num_merges": len(self._merges),
            "encoder": self.default_encoder,
            "options": self.options,
        }
        if self._splinter is not None:
            d["splinter"] = {"lang": self._splinter.lang, "symbols": len(self._splinter.keys),
                             "options": self._splinter.options}
        if self.algo == "scaffold":
            d["scaffold_tokens"] = len(self.tokens) - len(self.model_ids)
        d.update(self.stats)
        return d

    # ------------------------------------------------------------------ persistence
    def to_dict(self):
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "algo": self.algo,
            "units": self.units,
            "pretokenizer": self.pretokenizer.to_dict(),
            "special_tokens": self.special_tokens,
            "n_alphabet": self.n_alphabet,
            "encoder": self.default_encoder,
            "options": self.options,
            "tokens": [binascii.b2a_base64(t, newline=False).decode("ascii") for t in self.tokens],
            "merges": list(map(list, self._merges)),
            "model_ids": self.model_ids,
            "flags": self.flags,
            "extra": self.extra,
            "stats": self.stats,
        }

    def save(self, out_dir, hf=None):
        """Write OUT_DIR/model.json (and tokenizer.json where the method is exactly expressible in
        HF, unless hf=False). Every file is written atomically."""
        out_dir = os.fspath(out_dir)
        if os.path.exists(out_dir) and not os.path.isdir(out_dir):
            raise NewbpeError(f"output path exists and is not a directory: {out_dir}")
        os.makedirs(out_dir, exist_ok=True)
        from ._gc import gc_paused
        with gc_paused():
            atomic_write_text(os.path.join(out_dir, MODEL_FILE),
                              json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
            written = [os.path.join(out_dir, MODEL_FILE)]
            if hf is not False:
                from .export.hf import hf_exact, save_hf
                if hf_exact(self):
                    written += save_hf(self, out_dir)
        return written

    def to_hf(self, approximate=False, expanded=False, inner=False):
        """The HF `tokenizer.json` content as a string: exact for rank-BPE models; other methods
        raise unless approximate=True, or expanded=True for Scaffold-BPE (see export/hf.py);
        SPLINTER models raise unless inner=True (the inner model, for transformed text)."""
        from .export.hf import to_hf_json
        return to_hf_json(self, approximate, expanded, inner)

    def save_hf(self, out_dir, approximate=False, expanded=False, inner=False):
        from .export.hf import save_hf
        return save_hf(self, out_dir, approximate, expanded=expanded, inner=inner)

    @classmethod
    def from_dict(cls, d, source="model"):
        return _validate(d, source)

    @classmethod
    def load(cls, path):
        path = os.fspath(path)
        file = os.path.join(path, MODEL_FILE) if os.path.isdir(path) else path
        if not os.path.exists(file) and not (path.endswith(".json") or os.path.isdir(path)):
            raise ModelFileError(f"model directory not found: {path}")
        return _validate(read_json(file, "model file"), file)

    def __repr__(self):
        return (f"Tokenizer(algo={self.algo!r}, vocab_size={self.vocab_size}, units={self.units!r}, "
                f"pretokenizer={self.pretokenizer.name!r})")


def _validate(d, source):
    """Strict model.json validation (newbpe/modelfile.py): every problem is a one-line ModelFileError."""
    from .modelfile import validate
    return validate(d, source)
