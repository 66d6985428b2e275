"""StochasTok: stochastic token splitting of training data (specs `stochastok.md`).

Sims et al., *StochasTok: Improving Fine-Grained Subword Understanding in LLMs*, arXiv 2506.01687;
reference code anyasims/stochastok. The tokenizer is unchanged: the deterministic ids of a training
document are expanded by splitting random tokens into two in-vocabulary tokens whose bytes
concatenate to the original, so decoding is lossless by construction.

This module is the public face: the `StochasTok` class (a split table plus the expansion API and
`datasets` integration) and the file pipeline (`expand_files`, `IdsWriter`). The parts live by
concept in
- `stochastok_table`: the split table (§3): build, depth, vocabulary fingerprint, `.npz` format;
- `stochastok_vocab`: vocabularies from newbpe, HF `tokenizers` and tiktoken, and the reference's
  JSON table (keys converted to int, §7.1);
- `stochastok_expand`: the expansion (§4, §5), numba kernels and their driver;
- `newbpe.rng`: per-document seeds and the xoshiro256** generator (§6), shared with the
  supertoken chunker.

The vocabulary is the tokens a model can emit (`tokens="present"`: Picky BPE's present tokens,
Scaffold's visible tokens); specials and added tokens are never split and never produced.
Randomness (§6): document d's stream comes from (seed, [epoch,] d) alone, so results depend only on
(seed, epoch, document index, ids, p, cap): not on thread count, batch size, `num_proc` or order.
"""
from __future__ import annotations

import io
import itertools
import os
import warnings
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from ..checks import check
from ..errors import ModelFileError, NewbpeError
from ..rng import resolve_seed
from .stochastok_expand import check_cap, check_p, expand_flat
from .stochastok_table import (TABLE_FILE, build_split_table, read_table, save_table, split_depth, table_path,
                               vocab_fingerprint)
from .stochastok_vocab import read_reference_table, tiktoken_vocab, vocab_of

if TYPE_CHECKING:
    from ..model import Tokenizer


