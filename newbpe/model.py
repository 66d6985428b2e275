"""`Tokenizer`: a trained model as a pipeline of named stages (design.md, HF tokenizers' shape):

    text ─► transforms (SPLINTER, ...) ─► pre-tokenizer ─► encoder over the `Vocabulary` ─► ids
    ids ─► token bytes ─► decoder (bytes | metaspace) ─► transforms inverted ─► text

The stages are components that serialise with a {"type": ...} tag (modelfile.py); the tokenizer only
composes them. Ids: every public id (`encode`, `vocab`, `merges`) is a model id; `vocabulary` (vocab.py)
is the public internal-id table that encoders, exporters, the CLI and tests read.
Saving is all-or-nothing (newbpe/atomic.py).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from .errors import NewbpeError
from .modelfile import FORMAT, FORMAT_VERSION, MODEL_FILE  # noqa: F401  (re-exported)
from .pretokenizers import PreTokenizer, split_specials
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .encoding import Encoding

BATCH_CHARS = 4 << 20          # encode_batch works through groups of about this many characters


class Tokenizer:
    def __init__(self, *, algo: str, units: str, pretokenizer: str | dict[str, Any] | PreTokenizer,
                 special_tokens: Sequence[str], n_alphabet: int, tokens: Sequence[bytes],
                 merges: Sequence[tuple[int, int, int]], model_ids: Any = None, options: dict[str, Any] | None = None,
                 stats: dict[str, Any] | None = None, encoder: str = "rank", flags: Any = None, extra: Any = None,
                 idents: Any = None, transforms: Iterable[Any] = (), decoder: Any = None,
                 roles: dict[str, str] | None = None, template: dict[str, bool] | None = None) -> None:
        self.algo = algo
        self.units = units
        if isinstance(pretokenizer, str):
            pretokenizer = PreTokenizer(pretokenizer)
        self.pretokenizer = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer.from_dict(pretokenizer)
        self.special_tokens = list(special_tokens)
        self.vocabulary = Vocabulary(tokens, merges, model_ids, n_specials=len(self.special_tokens),
                                     n_alphabet=n_alphabet, units=units, flags=flags, idents=idents)
        self.options = dict(options or {})
        self.stats = dict(stats or {})
        self.default_encoder = encoder
        self.extra = dict(extra or {})
        self.transforms = list(transforms)
        self.decoder = decoder if decoder is not None else self.pretokenizer.decoder()
        self._encoders = {}
        self._setup_units()
        self.roles, self.template = {}, {}
        if roles or template:
            from .roles import validate_roles
            self.roles, self.template = validate_roles(self, roles, template)

    # ------------------------------------------------------------------ ids and units
    def _setup_units(self):
        v = self.vocabulary
        if self.units == "bytes":
            self._byte_unit = v.byte_units().astype(np.int32)     # ids < 2**31 (encoders' MAX_ID)
        else:
            self._char_unit = v.char_units()
            unk = self.options.get("unk_token", "<unk>")
            self._unk = self.special_tokens.index(unk) if (
                self.options.get("unknown_chars", "unk") == "unk" and unk in self.special_tokens) else None
        self._special_id = {s: i for i, s in enumerate(self.special_tokens)}

    @property
    def tokens(self) -> list[bytes]:
        """Bytes of every internal token (`vocabulary.tokens`)."""
        return self.vocabulary.tokens

    @property
    def model_ids(self) -> np.ndarray:
        return self.vocabulary.model_ids

    @property
    def flags(self) -> np.ndarray:
        return self.vocabulary.flags

    @property
    def n_specials(self) -> int:
        return self.vocabulary.n_specials

    @property
    def n_alphabet(self) -> int:
        return self.vocabulary.n_alphabet

    @property
    def unk_token(self) -> str | None:
        """The special token that stands for unknown characters (char units), or None."""
        return self.special_tokens[self._unk] if self.units == "chars" and self._unk is not None else None

    @property
    def vocab_size(self) -> int:
        return self.vocabulary.size

    @property
    def vocab(self) -> dict[int, bytes]:
        """{model id: token bytes} (special tokens as their UTF-8 bytes)."""
        tokens = self.vocabulary.tokens
        return {m: tokens[i] for m, i in enumerate(self.vocabulary.model_ids)}

    @property
    def merges(self) -> list[tuple[int, int, int]]:
        """Ranked merges as (left_id, right_id, new_id) model ids; merges that involve a token with
        no model id (Picky-removed, Scaffold) are listed with internal ids negated minus one."""
        to_model = self.vocabulary.to_model

        def mid(i):
            m = to_model[i]
            return int(m) if m >= 0 else -1 - i
        return [(mid(a), mid(b), mid(c)) for a, b, c in self.vocabulary.merges]

    def token_to_id(self, token: str | bytes) -> int | None:
        """Model id of a token, or None; O(1). bytes: the token's bytes; str: its text (UTF-8), else
        HF's string form of it (byte-level `Ġworld`, as `get_vocab()` and tokenizer.json spell it)."""
        if isinstance(token, str):
            found = self.vocabulary.model_id_of((0, token.encode("utf-8", "surrogateescape")))
            return found if found is not None else self.get_vocab().get(token)
        return self.vocabulary.model_id_of((0, bytes(token)))

    def get_vocab(self) -> dict[str, int]:
        """{token string: model id} in HF's form (byte-level tokens through the GPT-2 byte mapping,
        `Ġworld`; char-level tokens and special tokens as their text), as tokenizer.json has it.
        Built once and cached; do not mutate it."""
        if getattr(self, "_hf_vocab", None) is None:
            from .encoding import hf_vocab
            self._hf_vocab = hf_vocab(self)
        return self._hf_vocab

    def __len__(self) -> int:
        """The vocabulary size: every id `encode` can emit (special tokens included)."""
        return self.vocab_size

    @property
    def n_vocab(self) -> int:
        """tiktoken's name for the vocabulary size (special tokens included)."""
        return self.vocab_size

    def set_roles(self, roles: dict[str, str | None] | None = None, *, add_bos: bool | None = None,
                  add_eos: bool | None = None) -> Tokenizer:
        """Set special-token roles ({"bos"|"eos"|"pad"|"unk": token}, merged into the current ones;
        a role set to None is removed) and the template (add the bos token first / the eos token last
        in `encode(..., add_special_tokens=True)` and in the HF exports). Role tokens must be special
        tokens of the model (at training, `roles=` adds missing ones). See newbpe/roles.py."""
        from .roles import check_roles, validate_roles
        merged = dict(self.roles)
        items = roles.items() if isinstance(roles, dict) else (roles or ())
        for role in [r for r, token in items if token is None]:
            merged.pop(role, None)
        merged.update(check_roles(roles))
        template = dict(self.template)
        for key, value in (("add_bos", add_bos), ("add_eos", add_eos)):
            if value is not None:
                template[key] = value
        self.roles, self.template = validate_roles(self, merged, template)
        return self

    def id_to_token(self, i: int) -> bytes:
        return self.vocabulary.tokens[self._internal([i])[0]]

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
        return self.vocabulary.to_internal[arr].tolist()

    # ------------------------------------------------------------------ encoding
    def _encoder(self, name=None):
        name = name or self.default_encoder
        enc = self._encoders.get(name)
        if enc is None:
            from .encoders import make_encoder
            enc = make_encoder(self, name)
            self._encoders[name] = enc
        return enc

    def _segments_units(self, segments, threads=1, dtype=np.int64):
        """Pre-tokenize many segments (str; bytes for byte models whose pre-tokenizer reads bytes: the
        scanner presets and none) and map them to base units in one pass.
        Returns (units as `dtype`, offsets, pieces_per_segment)."""
        pretok = self.pretokenizer
        if self.units == "bytes":
            encoded = [seg if isinstance(seg, bytes) else seg.encode("utf-8", "surrogateescape")
                       for seg in segments]
            seg_off = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum([len(e) for e in encoded], out=seg_off[1:])
            data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
            del encoded
            offsets = pretok.piece_offsets(data, seg_off, segments, threads)
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
        return np.ascontiguousarray(units, dtype=dtype), offsets.astype(np.int64), counts

    def _chunks(self, text, allowed_special):
        """(chunks, had_invalid_utf8): `text` as (is_special, str or bytes) chunks; bytes are decoded
        as training decodes them (count_workers.decode_units), or kept as bytes where the pre-tokenizer
        reads bytes directly (byte units, scanner presets or none, no transform, no specials)."""
        bad = False
        if isinstance(text, (bytes, bytearray)):
            pretok = self.pretokenizer
            if self.units == "bytes" and not allowed_special and not self.transforms \
                    and not self.options.get("prefix_space") and (pretok.scanner is not None or pretok.name == "none"):
                return ([(False, bytes(text))] if text else []), False
            from .count_workers import decode_units
            text, bad = decode_units(bytes(text), self.units)
        if not isinstance(text, str):
            raise NewbpeError(f"encode() takes str or bytes, not {type(text).__name__}")
        chunks = split_specials(text, allowed_special) if allowed_special else ([(False, text)] if text else [])
        if self.options.get("prefix_space"):      # an imported HF ByteLevel(add_prefix_space=true)
            chunks = [(sp, c if sp or c.startswith(" ") else " " + c) for sp, c in chunks]
        return chunks, bad

    def encode(self, text: str | bytes, allowed_special: str | Iterable[str] = (), encoder: str | None = None, *,
               disallowed_special: str | Iterable[str] = "all", add_special_tokens: bool = False,
               return_offsets: bool = False) -> list[int] | Encoding:
        """Token ids (model ids) of `text`. Special-token strings are matched only where listed in
        `allowed_special` (or "all"); as in tiktoken, special text that is neither allowed nor
        excluded from `disallowed_special` (default "all") raises, and `disallowed_special=()` (or
        `encode_ordinary`) encodes it as text. HF exports always match them. Bytes are decoded as
        training decodes them (char units: invalid UTF-8 becomes U+FFFD, with a warning).
        add_special_tokens: apply the template (bos/eos, see `set_roles`). return_offsets: return an
        `Encoding` (ids, token strings, byte and character offsets; newbpe/encoding.py)."""
        return self.encode_batch([text], allowed_special=allowed_special, encoder=encoder, threads=1,
                                 disallowed_special=disallowed_special, add_special_tokens=add_special_tokens,
                                 return_offsets=return_offsets)[0]

    def encode_ordinary(self, text: str | bytes, encoder: str | None = None) -> list[int]:
        """Ids of `text` with special-token strings encoded as ordinary text (tiktoken's name)."""
        return self.encode(text, encoder=encoder, disallowed_special=())

    def encode_bytes(self, data: bytes, encoder: str | None = None) -> list[int]:
        """Ids of raw bytes (invalid UTF-8 included; byte-level models keep every byte; special-token
        strings are ordinary text)."""
        return self.encode(bytes(data), encoder=encoder, disallowed_special=())

    def encode_batch(self, texts: Iterable[str | bytes], allowed_special: str | Iterable[str] = (),
                     encoder: str | None = None, threads: int | None = None, *,
                     disallowed_special: str | Iterable[str] = "all", add_special_tokens: bool = False,
                     return_offsets: bool = False) -> list[list[int]] | list[Encoding]:
        """Encode many texts: batches of about 4 MB go through one pre-tokenization pass and one
        call into the numba encoder each (parallel over `threads`, default all cores), and a long
        text is cut at safe points of the pre-tokenizer (cuts.py) into parts of about 1 MB, so
        memory follows the longest piece; results are identical for any thread count or cutting.
        The keyword options are `encode`'s."""
        if return_offsets and not isinstance(texts, (list, tuple, str, bytes)):
            texts = list(texts)                         # read twice: ids, then offsets
        results = []
        for i, ids, _ in self.iter_encoded(texts, allowed_special, encoder, threads,
                                           disallowed_special=disallowed_special):
            if i == len(results):
                results.append([])
            results[i].extend(ids.tolist())
        if add_special_tokens and self.template:
            from .roles import template_ids
            pre, suf = template_ids(self, True)
            results = [pre + r + suf for r in results]
        if return_offsets:
            from .encoding import with_offsets
            return with_offsets(self, texts, results, self._allowed(allowed_special), add_special_tokens)
        return results

    def encode_flat(self, texts: Sequence[str | bytes], threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(model ids of all `texts` as one int64 array, bounds: text k's ids are
        ids[bounds[k]:bounds[k + 1]]), special-token text encoded as ordinary text. For many short
        texts (evaluation's lines): a byte-level model without text transforms pre-tokenizes and
        encodes the whole batch in one call, each text one segment, with no Python per text
        (`iter_encoded`'s per-text stream was 2.4 s of 2.8 s on 10 MB of Gutenberg lines); anything
        else (char units, a transform, an imported prefix space, a text over cuts.PART_SIZE)
        streams through `iter_encoded`. The ids are the same either way (tests/test_evaluation.py)."""
        from .checks import check_threads
        from .cuts import PART_SIZE
        check_threads(threads)
        n_threads = threads or os.cpu_count() or 1
        if self.units == "bytes" and not self.transforms and not self.options.get("prefix_space") \
                and max(map(len, texts), default=0) < PART_SIZE:
            enc = self._encoder()
            units, offsets, pieces = self._segments_units(texts, n_threads, getattr(enc, "unit_dtype", np.int64))
            ids, out_offsets = enc.encode_units(units, offsets, threads=n_threads)
            piece_bounds = np.zeros(len(pieces) + 1, dtype=np.int64)
            np.cumsum(pieces, out=piece_bounds[1:])
            return self.vocabulary.to_model[ids], out_offsets[piece_bounds]
        parts, counts = [], np.zeros(len(texts), dtype=np.int64)
        for i, ids, _ in self.iter_encoded(texts, threads=threads):
            parts.append(ids)
            counts[i] += len(ids)
        bounds = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(counts, out=bounds[1:])
        return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)), bounds

    def iter_encoded(self, texts: Iterable[str | bytes], allowed_special: str | Iterable[str] = (),
                     encoder: str | None = None, threads: int | None = None, part_size: int | None = None,
                     disallowed_special: str | Iterable[str] = ()) -> Iterator[tuple[int, np.ndarray, bool]]:
        """Encode texts as a stream: (text index, model ids as an int64 array, last) in order; a
        text's ids are the concatenation of its arrays and `last` marks its final one (every text
        gets one, an empty text an empty array). Each text is cut at the pre-tokenizer's safe points
        (cuts.py) into parts of about `part_size` characters (default cuts.PART_SIZE) and the parts
        go through the encoder in groups of about BATCH_CHARS, so no text is held whole as arrays:
        one 30 MB line encoded at once peaked at 1.4 GB. The ids are those of encoding each text
        whole. Callers that write ids out (the CLI, StochasTok) use this instead of `encode_batch`."""
        from .checks import check_threads, text_error
        from .cuts import CutRule, split_text
        check_threads(threads)
        if isinstance(texts, (str, bytes)):
            raise NewbpeError("encode_batch() takes a list of texts; use encode() for one text")
        allowed_special = self._allowed(allowed_special)
        from .encoding import disallowed_checker
        check_disallowed = disallowed_checker(self, allowed_special, disallowed_special)
        # allowed specials are split out before cutting; the transforms (SPLINTER) commute with the cuts
        rule = CutRule.for_pretokenizer(self.pretokenizer)
        enc = self._encoder(encoder)
        threads = threads or os.cpu_count() or 1
        invalid_utf8 = False
        items, size = [], 0          # (text index, segment str | bytes | special model id | None: text ends)
        try:
            for i, text in enumerate(texts):
                if check_disallowed is not None:
                    check_disallowed(text)
                chunks, bad = self._chunks(text, allowed_special)
                invalid_utf8 |= bad
                for is_special, chunk in chunks:
                    if is_special:
                        items.append((i, int(self.vocabulary.to_model[self._special_id[chunk]])))
                        continue
                    for part in split_text(chunk, rule, part_size):
                        items.append((i, self._transform(part) if isinstance(part, str) else part))
                        size += len(part)
                        if size >= BATCH_CHARS:
                            yield from self._encode_items(items, enc, threads)
                            items, size = [], 0
                del chunks
                items.append((i, None))
            if items:
                yield from self._encode_items(items, enc, threads)
        except UnicodeEncodeError as e:
            raise text_error(e) from None
        if invalid_utf8:
            from .count_workers import warn_invalid_utf8
            warn_invalid_utf8(stacklevel=3)

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

    def _encode_items(self, items, enc, threads):
        """One batch of `iter_encoded`: pre-tokenize the segments at once, encode them in one call,
        then yield each text's ids (the ids of a text cut across batches come in several arrays)."""
        to_model = self.vocabulary.to_model
        segments = [seg for _, seg in items if isinstance(seg, (str, bytes))]
        units, offsets, pieces_per_segment = self._segments_units(segments, threads,
                                                                  getattr(enc, "unit_dtype", np.int64))
        del segments
        ids, out_offsets = enc.encode_units(units, offsets, threads=threads)
        del units, offsets
        model = to_model[ids] if len(ids) else ids
        del ids
        if len(model) and model.min() < 0:
            raise RuntimeError("encoder emitted a token without a model id")
        seg_first_piece = np.zeros(len(pieces_per_segment) + 1, dtype=np.int64)
        np.cumsum(pieces_per_segment, out=seg_first_piece[1:])
        bounds = out_offsets[seg_first_piece]
        pending, current, k = [], None, 0
        for i, seg in items:
            if i != current:
                if pending:
                    yield current, _joined(pending), False
                pending, current = [], i
            if seg is None:
                yield i, _joined(pending), True
                pending, current = [], None
            elif isinstance(seg, (str, bytes)):
                pending.append(model[bounds[k]:bounds[k + 1]])
                k += 1
            else:
                pending.append(np.array([seg], dtype=np.int64))
        if pending:
            yield current, _joined(pending), False

    def _transform(self, text):
        """The text transforms (SPLINTER), in order, before pre-tokenization."""
        for transform in self.transforms:
            text = transform.apply(text)
        return text

    def set_transforms(self, transforms: Iterable[Any]) -> None:
        """Replace the text transforms: encode applies them in order, decode inverts them in
        reverse order, model.json stores them."""
        self.transforms = list(transforms)
        self._encoders.clear()

    def set_splinter(self, splinter: Any) -> None:
        """Attach a SPLINTER transform (the one transform of a SPLINTER model)."""
        self.set_transforms([splinter])

    # ------------------------------------------------------------------ decoding
    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """Exact bytes of a sequence of model ids."""
        tokens = self.vocabulary.tokens
        data = self.decoder.decode(b"".join([tokens[i] for i in self._internal(ids)]))
        for transform in reversed(self.transforms):
            data = transform.invert(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        return data

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """Text of a sequence of model ids (UTF-8, invalid sequences replaced by U+FFFD); special
        tokens are kept as their text unless skip_special_tokens."""
        if skip_special_tokens:
            ids = self._without_specials(ids)
        return self.decode_bytes(ids).decode("utf-8", "replace")

    def decode_batch(self, batch: Iterable[Sequence[int]], skip_special_tokens: bool = False) -> list[str]:
        """`decode` of each sequence of ids."""
        return [self.decode(ids, skip_special_tokens) for ids in batch]

    def _without_specials(self, ids):
        internal = self._internal(ids)
        k = self.vocabulary.n_specials
        keep = [i for i in internal if i >= k]
        return self.vocabulary.to_model[np.asarray(keep, dtype=np.int64)].tolist() if keep else []

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Readable strings of tokens (GPT-2 byte mapping in byte mode, text in char mode; ByteSpan's
        continuation tokens behind ‡, as in its HF export)."""
        from .encoding import token_string
        v = self.vocabulary
        return [v.tokens[i].decode("utf-8", "replace") if v.is_special(i) or self.units == "chars"
                else token_string(self, i) for i in self._internal(ids)]

    # ------------------------------------------------------------------ truncation
    def truncated(self, n_merges: int) -> Tokenizer:
        """The model made of the first `n_merges` merges (rank order) and the base vocabulary: the
        tokenizer a shorter training run would have stopped at, without retraining (SuperBPE's
        truncated-vocabulary analysis, specs supertokens.md §2.5 and §5). Only models whose encoder
        applies merges by rank over visible tokens qualify (BPE, SuperBPE, supertokens): Picky and
        Scaffold models hide tokens, so their first N merges are not a model of their own. Special
        tokens are kept; the truncated model's ids are the first ids of this one."""
        v = self.vocabulary
        if isinstance(n_merges, bool) or not isinstance(n_merges, (int, np.integer)) \
                or not 0 <= n_merges <= len(v.merges):
            raise NewbpeError(f"n_merges must be an integer in 0..{len(v.merges)}, got {n_merges!r}")
        if not v.all_visible or any(v.idents) or self.default_encoder != "rank":
            raise NewbpeError(f"a {self.algo} model cannot be truncated: only rank-BPE models whose every "
                              "token is visible are a prefix of their own merge list")
        n_merges = int(n_merges)
        merges = v.merges[:n_merges]
        n_tokens = max([v.n_base] + [c + 1 for _, _, c in merges])
        if len({c for _, _, c in merges} | set(range(v.n_base))) != n_tokens:
            raise NewbpeError(f"the first {n_merges} merges of this model do not create its first tokens")
        stats = {"truncated_from_merges": len(v.merges)}
        return Tokenizer(algo=self.algo, units=self.units, pretokenizer=self.pretokenizer,
                         special_tokens=self.special_tokens, n_alphabet=v.n_alphabet,
                         tokens=v.tokens[:n_tokens], merges=merges, options=self.options, stats=stats,
                         encoder=self.default_encoder, flags=v.flags[:n_tokens], extra=self.extra,
                         idents=v.idents[:n_tokens], transforms=self.transforms, decoder=self.decoder,
                         roles=self.roles, template=self.template)

    # ------------------------------------------------------------------ introspection
    def info(self) -> dict[str, Any]:
        """What `newbpe info` shows: the pipeline, the sizes, the options and the training statistics."""
        d = {
            "algorithm": self.algo,
            "vocab_size": self.vocab_size,
            "units": self.units,
            "pretokenizer": self.pretokenizer.spec,
            "special_tokens": self.special_tokens,
            "alphabet_size": self.n_alphabet,
            "num_merges": len(self.vocabulary.merges),
            "encoder": self.default_encoder,
            "options": self.options,
        }
        if self.roles or self.template:
            d["roles"] = dict(self.roles)
            d["template"] = dict(self.template)
        from .preprocessors import transform_type
        for transform in self.transforms:
            d[transform_type(transform)] = transform.info() if hasattr(transform, "info") else transform.to_dict()
        d.update(self.stats)
        return d

    # ------------------------------------------------------------------ persistence (modelfile.py)
    def to_dict(self) -> dict[str, Any]:
        from .modelfile import model_to_dict
        return model_to_dict(self)

    def save(self, out_dir: str | os.PathLike[str], hf: bool | None = None) -> list[str]:
        """Write OUT_DIR/model.json (and tokenizer.json + its config files where stock HF expresses
        the model exactly, unless hf=False). Returns the paths written. All-or-nothing
        (`newbpe.atomic.write_dir`): after an error or a kill OUT_DIR holds the complete old model or
        the complete new one; no file an earlier model left (`model_dir_files`) survives a save; other
        files in OUT_DIR are kept."""
        import json
        from ._gc import gc_paused
        from .atomic import write_dir
        from .modelfile import check_model_dir_path, model_dir_files, model_to_dict
        check_model_dir_path(out_dir)
        with gc_paused():
            files = {MODEL_FILE: json.dumps(model_to_dict(self), ensure_ascii=False, separators=(",", ":")) + "\n"}
            if hf is not False:
                from .export.hf import hf_exact, hf_files
                if hf_exact(self):
                    files.update(hf_files(self))
        return write_dir(out_dir, files, owned=model_dir_files())

    def save_pretrained(self, out_dir: str | os.PathLike[str]) -> list[str]:
        """A directory `transformers.AutoTokenizer.from_pretrained` loads, exactly, for every method:
        the fast tokenizer where stock HF expresses the model, else newbpe's `NewbpeTokenizer`
        (trust_remote_code=True; newbpe/pretrained.py). Needs no transformers to write."""
        from .pretrained import save_pretrained
        return save_pretrained(self, out_dir)

    def to_hf(self, approximate: bool = False, expanded: bool = False, inner: bool = False) -> str:
        """The HF `tokenizer.json` content as a string: exact for rank-BPE models; other methods
        raise unless approximate=True, or expanded=True for Scaffold-BPE (see export/hf.py);
        models with a text transform raise unless inner=True (the inner model, for transformed text)."""
        from .export.hf import to_hf_json
        return to_hf_json(self, approximate, expanded, inner)

    def save_hf(self, out_dir: str | os.PathLike[str], approximate: bool = False, expanded: bool = False,
                inner: bool = False) -> list[str]:
        from .export.hf import save_hf
        return save_hf(self, out_dir, approximate, expanded=expanded, inner=inner)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "model") -> Tokenizer:
        """A Tokenizer from model.json content; every problem is a one-line ModelFileError."""
        from .modelfile import read_fields
        fields = read_fields(d, source)
        tok = cls(**fields)
        from .encoders import validate_model_data
        validate_model_data(tok, source)
        return tok

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Tokenizer:
        from .atomic import recover
        from .modelfile import read_model_file
        recover(os.fspath(path))            # a commit a killed process left half-done is completed
        d, file = read_model_file(path)
        return cls.from_dict(d, file)

    def __repr__(self) -> str:
        return (f"Tokenizer(algo={self.algo!r}, vocab_size={self.vocab_size}, units={self.units!r}, "
                f"pretokenizer={self.pretokenizer.name!r})")


def _joined(arrays):
    if not arrays:
        return np.zeros(0, dtype=np.int64)
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
