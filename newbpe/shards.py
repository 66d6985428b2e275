"""Count shards: word-count tables any engine can write, and their streaming k-way merge (issue 19).

Training needs only the table of unique pre-tokens and their counts, so the counting can run
anywhere (Spark, Ray, Dask, DuckDB, pandas, a Python worker calling `newbpe.count_texts`) and the
training on one machine. A shard is one Parquet file:

- column ``word``: the pre-token's bytes (``binary``; ``string`` is read as its UTF-8 bytes, the
  large variants too);
- column ``count``: its count (``int64``; any integer type that fits is read; null or negative
  counts are refused; a zero count is ignored);
- schema key-value metadata ``newbpe``: JSON ``{"format": "newbpe-count-shard", "version": 1,
  "pretokenizer": PreTokenizer.to_dict(), "units": "bytes"|"chars", "transform": null or
  {"type", "map"} (the model.json form of a SPLINTER/NFC transform), "special_tokens": [...],
  "split": "line"|"document", "order": "word" or null}``.

Other columns are ignored; a word may repeat (its counts are summed). newbpe writes its shards in
the canonical order, sorted by word bytes (unsigned lexicographic, Arrow's and Spark's binary
order) with unique words, and says so with ``"order": "word"``: the merge then streams every shard
in record batches (IN_FLIGHT_ROWS over all shards) and writes as it goes, so it holds neither the
inputs nor the output; above MAX_FAN_IN shards it merges in levels through temporary shards. A shard without that promise
(another engine's, in any row order) is read whole and sorted in memory first, which costs that
shard's table; the promise is checked while streaming (rows out of order are a one-line error).

The merge (`merge_batches`) is exact: a word's counts are summed over every shard before
`min_count` prunes it, so every kept count is the true total. `max_words` keeps the K most
frequent words (ties: the smaller word bytes wins); it is exact for the merged table, but only
approximate with respect to the corpus when the shards were pruned before merging (a word under a
shard's own cut-off is missing from that shard's sum).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from .errors import ModelFileError, NewbpeError

FORMAT = "newbpe-count-shard"
VERSION = 1
META_KEY = b"newbpe"
PARQUET_MAGIC = b"PAR1"
#: rows per record batch read from a shard: large enough that the per-batch Python is noise (a
#: round costs ~10 Arrow calls per shard), small enough that k shards in flight stay a few MB.
BATCH_ROWS = 1 << 16
#: rows in flight over all shards of one merge: each shard reads batches of IN_FLIGHT_ROWS // k rows
#: (at least MIN_SHARD_ROWS), so the merge's memory does not grow with the number of shards k
IN_FLIGHT_ROWS = 1 << 19
MIN_SHARD_ROWS = 1 << 10
#: at most this many shards are open at once (file descriptors, one read buffer each); more are
#: merged in groups into temporary shards first (exact: nothing is pruned before the last merge)
MAX_FAN_IN = 64
#: the setup keys two tables must share to be added together: a word means nothing across them
SETUP_KEYS = ("pretokenizer", "units", "transform", "special_tokens", "split")


def is_parquet(path: str) -> bool:
    """True when `path` is a file starting with Parquet's magic bytes (format by content, as
    sources.py detects its inputs)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def is_count_table(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a saved word-count table rather than text: an .npz (zip magic), a
    Parquet file with the ``newbpe`` metadata key, or a directory holding word_counts.npz or
    ``*.parquet`` shards. (A Parquet file of text has no such key and stays a text input.)"""
    import pyarrow.parquet as pq
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "word_counts.npz")):
            return True
        return any(n.endswith(".parquet") for n in os.listdir(path))
    if not os.path.isfile(path):                  # a pipe or a device is text, and is read only once
        return False
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return False
    if magic == b"PK\x03\x04":
        return path.endswith(".npz")
    if magic != PARQUET_MAGIC:
        return False
    try:
        return META_KEY in (pq.read_schema(path).metadata or {})
    except Exception:  # noqa: BLE001 - an unreadable Parquet file is left to the text reader's error
        return False


def shard_metadata(pretokenizer: Any = "gpt2", units: str = "bytes", special_tokens: Iterable[str] = (),
                   transform: Any = None, split: str = "line", order: str | None = None) -> str:
    """The JSON of the ``newbpe`` metadata key for a shard counted with this setup (what another
    engine's writer attaches to its Parquet schema; see the README's "Count shards"). `pretokenizer`:
    a name, a PreTokenizer or its to_dict(); `transform`: a transform object or its model.json dict.
    order="word" promises rows sorted by word bytes (what newbpe's writer does)."""
    from .checks import check_special_tokens
    from .pretokenizers import PreTokenizer
    if units not in ("bytes", "chars"):
        raise NewbpeError(f"unknown units {units!r} (use 'bytes' or 'chars')")
    if split not in ("line", "document"):
        raise NewbpeError(f"split must be 'line' or 'document', not {str(split)[:40]!r}")
    if isinstance(pretokenizer, dict):
        pretokenizer = PreTokenizer.from_dict(pretokenizer)
    pretok = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer(pretokenizer)
    if transform is not None and not isinstance(transform, dict):
        from .preprocessors.registry import transform_to_dict
        transform = transform_to_dict(transform)
    meta = {"format": FORMAT, "version": VERSION, "pretokenizer": pretok.to_dict(), "units": units,
            "transform": transform, "special_tokens": list(check_special_tokens(special_tokens)),
            "split": split, "order": order}
    return json.dumps(meta, sort_keys=True, ensure_ascii=False)


def read_setup(path: str) -> dict[str, Any]:
    """The checked ``newbpe`` metadata of shard `path`. A missing file, a file that is not Parquet,
    a missing, foreign or newer-version record, or a bad field is a one-line ModelFileError naming
    the file."""
    import pyarrow.parquet as pq
    if not os.path.isfile(path):
        raise ModelFileError(f"count shard not found: {path}")
    if not is_parquet(path):
        raise ModelFileError(f"{path} is not a count shard (not a Parquet file)")
    try:
        schema = pq.read_schema(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same one-line error
        raise ModelFileError(f"corrupt count shard {path}: {type(e).__name__}: {str(e)[:100]}") from None
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise ModelFileError(f"{path} has no 'newbpe' metadata: not a count shard (add it with "
                             "newbpe.shards.shard_metadata, see the README's 'Count shards')")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"corrupt count shard {path}: its 'newbpe' metadata is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a count shard (its 'newbpe' metadata names format "
                             f"{str(meta.get('format') if isinstance(meta, dict) else meta)[:40]!r})")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: malformed count shard version {str(version)[:20]!r}")
    if version > VERSION:
        raise ModelFileError(f"{path} has count shard version {version}, newer than this newbpe reads "
                             f"({VERSION}); upgrade newbpe")
    names = {"word", "count"} - set(schema.names)
    if names:
        raise ModelFileError(f"count shard {path} has no column {sorted(names)[0]!r} (columns: "
                             f"{', '.join(schema.names)[:80]})")
    try:
        canonical = json.loads(shard_metadata(meta.get("pretokenizer"), meta.get("units"),
                                              meta.get("special_tokens", ()), meta.get("transform"),
                                              meta.get("split", "line"), meta.get("order")))
    except NewbpeError as e:
        raise ModelFileError(f"corrupt count shard {path}: {e}") from None
    if canonical["order"] not in (None, "word"):
        raise ModelFileError(f"corrupt count shard {path}: unknown order {str(canonical['order'])[:20]!r}")
    return canonical


def check_same_setup(paths: list[str], setups: list[dict[str, Any]]) -> None:
    """Refuse, in one line naming both files, shards counted with different setups."""
    for key in SETUP_KEYS:
        for path, setup in zip(paths[1:], setups[1:]):
            if setup[key] != setups[0][key]:
                raise NewbpeError(f"cannot merge count shards with a different {key}: {paths[0]} has "
                                  f"{json.dumps(setups[0][key])[:50]}, {path} has {json.dumps(setup[key])[:50]}")


def shard_paths(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The shard files of `inputs`: files as given, directories as their ``*.parquet`` files in name
    order (Spark's ``part-*`` files; ``_SUCCESS`` and ``.crc`` files are skipped). Missing inputs and
    directories without shards are one-line errors."""
    out = []
    for p in inputs:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = sorted(os.path.join(p, n) for n in os.listdir(p)
                           if n.endswith(".parquet") and not n.startswith((".", "_")))
            if not found:
                raise NewbpeError(f"no *.parquet count shards in directory {p}")
            out.extend(found)
        elif os.path.exists(p):
            out.append(p)
        else:
            raise NewbpeError(f"count shard not found: {p}")
    if not out:
        raise NewbpeError("no count shards given")
    return out


# ---------------------------------------------------------------------------------------- writing
def words_array(data: np.ndarray, offsets: np.ndarray):
    """A pyarrow large_binary array over (data, offsets) without copying the bytes."""
    import pyarrow as pa
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(offsets) - 1,
                                            [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def array_pieces(words) -> tuple[np.ndarray, np.ndarray]:
    """(data uint8, bounds int64) of a large_binary array (a slice too), without copying: word i is
    data[bounds[i]:bounds[i + 1]] (bounds need not start at 0)."""
    buffers = words.buffers()
    bounds = np.frombuffer(buffers[1], dtype=np.int64)[words.offset:words.offset + len(words) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    return data, bounds


def canonical_table(words, counts: np.ndarray):
    """(words, counts) sorted by word bytes with repeats summed and zero counts and empty words
    dropped: the canonical order of a shard. Vectorised: one Arrow sort, one neighbour comparison, one
    np.add.reduceat (no Python per word)."""
    import pyarrow.compute as pc
    if len(words) > 1:
        order = pc.sort_indices(words).to_numpy()
        words, counts = words.take(order), counts[order]
        same = pc.equal(words[1:], words[:-1]).to_numpy(zero_copy_only=False)
        if same.any():
            starts = np.flatnonzero(np.concatenate(([True], ~same)))
            counts = np.add.reduceat(counts, starts)
            words = words.take(starts)
    keep = counts > 0
    if len(words):
        keep &= pc.binary_length(words).to_numpy(zero_copy_only=False) > 0   # an empty word is no piece
    if not keep.all():
        idx = np.flatnonzero(keep)
        words, counts = words.take(idx), counts[idx]
    return words, counts


def in_batches(words, counts: np.ndarray) -> Iterator[tuple[Any, np.ndarray]]:
    """(words, counts) in slices of BATCH_ROWS rows (views, no copies)."""
    for start in range(0, len(words), BATCH_ROWS):
        yield words[start:start + BATCH_ROWS], counts[start:start + BATCH_ROWS]


def setup_metadata(setup: dict[str, Any]) -> str:
    """The metadata JSON of a merged shard: the inputs' setup, in word order."""
    return shard_metadata(setup["pretokenizer"], setup["units"], setup["special_tokens"], setup["transform"],
                          setup["split"], order="word")


def write_shard(path: str | os.PathLike[str], batches: Iterable[tuple[Any, np.ndarray]], meta: str) -> str:
    """Write (words, counts) batches (already in canonical order across batches) as one shard,
    atomically (a killed write leaves the old file or none). `meta`: the JSON of `shard_metadata`.
    Row groups of BATCH_ROWS and no dictionary encoding (words are unique: a dictionary only
    costs the reader memory), so a reader streams a batch at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from .io import atomic_write
    schema = pa.schema([("word", pa.binary()), ("count", pa.int64())], metadata={META_KEY: meta.encode()})

    def write(f):
        with pq.ParquetWriter(f, schema, compression="zstd", use_dictionary=False) as writer:
            pending: list[tuple[Any, np.ndarray]] = []

            def flush(last=False):
                """Write the full row groups of what is pending (all of it when `last`)."""
                words = pa.concat_arrays([w for w, _ in pending])
                counts = np.concatenate([c for _, c in pending])
                end = len(words) if last else len(words) - len(words) % BATCH_ROWS
                for start in range(0, end, BATCH_ROWS):     # binary's int32 offsets: small slices
                    stop = min(start + BATCH_ROWS, end)
                    part = pa.table({"word": words[start:stop].cast(pa.binary()),
                                     "count": pa.array(counts[start:stop], pa.int64())}, schema=schema)
                    writer.write_table(part, row_group_size=BATCH_ROWS)
                pending[:] = [(words[end:], counts[end:])] if end < len(words) else []
            for words, counts in batches:               # a merge's rounds vary in size: full groups only
                if len(words):
                    pending.append((words, counts))
                if sum(len(w) for w, _ in pending) >= BATCH_ROWS:
                    flush()
            if pending:
                flush(last=True)
    return atomic_write(os.fspath(path), write, binary=True)


# ---------------------------------------------------------------------------------------- reading
class _Source:
    """One shard read as a sorted stream of (words, counts) batches: streamed when the shard
    promises word order (checked batch by batch), else read whole and sorted first."""

    def __init__(self, path: str, setup: dict[str, Any], rows: int = BATCH_ROWS) -> None:
        self.path, self.rows = path, rows
        self.last = None                 # the last word streamed, to check the promised order
        self.batches = self._batches() if setup["order"] == "word" else self._sorted_whole()

    def _read(self) -> Iterator[tuple[Any, np.ndarray]]:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
        try:
            # no pre-buffering and no read-ahead threads: one shard costs about one batch in flight
            # (pyarrow's defaults held ~5 MB per 64k-row batch and shard; measured in test_shards)
            reader = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=1 << 16)
            for batch in reader.iter_batches(batch_size=self.rows, columns=["word", "count"], use_threads=False):
                words, counts = batch.column(0), batch.column(1)
                if words.null_count or counts.null_count:
                    raise ModelFileError(f"count shard {self.path} has null {'words' if words.null_count else 'counts'}")
                if not (pa.types.is_binary(words.type) or pa.types.is_large_binary(words.type)
                        or pa.types.is_string(words.type) or pa.types.is_large_string(words.type)):
                    raise ModelFileError(f"count shard {self.path}: column 'word' is {words.type}, not binary or string")
                if not pa.types.is_integer(counts.type):
                    raise ModelFileError(f"count shard {self.path}: column 'count' is {counts.type}, not an integer")
                counts = counts.cast(pa.int64()).to_numpy()
                if len(counts) and counts.min() < 0:
                    raise ModelFileError(f"count shard {self.path} has a negative count ({int(counts.min())})")
                yield pc.cast(words, pa.large_binary()), counts
        except ModelFileError:
            raise
        except Exception as e:  # noqa: BLE001 - a truncated file, an overflowing uint64, ...
            raise ModelFileError(f"corrupt count shard {self.path}: {type(e).__name__}: {str(e)[:100]}") from None

    def _batches(self):
        import pyarrow.compute as pc
        for words, counts in self._read():
            if not len(words):
                continue
            ordered = pc.all(pc.less_equal(words[:-1], words[1:])).as_py() if len(words) > 1 else True
            if not ordered or (self.last is not None and words[0].as_py() < self.last):
                raise ModelFileError(f"corrupt count shard {self.path}: its metadata promises word order "
                                     "but the rows are not sorted by word")
            self.last = words[-1].as_py()
            yield words, counts

    def _sorted_whole(self):
        import pyarrow as pa
        parts = list(self._read())
        if parts:
            words = pa.concat_arrays([w for w, _ in parts])
            counts = np.concatenate([c for _, c in parts])
            del parts
            words, counts = canonical_table(words, counts)
            yield from in_batches(words, counts)


@dataclass
class MergeReport:
    """What a merge kept and dropped (the dropped mass: words under `min_count` or beyond `max_words`)."""
    shards: int = 0
    words: int = 0
    total: int = 0
    dropped_words: int = 0
    dropped_count: int = 0
    setup: dict[str, Any] = field(default_factory=dict)
    output: str | None = None

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        return (f"merged {self.shards} shards: {self.words} unique words, {self.total} in total; dropped "
                f"{self.dropped_words} words ({self.dropped_count} occurrences)"
                + (f" -> {self.output}" if self.output else ""))


def _take(words, counts, idx):
    return words.take(idx), counts[idx]


def _k_way(sources: list[_Source]) -> Iterator[tuple[Any, np.ndarray]]:
    """Merged (words, counts) batches in word order, each word once with its summed count.

    Each round, the frontier is the smallest last buffered word among the sources still being read;
    every buffered word below it is final (no source can still bring it: they are sorted), so those
    rows of all buffers are sorted and summed together (canonical_table) and emitted. A source whose
    buffer is then empty or all frontier appends its next batch (a word repeated across a batch
    boundary stays in one round), so each round emits or reads; when every source is read, the rest
    is emitted. Memory: about one batch per source plus the rows of one round."""
    import pyarrow as pa
    import pyarrow.compute as pc
    empty = (pa.array([], pa.large_binary()), np.zeros(0, np.int64))
    buffers = [empty] * len(sources)
    reading = set(range(len(sources)))

    def refill(i):
        """Append source i's next non-empty batch to its buffer; when none is left, stop reading it."""
        batch = next(sources[i].batches, None)
        if batch is None:
            reading.discard(i)
        elif not len(buffers[i][0]):
            buffers[i] = batch
        else:
            buffers[i] = (pa.concat_arrays([buffers[i][0], batch[0]]), np.concatenate([buffers[i][1], batch[1]]))

    for i in range(len(sources)):
        refill(i)
    while reading:
        frontier = min(buffers[i][0][-1].as_py() for i in reading)
        scalar = pa.scalar(frontier, pa.large_binary())
        out_words, out_counts = [], []
        for i, (words, counts) in enumerate(buffers):
            n = int(pc.sum(pc.less(words, scalar)).as_py() or 0) if len(words) else 0
            if n:
                out_words.append(words[:n])
                out_counts.append(counts[:n])
                buffers[i] = (words[n:], counts[n:])
        if out_words:
            yield canonical_table(pa.concat_arrays(out_words), np.concatenate(out_counts))
        for i in sorted(reading):
            words = buffers[i][0]
            if not len(words) or words[0].as_py() == words[-1].as_py() == frontier:
                refill(i)
    rest = [b for b in buffers if len(b[0])]
    if rest:
        words, counts = canonical_table(pa.concat_arrays([w for w, _ in rest]), np.concatenate([c for _, c in rest]))
        yield from in_batches(words, counts)


def _tree_merge(paths: list[str], setups: list[dict[str, Any]]) -> Iterator[tuple[Any, np.ndarray]]:
    """The k-way merge of `paths`; above MAX_FAN_IN shards, groups of MAX_FAN_IN are first merged
    into temporary shards (a directory under TMPDIR, removed at the end), level by level."""
    import itertools
    import shutil
    import tempfile
    temp, names = None, itertools.count()
    try:
        while len(paths) > MAX_FAN_IN:
            temp = temp or tempfile.mkdtemp(prefix="newbpe-merge-")
            meta = setup_metadata(setups[0])
            merged = []
            for g in range(0, len(paths), MAX_FAN_IN):
                out = os.path.join(temp, f"merged-{next(names):06d}.parquet")
                write_shard(out, _tree_merge(paths[g:g + MAX_FAN_IN], setups[g:g + MAX_FAN_IN]), meta)
                merged.append(out)
            for p in paths:
                if os.path.dirname(p) == temp:
                    os.remove(p)                        # an earlier level's temporary shard
            paths, setups = merged, [json.loads(meta)] * len(merged)
        rows = max(MIN_SHARD_ROWS, IN_FLIGHT_ROWS // len(paths))
        yield from _k_way([_Source(p, s, rows) for p, s in zip(paths, setups)])
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def merge_batches(inputs: Iterable[str | os.PathLike[str]], min_count: int = 1, max_words: int | None = None,
                  report: MergeReport | None = None) -> tuple[dict[str, Any], Iterator[tuple[Any, np.ndarray]]]:
    """(setup, batches) of the merge of shards (files or directories of ``*.parquet``): batches of
    (large_binary words, int64 counts) in word order, each word once. Every shard's metadata is
    checked first and the setups must agree (one line naming both files). `report` (a MergeReport)
    is filled as the batches are consumed."""
    from .checks import check
    min_count = check("min_count", min_count)
    if max_words is not None:
        max_words = check("max_words", max_words)
    paths = shard_paths(inputs)
    setups = [read_setup(p) for p in paths]
    check_same_setup(paths, setups)
    setup = {k: setups[0][k] for k in SETUP_KEYS}
    report = report if report is not None else MergeReport()
    report.shards, report.setup = len(paths), setup

    def pruned():
        for words, counts in _tree_merge(paths, setups):
            if min_count > 1:
                keep = counts >= min_count
                report.dropped_words += int(len(counts) - keep.sum())
                report.dropped_count += int(counts[~keep].sum())
                words, counts = _take(words, counts, np.flatnonzero(keep))
            if len(words):
                yield words, counts

    def counted(batches):
        for words, counts in batches:
            report.words += len(words)
            report.total += int(counts.sum())
            yield words, counts

    return setup, counted(pruned() if max_words is None else _top(pruned(), max_words, report))


def _top(batches, k: int, report: MergeReport):
    """Keep the k most frequent words (ties: smaller word bytes first), emitted in word order. Holds
    at most 2k candidates: when the pool passes 2k it is cut back to its top k."""
    import pyarrow as pa

    def cut(words, counts, size):
        if len(words) <= size:
            return words, counts
        table = pa.table({"word": words, "count": counts})
        order = table.sort_by([("count", "descending"), ("word", "ascending")])
        report.dropped_words += len(words) - size
        report.dropped_count += int(order.column("count").slice(size).to_numpy().sum())
        kept = order.slice(0, size)
        return kept.column("word").combine_chunks(), kept.column("count").to_numpy()

    pool_words, pool_counts = pa.array([], pa.large_binary()), np.zeros(0, np.int64)
    for words, counts in batches:
        pool_words = pa.concat_arrays([pool_words, words])
        pool_counts = np.concatenate([pool_counts, counts])
        if len(pool_words) > 2 * k:
            pool_words, pool_counts = cut(pool_words, pool_counts, k)
    pool_words, pool_counts = cut(pool_words, pool_counts, k)
    words, counts = canonical_table(pool_words, pool_counts)
    yield from in_batches(words, counts)


def save_table(wc: Any, path: str | os.PathLike[str]) -> str:
    """Write a WordCounts as one shard in canonical order (WordCounts.save_shard)."""
    data, offsets, counts = wc.arrays(copy=False)
    words, counts = canonical_table(words_array(data, offsets), counts)
    meta = shard_metadata(wc.pretokenizer, wc.units, wc.special_tokens, wc.transform, wc.split, "word")
    return write_shard(path, [(words, counts)], meta)


def merge_into(cls: Any, inputs: Iterable[str | os.PathLike[str]], min_count: int = 1,
               max_words: int | None = None) -> Any:
    """The merge of shards as a new table of class `cls` (WordCounts.merge), its `merge_report` set."""
    report = MergeReport()
    setup, batches = merge_batches(inputs, min_count, max_words, report)
    wc = cls._from_setup(setup)
    for words, counts in batches:
        data, bounds = array_pieces(words)
        wc._table.add_pieces(data, bounds, counts)
    wc.merge_report = report
    return wc


def merge_to_file(inputs: Iterable[str | os.PathLike[str]], output: str | os.PathLike[str], min_count: int = 1,
                  max_words: int | None = None) -> MergeReport:
    """Merge shards into one shard file `output` (canonical order), streamed: memory is about the
    batches in flight, not the inputs' sum nor the output. Returns the MergeReport."""
    report = MergeReport(output=os.fspath(output))
    setup, batches = merge_batches(inputs, min_count, max_words, report)
    write_shard(output, batches, setup_metadata(setup))
    return report