class StochasTok:
    """StochasTok expansion over one vocabulary.

        st = StochasTok(tok)                        # a newbpe Tokenizer (or tiktoken / HF tokenizer object)
        st = StochasTok.from_hf("tokenizer.json")   # or .from_tiktoken("x.tiktoken"), .load("table.npz")
        new_ids = st.expand(ids, p=0.1, seed=0)
        batch = st.expand_batch(list_of_id_lists, p=0.1, seed=0)
        ds = ds.map(st.map_function(p=0.1, seed=0), batched=True, with_indices=True)

    Attributes: `split_offset`, `split_left`, `split_right` (CSR, int64), `vocab_size` (ids accepted
    in input; ids without a table row are never split), `n_unsplittable`, `max_depth`.
    """

    def __init__(self, tokenizer: Any = None, *, tokens: str = "present", _table: Any = None) -> None:
        """Build from a newbpe `Tokenizer`, a `tiktoken.Encoding` or a `tokenizers.Tokenizer`.
        tokens="present" (the only choice, spec §3): the table uses the tokens the model can emit,
        i.e. Picky BPE's present tokens and Scaffold-BPE's visible tokens; removed/hidden tokens
        have no id and are never produced."""
        if tokens != "present":
            raise NewbpeError(f"tokens must be 'present' (the tokens a model can emit), got {tokens!r}")
        if _table is not None:
            self._set(*_table)
            return
        if tokenizer is None:
            raise NewbpeError("StochasTok needs a tokenizer (or use from_hf / from_tiktoken / from_vocab / load)")
        self._build(*vocab_of(tokenizer))

    # ------------------------------------------------------------------ construction
    def _build(self, vocab, never, source):
        offs, left, right, n_bad = build_split_table(vocab, never)
        self._set(offs, left, right, len(vocab), vocab_fingerprint(vocab, never), n_bad)
        if n_bad:
            warnings.warn(f"StochasTok: {n_bad} multi-byte token(s) of the {source} have no split into two "
                          "vocabulary tokens; they are never split", stacklevel=3)

    def _set(self, offs, left, right, vocab_size, fingerprint, n_unsplittable):
        self.split_offset = np.ascontiguousarray(offs, np.int64)
        self.split_left = np.ascontiguousarray(left, np.int64)
        self.split_right = np.ascontiguousarray(right, np.int64)
        self.vocab_size = int(vocab_size)
        self.fingerprint = fingerprint
        self.n_unsplittable = int(n_unsplittable)
        self.max_depth = split_depth(self.split_offset, self.split_left, self.split_right)

    @classmethod
    def from_vocab(cls, tokens: Sequence[bytes | None] | dict[int, bytes],
                   never_split: Iterable[int] = ()) -> StochasTok:
        """tokens: a list (index = id) of bytes or None, or a {id: bytes} dict; `never_split`:
        ids of special and added tokens."""
        if isinstance(tokens, dict):
            n = max(tokens, default=-1) + 1
            tokens = [tokens.get(i) for i in range(n)]
        self = cls.__new__(cls)
        self._build([None if t is None else bytes(t) for t in tokens], never_split, "vocabulary")
        return self

    @classmethod
    def from_hf(cls, path: str | os.PathLike[str]) -> StochasTok:
        """From an HF tokenizer.json (file, directory or JSON string) of a byte-level BPE model;
        added tokens (specials included) are never split."""
        from ..export.hf_load import read_hf_vocab
        vocab, never = read_hf_vocab(path)
        self = cls.__new__(cls)
        self._build(vocab, never, "HF tokenizer.json")
        return self

    @classmethod
    def from_tiktoken(cls, source: Any, special_tokens: dict[str, int] | None = None) -> StochasTok:
        """From a tiktoken rank file (`base64 rank` lines) or a `tiktoken.Encoding`. Special tokens
        (from `special_tokens`, or a newbpe export's `NAME.tiktoken.json` beside the file) take ids
        after the ranks and are never split."""
        vocab, never = tiktoken_vocab(source, special_tokens)
        self = cls.__new__(cls)
        self._build(vocab, never, "tiktoken vocabulary")
        return self

    @classmethod
    def from_reference_json(cls, path_or_dict: str | os.PathLike[str] | dict[Any, Any],
                            vocab_size: int | None = None) -> StochasTok:
        """A table in the reference code's JSON format ({"token_id": [[left, right], ...]}): the
        keys, strings after a JSON round trip, are converted to int (the reference then finds no
        token in its table and silently never expands, spec §7.1)."""
        offs, left, right, vocab_size = read_reference_table(path_or_dict, vocab_size)
        self = cls.__new__(cls)
        self._set(offs, left, right, vocab_size, None, 0)
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the table as `.npz` arrays (atomically). A directory (e.g. the model's) gets
        `stochastok.npz`. Returns the file written."""
        return save_table(path, self.split_offset, self.split_left, self.split_right, self.vocab_size,
                          self.fingerprint, self.n_unsplittable)

    @classmethod
    def load(cls, path: str | os.PathLike[str], tokenizer: Any = None) -> StochasTok:
        """A saved table: an `.npz` file or a directory holding `stochastok.npz`; a `.json` file is
        read as the reference's format (keys converted to int). With `tokenizer`, the table must
        have been built from that tokenizer's vocabulary (fingerprint check)."""
        path = table_path(path)
        if path.endswith(".json"):
            return cls.from_reference_json(path, None if tokenizer is None else len(vocab_of(tokenizer)[0]))
        meta, offs, left, right = read_table(path)
        self = cls.__new__(cls)
        self._set(offs, left, right, meta["vocab_size"], meta.get("fingerprint"), meta.get("n_unsplittable", 0))
        if tokenizer is not None:
            vocab, never, _ = vocab_of(tokenizer)
            if vocab_fingerprint(vocab, never) != self.fingerprint:
                raise ModelFileError(f"{path}: the table was built from another vocabulary")
        return self

    @classmethod
    def for_model(cls, model_dir: str | os.PathLike[str]) -> tuple[Tokenizer, StochasTok]:
        """The table of a newbpe model directory: `stochastok.npz` there when it matches the model's
        vocabulary, else built from the model (and not written)."""
        from ..model import Tokenizer
        tok = Tokenizer.load(model_dir)
        cached = os.path.join(model_dir, TABLE_FILE) if os.path.isdir(model_dir) else None
        if cached and os.path.isfile(cached):
            try:
                return tok, cls.load(cached, tokenizer=tok)
            except ModelFileError:
                pass
        return tok, cls(tok)

    # ------------------------------------------------------------------ queries
    def splits(self, token_id: int) -> list[tuple[int, int]]:
        """[(left_id, right_id), ...] of a token, in increasing cut position."""
        t = int(token_id)
        if not 0 <= t < self.split_offset.shape[0] - 1:
            return []
        a, b = self.split_offset[t], self.split_offset[t + 1]
        return list(zip(self.split_left[a:b].tolist(), self.split_right[a:b].tolist()))

    def to_dict(self) -> dict[int, list[tuple[int, int]]]:
        """{token_id (int): [(left, right), ...]} for every splittable token."""
        counts = np.diff(self.split_offset)
        return {int(t): self.splits(t) for t in np.flatnonzero(counts)}

    def __repr__(self) -> str:
        n = int(np.count_nonzero(np.diff(self.split_offset)))
        return f"StochasTok(vocab_size={self.vocab_size}, splittable={n}, splits={self.split_left.size})"

    # ------------------------------------------------------------------ expansion
    def expand(self, ids: Sequence[int] | np.ndarray, p: float, *, seed: int | None = None,
               max_num_to_expand: int | None = None, index: int = 0,
               epoch: int | None = None) -> list[int] | np.ndarray:
        """Expanded copy of one document's ids (a list for a list, an int64 array for an array).
        The same as `expand_batch([ids], ..., indices=[index])[0]`."""
        out = self.expand_batch([ids], p, seed=seed, max_num_to_expand=max_num_to_expand, indices=[index],
                                epoch=epoch, threads=1)
        return out[0]

    def expand_batch(self, docs: Sequence[Sequence[int] | np.ndarray], p: float, *, seed: int | None = None,
                     max_num_to_expand: int | None = None, indices: Sequence[int] | None = None,
                     epoch: int | None = None, threads: int | None = None, return_successes: bool = False) -> Any:
        """Expand many documents independently in one kernel call. Document i uses the random
        stream of (seed, [epoch,] indices[i]) (default indices 0..n-1), so the result depends on
        neither batch size, thread count nor order. Returns a list (lists for list inputs, int64
        arrays for array inputs); with return_successes=True also the int64 array of successful
        splits per document."""
        arrays = [isinstance(d, np.ndarray) for d in docs]
        lengths = np.fromiter((len(d) for d in docs), np.int64, count=len(docs))
        total = int(lengths.sum())
        if docs and all(arrays):
            flat = np.concatenate([np.asarray(d).astype(np.int64, copy=False).ravel() for d in docs])
        else:
            flat = np.fromiter(itertools.chain.from_iterable(docs), np.int64, count=total)
        offsets = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        out, out_off, successes = self.expand_flat(flat, offsets, p, seed=seed, max_num_to_expand=max_num_to_expand,
                                                   indices=indices, epoch=epoch, threads=threads)
        result = []
        for i, is_array in enumerate(arrays):
            piece = out[out_off[i]:out_off[i + 1]]
            result.append(piece.copy() if is_array else piece.tolist())
        return (result, successes) if return_successes else result

    def expand_flat(self, ids: np.ndarray, offsets: np.ndarray, p: float, *, seed: int | None = None,
                    max_num_to_expand: int | None = None, indices: Sequence[int] | None = None,
                    epoch: int | None = None,
                    threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch kernel on CSR input: documents ids[offsets[d]:offsets[d+1]]. Returns
        (ids int64, offsets int64, successes int64 per document)."""
        return expand_flat(ids, offsets, p, self.split_offset, self.split_left, self.split_right, self.vocab_size,
                           self.max_depth, seed=seed, max_num_to_expand=max_num_to_expand, indices=indices,
                           epoch=epoch, threads=threads)

    def map_function(self, p: float, *, seed: int | None, column: str = "ids", output_column: str | None = None,
                     max_num_to_expand: int | None = None, epoch: int | None = None, with_len: bool = True,
                     threads: int | None = 1) -> _MapFunction:
        """A function for `datasets.Dataset.map(fn, batched=True, with_indices=True)`: expands
        column `column` into `output_column` (default: in place) and adds `len`. Document i is seeded
        from (seed, [epoch,] its dataset index), so any batch size and `num_proc` give the same
        result. seed=None is resolved to fresh entropy once, here, so all workers share it."""
        return _MapFunction(self, p, resolve_seed(seed), column, output_column or column,
                            max_num_to_expand, epoch, with_len, threads)

    def expand_dataset(self, dataset: Any, p: float, *, seed: int | None, column: str = "ids",
                       splits: Iterable[str] | None = ("train",), max_num_to_expand: int | None = None,
                       epoch: int | None = None, num_proc: int | None = None, batch_size: int = 1000) -> Any:
        """Expand a `datasets.Dataset`, or the `splits` of a DatasetDict (default: training only,
        spec §6; the reference expands validation too, which makes losses incomparable; pass
        splits=None for all)."""
        fn = self.map_function(p, seed=seed, column=column, max_num_to_expand=max_num_to_expand, epoch=epoch)
        kw = dict(batched=True, with_indices=True, batch_size=batch_size, num_proc=num_proc,
                  desc="StochasTok")
        if isinstance(dataset, dict):                    # a DatasetDict
            keep = set(dataset.keys()) if splits is None else set(splits)
            unknown = keep - set(dataset.keys())
            if unknown:
                raise NewbpeError(f"no split(s) {', '.join(sorted(unknown))} in the dataset")
            out = dict(dataset)
            for name in keep:
                out[name] = dataset[name].map(fn, **kw)
            return type(dataset)(out)
        return dataset.map(fn, **kw)


class _MapFunction:
    """Picklable batched map function (see StochasTok.map_function)."""

    def __init__(self, st, p, seed, column, output_column, cap, epoch, with_len, threads):
        self.st, self.p, self.seed, self.column, self.output_column = st, check_p(p), seed, column, output_column
        self.cap, self.epoch, self.with_len, self.threads = cap, epoch, with_len, threads

    def __call__(self, batch, indices):
        docs = batch[self.column]
        out = self.st.expand_batch(docs, self.p, seed=self.seed, max_num_to_expand=self.cap, indices=indices,
                                   epoch=self.epoch, threads=self.threads)
        res = {self.output_column: out}
        if self.with_len:
            res["len"] = [len(x) for x in out]
        return res


# ---------------------------------------------------------------------------------------- output files
OUTPUT_FORMATS = (".npy", ".bin", ".jsonl")


def ids_dtype(vocab_size):
    """uint16 when every id fits (vocabulary < 65,536 ids), else uint32 (spec §6)."""
    return np.uint16 if vocab_size < (1 << 16) else np.uint32


def check_output_path(path):
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in OUTPUT_FORMATS:
        raise NewbpeError(f"output must end in {', '.join(OUTPUT_FORMATS)}, got {os.fspath(path)!r}")
    return ext


class IdsWriter:
    """Streams documents of ids to PATH by extension: `.npy`: one flat array (uint16/uint32) +
    `PATH.idx`; `.bin`: the same array as raw little-endian values + `PATH.idx`; `PATH.idx` holds the
    n_docs + 1 document offsets as raw little-endian int64 (`np.fromfile(PATH + ".idx", "<i8")`);
    `.jsonl`: one {"ids": [...]} line per document. Memory holds one batch at a time. The files are
    one all-or-nothing group (`newbpe.atomic.Output`): they appear, together, at `close`; `abort`
    (or any error) leaves the old files, if any, and no temp file. `.npy` reserves its header at
    the start and fills in the length at `close` (numpy's 1.0 header is 128 bytes for any length)."""

    def __init__(self, path, vocab_size):
        from ..atomic import Output
        self.path = os.fspath(path)
        self.ext = check_output_path(self.path)
        self.dtype = np.dtype(ids_dtype(vocab_size)).newbyteorder("<")
        real = os.path.realpath(self.path)          # a symlinked output: written where it points
        self._out = Output(os.path.dirname(real))
        try:
            self._data = self._out.open(os.path.basename(real), binary=True)
            self._idx = self._out.open(os.path.basename(real) + ".idx", binary=True) if self.ext != ".jsonl" else None
            self.n_ids = 0
            self.n_docs = 0
            if self._idx is not None:
                self._idx.write(np.zeros(1, "<i8").tobytes())
            if self.ext == ".npy":
                self._header_size = self._write_header()
        except BaseException:
            self._out.abort()
            raise

    def _write_header(self):
        """The .npy header for the ids written so far, at the start of the data file."""
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                      "fortran_order": False, "shape": (self.n_ids,)})
        self._data.write(header.getvalue())
        return len(header.getvalue())

    def write(self, ids, offsets):
        """Append documents ids[offsets[d]:offsets[d + 1]]."""
        n = len(offsets) - 1
        if self.ext == ".jsonl":
            self._data.write("".join('{"ids":[' + ",".join(map(str, ids[offsets[d]:offsets[d + 1]].tolist())) + "]}\n"
                                     for d in range(n)).encode())
        else:
            self._data.write(np.asarray(ids[offsets[0]:offsets[-1]]).astype(self.dtype).tobytes())
            self._idx.write((np.asarray(offsets[1:], np.int64) - offsets[0] + self.n_ids).astype("<i8").tobytes())
        self.n_ids += int(offsets[-1] - offsets[0])
        self.n_docs += n

    def close(self):
        """Put the files in place (all of them or none); returns the files written."""
        if self.ext == ".npy":
            self._data.seek(0)
            if self._write_header() != self._header_size:
                self.abort()
                raise NewbpeError(f"{self.path}: the .npy header changed size")
        self._out.commit()
        return [self.path] + ([self.path + ".idx"] if self._idx else [])

    def abort(self):
        self._out.abort()


def expand_files(tok, st, files, output, p, *, seed=None, max_num_to_expand=None, epoch=None, split="line",
                 allowed_special=(), append_special=None, threads=None, batch_chars=4 << 20, column="text",
                 progress=None):
    """Encode text files (or any input format of `newbpe.sources`; `column`: the field of JSON and
    Parquet records) with `tok`, expand them with `st` and write the ids to `output` (`IdsWriter`).
    Documents (lines, or whole files with split="document") are read in parts cut at the
    pre-tokenizer's safe points (io.iter_line_parts) and encoded as a stream (Tokenizer.iter_encoded);
    whole documents' ids are expanded and written in batches of about `batch_chars` / 4 ids, so
    memory follows the longest document's ids (8 bytes per token, which the expansion needs at once)
    and the longest piece, not the longest line's text. Documents are numbered across files in order,
    so document d's expansion depends only on (seed, [epoch,] d), its ids, p and the cap, whatever the
    batching. progress: a callback(stage, bytes read, total bytes) (`newbpe.progress`).
    Returns (n_docs, ids in, ids out, successes, files)."""
    from collections import deque
    from ..cuts import CutRule
    from ..io import iter_line_parts
    check_output_path(output)
    check_p(p)                               # every option before the first batch is encoded
    check_cap(max_num_to_expand)
    for name, value in (("seed", seed), ("epoch", epoch), ("threads", threads)):
        check(name, value)
    eot = None
    if append_special is not None:
        if append_special not in tok.special_tokens:
            raise NewbpeError(f"append_special: {append_special!r} is not a special token of this model")
        eot = tok.token_to_id(append_special)
    allowed = tok._allowed(allowed_special)
    rule = CutRule.for_pretokenizer(tok.pretokenizer, allowed)
    ends = deque()

    def parts():
        for _, _, part, end in iter_line_parts(files, rule, split, column=column, progress=progress,
                                               stage="stochastok"):
            ends.append(end)
            yield part
    writer = IdsWriter(output, tok.vocab_size)
    totals = [0, 0, 0]                  # ids in, ids out, successes

    def flush(docs):
        offsets = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum([len(d) for d in docs], out=offsets[1:])
        flat = np.concatenate(docs) if docs else np.zeros(0, np.int64)
        first = writer.n_docs
        out, out_off, successes = st.expand_flat(
            flat, offsets, p, seed=seed, max_num_to_expand=max_num_to_expand, epoch=epoch,
            indices=np.arange(first, first + len(docs)), threads=threads)
        writer.write(out, out_off)
        totals[0] += int(offsets[-1])
        totals[1] += int(out_off[-1])
        totals[2] += int(successes.sum())
    try:
        docs, doc_parts, n_ids = [], [], 0
        for _, ids, last in tok.iter_encoded(parts(), allowed_special=allowed, threads=threads):
            doc_parts.append(ids)
            if not (last and ends.popleft()):
                continue
            if eot is not None:
                doc_parts.append(np.array([eot], dtype=np.int64))
            doc = np.concatenate(doc_parts) if len(doc_parts) != 1 else doc_parts[0].copy()
            docs.append(doc)
            doc_parts = []
            n_ids += len(doc)
            if n_ids >= batch_chars // 4:
                flush(docs)
                docs, n_ids = [], 0
        if docs:
            flush(docs)
        if writer.n_docs == 0:
            raise NewbpeError("no documents in the input")
        written = writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer.n_docs, totals[0], totals[1], totals[2], written
