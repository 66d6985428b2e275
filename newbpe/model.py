"""`Tokenizer`: a trained model (vocabulary as bytes, ranked merges, options, statistics), its
`model.json` file, and encoding/decoding.

Ids. Internal ids number every token ever created (specials, alphabet, merges in creation order);
model ids are contiguous over the tokens a model can emit (`model_ids`, increasing internal ids).
For plain BPE the two coincide. Every public id (`encode`, `vocab`, `merges`) is a model id.

model.json (format "newbpe-model", version 1) holds: algorithm, units, pre-tokenizer, special
tokens, the alphabet size, every option, the default encoder, `tokens` (base64 bytes in internal-id
order), `merges` ([left, right, out] internal ids, rank order), `model_ids`, per-token `flags`,
method-specific `extra` (e.g. Picky's event log) and training `stats`. Loading validates every field
and refuses newer versions; saving is all-or-nothing (newbpe/atomic.py).
"""
import base64
import binascii
import json
import os
import warnings

import numpy as np

from .engine.state import FLAG_SCAFFOLD
from .errors import ModelFileError, NewbpeError
from .io import read_json
from .pretokenizers import METASPACE, PreTokenizer, split_specials
from .units import bytes_to_token_string

SCANNER_PRESETS = ("gpt2", "cl100k", "o200k")
BATCH_CHARS = 4 << 20          # encode_batch works through groups of about this many characters

