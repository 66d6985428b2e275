"""Word counting: text sources -> a table of unique pre-tokens with int64 counts.

Training never sees the corpus itself, only this table, so memory grows with the number of unique
words, not with corpus size. Files are streamed in chunks cut at line ends, or inside a long line or
document at a safe point of the pre-tokenizer (`cuts.py`, shared with the readers of encode), and
counted by a pool of worker processes; the per-chunk tables are summed, so the result does not depend
on the number of workers or on chunking. One count serves many trainings: `WordCounts.save` / `WordCounts.load`.

Fast path: for the `gpt2`, `cl100k`, `o200k` and `superbpe_stage1|2` presets the numba scanner cuts each chunk (in parallel
over lines) and a numba hash table counts the pieces, with no Python object per piece. Other
pre-tokenizers (custom regex, `whitespace`, `none`) run the Python `regex` module in worker processes.

Sequences (bpe.md §3): a file is read line by line (``split="line"``, default, HF `train(files)`
parity: each line with its ``\\n`` is one sequence, so no piece spans a line break) or as whole
documents (``split="document"``). Each str from a Python iterable or a `datasets` column is one
sequence. Unlike HF's `feed`, counts accumulate across calls.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .cuts import CutRule
from .errors import ModelFileError, NewbpeError
from .io import atomic_write, read_npz
from .count_workers import (_count_block, _count_chunk, _decode_block, _encode, check_split, count_sequences,
                            decode_units, warn_invalid_utf8)
from .pretokenizers import PreTokenizer

FORMAT = "newbpe-word-counts"
FORMAT_VERSION = 1
CHUNK_BYTES = 2 << 20
#: a block smaller than this is scanned and counted on one thread: two threads saved little there,
#: and a small job then compiles no parallel kernels (the first run after an install, issue 17).
#: Below CHUNK_BYTES, so the full chunks of a large file stay parallel.
PARALLEL_MIN_BYTES = 3 << 19


def _chunks(path, split, pretok, specials=(), chunk_bytes=None, start=0, end=None):
    """Byte ranges of a file, cut where no piece can span the cut: after a line end (line mode,
    where every line is a sequence), else at a safe point of the pre-tokenizer (cuts.CutRule: a space
    after a non-space, outside special tokens), so a long line or document is counted in chunks too.
    start, end: cut only the window [start, end) of the file (itself a range cut here: the cluster
    cuts task ranges of `chunk_bytes` on the client, each worker its 2 MiB chunks inside one)."""
    size = os.path.getsize(path) if end is None else end
    chunk_bytes = chunk_bytes or CHUNK_BYTES             # read at call time (tests shrink it)
    rule = CutRule.for_pretokenizer(pretok, specials)
    if split == "document" and not rule.enabled:
        return [(start, size)] if size > start else []   # custom pattern or 'none': one sequence
    cuts = [start]
    with open(path, "rb") as f:
        pos = start
        while pos + chunk_bytes < size:
            f.seek(pos + chunk_bytes)
            tail = f.read(min(1 << 16, size - pos - chunk_bytes))
            cut = _safe_cut(tail, split, rule)
            if cut < 0:
                pos += chunk_bytes
                continue
            pos = pos + chunk_bytes + cut
            cuts.append(pos)
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _safe_cut(tail: bytes, split: str, rule) -> int:
    """Offset in `tail` where a chunk may end: just after a newline in line mode, else the first
    safe point of `rule`. (Document mode used to cut after a newline followed by an ASCII letter,
    which changed gpt2's pieces: "x  \n" + "a" is 'x', '  ', '\n', 'a' whole but 'x', '  \n' cut.)"""
    if split == "line":
        j = tail.find(b"\n")
        if 0 <= j and j + 1 < len(tail):
            return j + 1
    return rule.find(tail, 1, len(tail) - rule.margin + 1)


class WordCounts:
    """Unique pre-tokens (as bytes: UTF-8, with surrogateescape in byte mode) and int64 counts.

    Build it with `from_files`, `from_texts`, `from_dataset`, `from_dict`, or accumulate with the
    `add_*` methods. `arrays()` gives the table in first-seen order; `table` a {bytes: count} dict.
    """

    def __init__(self, pretokenizer: Any = "gpt2", units: str = "bytes", special_tokens: Iterable[str] = (),
                 transform: Any = None) -> None:
        """transform: an optional text preprocessor (SPLINTER) applied to each sequence, outside
        special tokens, before pre-tokenization; for files it runs in the counting workers."""
        if units not in ("bytes", "chars"):
            raise NewbpeError(f"unknown units {units!r} (use 'bytes' or 'chars')")
        self.pretokenizer = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer(pretokenizer)
        self.units = units
        from .checks import check_special_tokens
        self.special_tokens = check_special_tokens(special_tokens)
        self.transform = transform
        self.split = "line"
        self.had_invalid_utf8 = False
        self._words = None
        self._side = None
        self.merge_report = None          # a shards.MergeReport when the table came from merging shards

    @property
    def _table(self):
        if self._words is None:
            from .wordtable import WordTable
            self._words = WordTable()
        return self._words

    # ------------------------------------------------------------ sources
    def add_counter(self, counter: Mapping[str | bytes, int]) -> WordCounts:
        """Add a {word: count} mapping (words as str or bytes)."""
        words, weights = [], []
        for w, c in counter.items():
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not isinstance(w, (str, bytes)):
                raise NewbpeError(f"word counts map str or bytes words to integer counts, got {w!r}: {c!r}"[:120])
            if c < 0:
                raise NewbpeError(f"negative count {c} for word {w!r}")
            if c:
                try:
                    words.append(w if isinstance(w, bytes) else _encode(w, self.units))
                except UnicodeEncodeError as e:
                    from .checks import text_error
                    raise text_error(e) from None
                weights.append(int(c))
        if words:
            bounds = np.zeros(len(words) + 1, dtype=np.int64)
            np.cumsum([len(w) for w in words], out=bounds[1:])
            self._table.add_pieces(np.frombuffer(b"".join(words), dtype=np.uint8), bounds,
                                   np.array(weights, dtype=np.int64))
        return self

    def update(self, other: WordCounts) -> WordCounts:
        """Add another table's counts (in place; returns self). Both must come from the same
        counting setup (pre-tokenizer, units, special tokens, split): a word means nothing across
        pre-tokenizers, so adding such tables would silently mix two vocabularies."""
        mine, theirs = self.meta(), other.meta()
        from .shards import SETUP_KEYS
        for key in SETUP_KEYS:
            if mine[key] != theirs[key]:
                raise NewbpeError(f"cannot add word counts with a different {key}: "
                                  f"{json.dumps(mine[key])[:60]} vs {json.dumps(theirs[key])[:60]}")
        if len(other):
            data, offsets, counts = other.arrays(copy=False)
            self._table.add_pieces(data, offsets, counts)
        self.had_invalid_utf8 |= other.had_invalid_utf8
        return self

    def add_texts(self, texts: Iterable[str]) -> WordCounts:
        """Each str of the iterable is one sequence. Streams in batches (never a list of all)."""
        batch = []
        try:
            for t in texts:
                if not isinstance(t, str):
                    raise NewbpeError(f"expected str sequences, got {type(t).__name__}")
                batch.append(t)
                if len(batch) >= 4096:
                    self._add_batch(batch)
                    batch = []
            if batch:
                self._add_batch(batch)
        except UnicodeEncodeError as e:
            from .checks import text_error
            raise text_error(e) from None
        return self

    def _add_batch(self, seqs):
        if self.transform is not None:
            from .pretokenizers import apply_outside_specials
            seqs = [apply_outside_specials(self.transform, seq, self.special_tokens) for seq in seqs]
        if self._fast() and not any(sp in seq for seq in seqs for sp in self.special_tokens):
            encoded = [_encode(seq, self.units) for seq in seqs]
            docs = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum([len(e) for e in encoded], out=docs[1:])
            self._add_scanned(np.frombuffer(b"".join(encoded), dtype=np.uint8), docs)
        else:
            self.add_counter(count_sequences(seqs, self.pretokenizer, self.units, self.special_tokens))

    def _fast(self):
        return self.pretokenizer.scanner is not None

    def _add_scanned(self, data, docs, threads=1):
        from .pretokenizers.scanner import split_bytes_many
        if len(data) < PARALLEL_MIN_BYTES:              # same pieces and table, in entry order too
            threads = 1
        self.add_pieces(data, split_bytes_many(data, docs, self.pretokenizer.scanner, threads=threads), threads)

    def add_pieces(self, data: np.ndarray, bounds: np.ndarray, threads: int = 1) -> None:
        """Count the pieces data[bounds[i]:bounds[i+1]] (uint8 data, increasing int64 bounds), already
        cut by a pre-tokenization of the caller's (the random chunker, the scanner). Large batches on
        several threads go through the parallel insert; the table is the same either way."""
        if threads <= 1 or len(data) < PARALLEL_MIN_BYTES:
            self._table.add_pieces(data, bounds)
            return
        from ._threads import threads_limit
        from .wordtable import WordTable
        if self._side is None:
            self._side = WordTable()
        with threads_limit(threads):
            self._table.add_pieces_parallel(data, bounds, self._side)

    def add_files(self, paths: Iterable[str | os.PathLike[str]], split: str = "line", threads: int | None = None,
                  progress: Callable[..., Any] | None = None, column: str = "text",
                  sampler: Any = None) -> WordCounts:
        """Count files (any format of `sources`; "-" is standard input). Plain text files are cut
        into byte ranges; compressed, JSON and Parquet inputs (and every input when `sampler`, a
        sources.Sampler, is active) are streamed as text blocks. Either way preset patterns count
        through the numba scanner (parallel over lines) and other pre-tokenizers in `threads`
        worker processes. column: the field or column of JSON and Parquet records."""
        self.split = check_split(split)
        from .checks import check_threads
        from .sources import check_inputs, is_plain
        check_threads(threads)
        paths = [os.fspath(p) for p in paths]
        if not paths:
            raise NewbpeError("no input files given")
        check_inputs(paths)
        if all(os.path.isfile(p) for p in paths) and sum(os.path.getsize(p) for p in paths) == 0:
            raise NewbpeError("input files are empty: " + ", ".join(paths))
        threads = threads or os.cpu_count() or 1
        if sampler is not None and not sampler.active:
            sampler = None
        plain = [sampler is None and is_plain(p) for p in paths]
        if all(plain):
            return self._add_plain(paths, split, threads, progress)
        total = sum(os.path.getsize(p) for p in paths if os.path.isfile(p))
        done, i = 0, 0
        while i < len(paths):                  # in order: the table keeps first-seen order
            if sampler is not None and sampler.done:
                break
            j = i + 1
            if plain[i]:
                while j < len(paths) and plain[j]:
                    j += 1
                self._add_plain(paths[i:j], split, threads, None)
            else:
                tell = []

                def report(base=done):
                    if progress and total and tell:
                        progress("count", base + tell[0](), total)
                self._add_stream(paths[i], split, threads, column, sampler, tell, report)
            done += sum(os.path.getsize(p) for p in paths[i:j] if os.path.isfile(p))
            if progress and total:
                progress("count", done, total)
            i = j
        self._warn_invalid()
        return self

    def _add_stream(self, name, split, threads, column, sampler, track=None, report=None):
        from .sources import iter_blocks, iter_pieces, pack
        rule = CutRule.for_pretokenizer(self.pretokenizer, self.special_tokens)
        if sampler is not None:
            blocks = pack(sampler.filter(iter_pieces(name, split, rule, column, track=track)), CHUNK_BYTES)
        else:
            blocks = iter_blocks(name, split, rule, column, CHUNK_BYTES, track)
        self._count_blocks(blocks, split, threads, report)

    def add_text_stream(self, texts: Iterable[str], threads: int | None = None) -> WordCounts:
        """Each str of the iterable is one sequence, counted in blocks by the same parallel path as
        files (add_texts counts in batches in this process)."""
        from .sources import pack
        threads = threads or os.cpu_count() or 1

        def pieces():
            for t in texts:
                if not isinstance(t, str):
                    raise NewbpeError(f"expected str sequences, got {type(t).__name__}")
                try:
                    yield 0, _encode(t, self.units), 2
                except UnicodeEncodeError as e:
                    from .checks import text_error
                    raise text_error(e) from None
        self._count_blocks(pack(pieces(), CHUNK_BYTES), "document", threads)
        self._warn_invalid()
        return self

    def _count_blocks(self, blocks, split, threads, report=None):
        """Count (data, ends) blocks (sources.iter_blocks): every end is a sequence end or a safe
        point; split="line" also cuts after every newline. At most 2 x threads blocks in flight."""
        args = (self.pretokenizer.to_dict(), self.units, split, tuple(self.special_tokens), self.transform)
        if self._fast() and self.transform is None:
            for data, ends in blocks:
                self._count_block_fast(data, ends, split, threads)
                if report:
                    report()
            return
        if threads <= 1:
            for data, ends in blocks:
                self._add_result(_count_block((data, ends) + args))
                if report:
                    report()
            return
        import multiprocessing as mp
        from collections import deque
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ctx.Pool(threads) as pool:
            pending = deque()
            for data, ends in blocks:
                pending.append(pool.apply_async(_count_block, ((data, ends) + args,)))
                if len(pending) >= 2 * threads:
                    self._add_result(pending.popleft().get())
                    if report:
                        report()
            while pending:
                self._add_result(pending.popleft().get())

    def _add_result(self, result):
        counter, bad = result
        self.add_counter(counter)
        self.had_invalid_utf8 |= bad

    def _count_block_fast(self, raw, ends, split, threads):
        if self.special_tokens and any(sp.encode("utf-8", "surrogateescape") in raw for sp in self.special_tokens):
            self._add_result(_count_block((raw, ends, self.pretokenizer.to_dict(), self.units, split,
                                           tuple(self.special_tokens), None)))
            return
        if self.units == "chars":
            raw, ends, bad = _decode_block(raw, ends)
            self.had_invalid_utf8 |= bad
        data = np.frombuffer(raw, dtype=np.uint8)
        docs = np.zeros(len(ends) + 1, dtype=np.int64)
        docs[1:] = ends
        if split == "line":
            from .wordtable import line_bounds
            docs = np.union1d(docs, line_bounds(data))
        self._add_scanned(data, docs, threads)

    def _add_plain(self, paths, split, threads, progress):
        jobs = [job for p in paths for job in self.range_jobs(p, _chunks(p, split, self.pretokenizer,
                                                                         self.special_tokens), split)]
        return self.count_jobs(jobs, threads, progress)

    def range_jobs(self, path: str, ranges: Iterable[tuple[int, int]], split: str) -> list[tuple]:
        """The counting jobs of byte ranges of one plain file (ranges from `_chunks`), for `count_jobs`."""
        return [(path, a, b, self.pretokenizer.to_dict(), self.units, split, tuple(self.special_tokens),
                 self.transform) for a, b in ranges]

    def count_jobs(self, jobs: list[tuple], threads: int, progress: Callable[..., Any] | None = None) -> WordCounts:
        """Count `range_jobs` in order: the numba scanner on `threads` threads (preset patterns
        without a transform), else `threads` worker processes. The cluster's workers call this on
        their ranges with threads=1, so both count with the same code."""
        total = sum(b - a for _, a, b, *_ in jobs)
        if self._fast() and self.transform is None:      # a transform runs in the workers below
            done = 0
            for job in jobs:
                self._count_chunk_fast(job, threads)
                done += job[2] - job[1]
                if progress:
                    progress("count", done, total)
            self._warn_invalid()
            return self
        if threads <= 1 or len(jobs) == 1:
            self._collect(map(_count_chunk, jobs), jobs, progress, total)
        else:
            import multiprocessing as mp
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(min(threads, len(jobs))) as pool:
                self._collect(pool.imap(_count_chunk, jobs), jobs, progress, total)
        return self

    def _count_chunk_fast(self, job, threads):
        path, start, end, _, units, split, specials, _ = job
        with open(path, "rb") as f:
            f.seek(start)
            raw = f.read(end - start)
        if specials and any(sp.encode() in raw for sp in specials):
            counter, bad = _count_chunk(job)
            self.add_counter(counter)
            self.had_invalid_utf8 |= bad
            return
        if units == "chars":
            text, bad = decode_units(raw, units)
            self.had_invalid_utf8 |= bad
            if bad:
                raw = text.encode("utf-8")
        data = np.frombuffer(raw, dtype=np.uint8)
        if split == "line":
            from .wordtable import line_bounds
            docs = line_bounds(data)
        else:
            docs = np.array([0, len(data)], dtype=np.int64)
        self._add_scanned(data, docs, threads)

    def _collect(self, results, jobs, progress, total):
        done = 0
        for job, (counter, bad) in zip(jobs, results):
            self.add_counter(counter)
            self.had_invalid_utf8 |= bad
            done += job[2] - job[1]
            if progress:
                progress("count", done, total)
        self._warn_invalid()

    def _warn_invalid(self):
        if self.had_invalid_utf8 and self.units == "chars":
            warn_invalid_utf8(stacklevel=4)

    def add_dataset(self, dataset: Any, column: str = "text") -> WordCounts:
        """A `datasets.Dataset` or `IterableDataset`: each value of `column` is one sequence."""
        names = getattr(dataset, "column_names", None)
        if names is not None and column not in names:
            raise NewbpeError(f"dataset has no column {column!r} (columns: {', '.join(names)})")
        if hasattr(dataset, "iter"):
            def texts():
                for batch in dataset.iter(batch_size=1000):
                    yield from batch[column]
        else:
            def texts():
                for row in dataset:
                    yield row[column]
        return self.add_texts(texts())

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike[str]], pretokenizer: Any = "gpt2", units: str = "bytes",
                   special_tokens: Iterable[str] = (), split: str = "line", threads: int | None = None,
                   progress: Callable[..., Any] | None = None) -> WordCounts:
        return cls(pretokenizer, units, special_tokens).add_files(paths, split, threads, progress)

    @classmethod
    def from_texts(cls, texts: Iterable[str], pretokenizer: Any = "gpt2", units: str = "bytes",
                   special_tokens: Iterable[str] = ()) -> WordCounts:
        return cls(pretokenizer, units, special_tokens).add_texts(texts)

    @classmethod
    def from_dataset(cls, dataset: Any, column: str = "text", pretokenizer: Any = "gpt2", units: str = "bytes",
                     special_tokens: Iterable[str] = ()) -> WordCounts:
        return cls(pretokenizer, units, special_tokens).add_dataset(dataset, column)

    @classmethod
    def from_dict(cls, counts: Mapping[str | bytes, int], pretokenizer: Any = "gpt2",
                  units: str = "bytes") -> WordCounts:
        """A ready table {word: count} (words as str or bytes), e.g. from another counter."""
        return cls(pretokenizer, units).add_counter(counts)

    # ------------------------------------------------------------ table access
    def __len__(self) -> int:
        return 0 if self._words is None else len(self._words)

    def arrays(self, copy: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(data uint8, offsets int64, counts int64), words in first-seen order. copy=False: `data`
        is a read-only view of the table's pool (no copy of a long word; trainers only read it)."""
        if self._words is None:
            return np.zeros(0, np.uint8), np.zeros(1, np.int64), np.zeros(0, np.int64)
        if copy:
            return self._words.arrays()
        data, offsets, counts = self._words.arrays(copy=False)
        data = data.view()
        data.flags.writeable = False
        return data, offsets, counts.copy()

    @property
    def table(self) -> dict[bytes, int]:
        """{word bytes: count} (a Python dict: for inspection and tests, not for big tables)."""
        data, offsets, counts = self.arrays()
        raw = data.tobytes()
        return {raw[offsets[i]:offsets[i + 1]]: int(counts[i]) for i in range(len(counts))}

    def total(self) -> int:
        return int(self.arrays()[2].sum())

    # ------------------------------------------------------------ persistence
    def meta(self) -> dict[str, Any]:
        """The counting setup (and the .npz format): what two tables must share to be added."""
        transform = None
        if self.transform is not None:
            from .preprocessors.registry import transform_to_dict
            transform = transform_to_dict(self.transform)
        return {"format": FORMAT, "version": FORMAT_VERSION, "units": self.units,
                "pretokenizer": self.pretokenizer.to_dict(), "split": self.split,
                "special_tokens": self.special_tokens, "transform": transform}

    def save(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        """Write a single .npz file atomically."""
        data, offsets, counts = self.arrays()
        meta = np.frombuffer(json.dumps(self.meta()).encode(), dtype=np.uint8)

        def write(f):
            np.savez(f, data=data, offsets=offsets, counts=counts, meta=meta)
        atomic_write(path, write, binary=True)
        return path

    def save_shard(self, path: str | os.PathLike[str]) -> str:
        """Write the table as a count shard (shards.py: Parquet, words in canonical byte order),
        atomically: what a Spark/Ray/Dask worker writes after `newbpe.count_texts`."""
        from .shards import save_table
        return save_table(self, path)

    @classmethod
    def merge(cls, shards: Iterable[str | os.PathLike[str]], min_count: int = 1,
              max_words: int | None = None) -> WordCounts:
        """The merged table of count shards (files or directories of *.parquet; the streaming k-way
        merge of shards.py), words in byte order; its `merge_report` tells what `min_count` /
        `max_words` dropped."""
        from .shards import merge_into
        return merge_into(cls, shards, min_count, max_words)

    @classmethod
    def _from_setup(cls, setup, source="count shard"):
        transform = setup.get("transform")
        if transform is not None:
            from .preprocessors.registry import transform_from_dict
            transform = transform_from_dict(transform, source)
        wc = cls(PreTokenizer.from_dict(setup.get("pretokenizer")), setup.get("units"),
                 setup.get("special_tokens", ()), transform)
        wc.split = check_split(setup.get("split", "line"))
        return wc

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WordCounts:
        """A saved table: an .npz of `save`, a count shard (Parquet, told apart by its magic bytes),
        or a directory: its word_counts.npz if present, else its *.parquet shards merged."""
        from .shards import is_parquet
        path = os.fspath(path)
        if os.path.isdir(path) and not os.path.exists(os.path.join(path, "word_counts.npz")):
            return cls.merge([path])
        if is_parquet(path):
            return cls.merge([path])
        if os.path.isdir(path):
            path = os.path.join(path, "word_counts.npz")
        meta, (data, offsets, counts) = read_npz(path, ("data", "offsets", "counts"), FORMAT, FORMAT_VERSION,
                                                 "newbpe word-count file")
        if data.dtype != np.uint8 or offsets.dtype != np.int64 or counts.dtype != np.int64 \
                or data.ndim != 1 or offsets.ndim != 1 or counts.ndim != 1 \
                or len(offsets) != len(counts) + 1 or offsets[0] != 0 or offsets[-1] != len(data) \
                or (len(counts) and (counts.min() < 0 or np.diff(offsets).min() < 0)):
            raise ModelFileError(f"corrupt word-count file {path}: inconsistent arrays")
        try:
            wc = cls._from_setup(meta, f"word-count file {path}")
        except NewbpeError as e:
            raise ModelFileError(f"corrupt word-count file {path}: {e}") from None
        wc._table.add_pieces(data, offsets, counts)
        return wc