FORMAT = "newbpe-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
# Every file newbpe may write into a model directory: a save deletes the ones it does not write, so
# nothing of an earlier model survives (HF export, its sidecars, StochasTok's table, a tiktoken
# export under its default name).
MODEL_DIR_FILES = (MODEL_FILE, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "splinter.json",
                   "scaffold_demolition.json", "stochastok.npz", "newbpe.tiktoken", "newbpe.tiktoken.json")


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
        return self.tokens[self.model_ids[i]]

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
        if allowed_special == "all":
            allowed_special = self.special_tokens
        if allowed_special:
            unknown = set(allowed_special) - set(self.special_tokens)
            if unknown:
                raise NewbpeError(f"not special tokens of this model: {', '.join(sorted(unknown))}")
            return split_specials(text, list(allowed_special))
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
        results, group, size = [], [], 0
        for text in texts:
            group.append(text)
            size += len(text)
            if size >= BATCH_CHARS:
                results.extend(self._encode_group(group, allowed_special, encoder, threads))
                group, size = [], 0
        if group:
            results.extend(self._encode_group(group, allowed_special, encoder, threads))
        return results

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
        try:
            data = b"".join(self.tokens[self.model_ids[i]] for i in ids)
        except (IndexError, TypeError):
            bad = [i for i in ids if not (isinstance(i, (int, np.integer)) and 0 <= i < self.vocab_size)]
            raise NewbpeError(f"ids out of range 0..{self.vocab_size - 1}: {bad[:5]}") from None
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
        for i in ids:
            t = self.tokens[self.model_ids[i]]
            if self.model_ids[i] < self.n_specials or self.units == "chars":
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
            "pretokenizer": self.pretokenizer.name if self.pretokenizer.name != "regex" else self.pretokenizer.pattern,
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
        HF, unless hf=False). All-or-nothing (`newbpe.atomic.write_dir`): after an error or a kill
        OUT_DIR holds the complete old model or the complete new one; no file an earlier model left
        (MODEL_DIR_FILES) survives a save; other files in OUT_DIR are kept."""
        from ._gc import gc_paused
        from .atomic import write_dir
        with gc_paused():
            files = {MODEL_FILE: json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"}
            if hf is not False:
                from .export.hf import hf_exact, hf_files
                if hf_exact(self):
                    files.update(hf_files(self))
        return write_dir(out_dir, files, owned=MODEL_DIR_FILES)

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
        from .atomic import recover
        recover(path)                       # a commit a killed process left half-done is completed
        file = os.path.join(path, MODEL_FILE) if os.path.isdir(path) else path
        if not os.path.exists(file) and not (path.endswith(".json") or os.path.isdir(path)):
            raise ModelFileError(f"model directory not found: {path}")
        return _validate(read_json(file, "model file"), file)

    def __repr__(self):
        return (f"Tokenizer(algo={self.algo!r}, vocab_size={self.vocab_size}, units={self.units!r}, "
                f"pretokenizer={self.pretokenizer.name!r})")


def _validate(d, source):
    """Strict model.json validation: every problem is a one-line ModelFileError."""
    def bad(msg):
        raise ModelFileError(f"{source}: {msg}")
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        bad("not a newbpe model file")
    v = d.get("format_version")
    if not isinstance(v, int):
        bad("missing format_version")
    if v > FORMAT_VERSION:
        bad(f"format version {v} is newer than this newbpe supports ({FORMAT_VERSION}); upgrade newbpe")
    required = ("algo", "units", "pretokenizer", "special_tokens", "n_alphabet", "tokens", "merges", "model_ids")
    missing = [k for k in required if k not in d]
    if missing:
        bad("missing field(s) " + ", ".join(missing))
    if d["units"] not in ("bytes", "chars"):
        bad(f"unknown units {d['units']!r}")
    try:
        tokens = [base64.b64decode(t, validate=True) for t in d["tokens"]]
    except Exception:  # noqa: BLE001
        bad("tokens are not valid base64")
    n = len(tokens)
    k = len(d["special_tokens"])
    if not (0 <= d["n_alphabet"] and k + d["n_alphabet"] <= n):
        bad("n_alphabet inconsistent with the token list")
    for i, s in enumerate(d["special_tokens"]):
        if not isinstance(s, str) or tokens[i] != s.encode("utf-8"):
            bad(f"special token {i} does not match its token bytes")
    merges = d["merges"]
    if not isinstance(merges, list):
        bad("merges must be a list")
    for r, m in enumerate(merges):
        if not (isinstance(m, list) and len(m) == 3 and all(isinstance(x, int) and 0 <= x < n for x in m)):
            bad(f"merge {r} is malformed: {m!r}")
        if tokens[m[0]] + tokens[m[1]] != tokens[m[2]]:
            bad(f"merge {r} does not spell its output token")
    mids = d["model_ids"]
    if not isinstance(mids, list) or any(not isinstance(i, int) or not 0 <= i < n for i in mids) \
            or len(set(mids)) != len(mids):
        bad("model_ids are malformed")
    try:
        pretok = PreTokenizer.from_dict(d["pretokenizer"])
    except Exception as e:  # noqa: BLE001
        bad(f"bad pre-tokenizer: {e}")
    flags = d.get("flags") or [0] * n
    if len(flags) != n:
        bad("flags length differs from tokens")
    events = (d.get("extra") or {}).get("events")
    if d.get("encoder") == "replay" and not isinstance(events, list):
        bad("a replay model needs an event log (extra.events)")
    for i, ev in enumerate(events or []):
        ok = isinstance(ev, list) and len(ev) >= 3 and ev[0] in ("M", "S")
        if ok and ev[0] == "M":
            ok = len(ev) == 4 and all(isinstance(x, int) and 0 <= x < n for x in ev[1:]) \
                and tokens[ev[1]] + tokens[ev[2]] == tokens[ev[3]]
        elif ok:
            ok = len(ev) == 3 and isinstance(ev[1], int) and 0 <= ev[1] < n and isinstance(ev[2], list) \
                and all(isinstance(x, int) and 0 <= x < n for x in ev[2]) \
                and b"".join(tokens[x] for x in ev[2]) == tokens[ev[1]]
        if not ok:
            bad(f"event {i} is malformed: {str(ev)[:80]}")
    if d.get("encoder", "rank") not in ("rank", "replay", "scaffold", "lbpe"):
        bad(f"unknown encoder {d.get('encoder')!r}")
    if d["algo"] == "scaffold":
        if not all(isinstance(f, int) for f in flags):
            bad("flags must be integers")
        visible = [i for i in range(n) if not flags[i] & FLAG_SCAFFOLD]
        if mids != visible:
            bad("model_ids must be exactly the non-scaffold tokens")
        if any(flags[i] & FLAG_SCAFFOLD for i in range(k + d["n_alphabet"])):
            bad("a base unit or special token is flagged scaffold")
    if "splinter" in (d.get("extra") or {}):
        from .preprocessors.splinter import Splinter
        try:
            Splinter.from_dict(d["extra"]["splinter"], "extra.splinter")
        except NewbpeError as e:
            bad(str(e))
    with warnings.catch_warnings():
        tok = Tokenizer(algo=d["algo"], units=d["units"], pretokenizer=pretok,
                         special_tokens=d["special_tokens"], n_alphabet=d["n_alphabet"], tokens=tokens,
                         merges=merges, model_ids=mids, options=d.get("options"), stats=d.get("stats"),
                         encoder=d.get("encoder", "rank"), flags=flags, extra=d.get("extra"))
    if d["algo"] == "scaffold":
        try:
            table = tok.demolition()
        except ValueError as e:
            bad(str(e))
        stored = (d.get("extra") or {}).get("demolition")
        try:
            stored = None if stored is None else sorted([int(t), [int(x) for x in p]] for t, p in stored)
        except (TypeError, ValueError):
            bad("malformed demolition table")
        if stored is not None and stored != [[t, p] for t, p in sorted(table.items())]:
            bad("the stored demolition table differs from the one the merges and flags give")
    return tok
