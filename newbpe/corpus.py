"""The one door for training sources (design.md, "Data flow").

Every source a user can pass — a file path or a list of paths, a `datasets` Dataset or
IterableDataset, a ``{word: count}`` dict, a saved or in-memory `WordCounts` table (an .npz, a count
shard, a directory or list of shards: merged), or any other iterable of str — becomes a `Corpus`. Trainers ask it for what they need:

- ``texts()``: the sequences as str (each line of a file, or each whole file with
  ``split="document"``; each str of an iterable; each value of a dataset column). Bytes that are not
  UTF-8 survive as surrogate escapes (U+DC80–U+DCFF), so byte-level methods see every byte;
- ``documents()``: the same sequences as bytes (ByteSpan's byte LM reads these);
- ``counts(pretokenizer, units, special_tokens, transform)``: a `WordCounts` table, counted in
  parallel and streamed (counting.py), **at most once per (pre-tokenizer, units, specials,
  transform)** — SuperBPE asks for two pre-tokenizations, a SPLINTER run for the raw words and then
  the transformed pieces.

Files may be plain text, JSON Lines, JSON, Parquet, each possibly compressed, or "-" (standard
input): `newbpe.sources` reads them (``column`` names the field of JSON and Parquet records, as it
names the column of a dataset). Sampling (``max_bytes``, ``sample``, ``sample_seed``) chooses the
documents every pass reads, the same ones each time (sources.Sampler).

A counted table is a corpus that can only give counts: a method that needs text refuses it in one
line. A one-shot iterator (a generator) can be read once: a second pass is refused in one line rather
than silently seeing nothing; pass a list, files or a dataset to methods that read twice.
"""
import json
import os
from contextlib import contextmanager

from .errors import NewbpeError

FILES, DATASET, TEXTS, TABLE, COUNTS = "files", "dataset", "texts", "table", "counts"


def _is_dataset(source):
    return hasattr(source, "column_names") or type(source).__module__.startswith("datasets")


class Corpus:
    """A training source, read on demand (see the module docstring)."""

    def __init__(self, source, *, split="line", column="text", threads=None, progress=None, max_bytes=None,
                 sample=None, sample_seed=0, cluster=None):
        """cluster: a `distributed.Client`, "tcp://HOST:PORT" or "local:N" (newbpe.cluster.session):
        inside `on_cluster()` files are counted, and supertoken chunks chunked, on its workers
        (newbpe.cluster); None counts here."""
        from .counting import WordCounts
        from .shards import is_count_table
        from .sources import Sampler
        if split not in ("line", "document"):
            raise NewbpeError(f"split must be 'line' or 'document', not {split!r}")
        if not isinstance(column, str) or not column:
            raise NewbpeError(f"column must be a non-empty str, not {column!r}"[:80])
        self.split, self.column, self.threads, self.progress = split, column, threads, progress
        self.sampling = dict(max_bytes=max_bytes, sample=sample, seed=sample_seed)
        Sampler(**self.sampling)                      # bad values fail now, in one line
        self._counted = {}
        self._consumed = False
        self.source = source
        if isinstance(source, WordCounts):
            self.kind = COUNTS
        elif isinstance(source, dict):
            self.kind = TABLE
        elif isinstance(source, (str, os.PathLike)) and is_count_table(source):
            self.kind, self.source = COUNTS, WordCounts.load(source)     # .npz, count shard(s)
        elif isinstance(source, (str, os.PathLike)):
            self.kind, self.source = FILES, [os.fspath(source)]
        elif isinstance(source, (list, tuple)) and source and \
                all(isinstance(p, (str, os.PathLike)) and is_count_table(p) for p in source):
            self.kind = COUNTS                                                   # an .npz or count shards
            self.source = WordCounts.load(source[0]) if len(source) == 1 else WordCounts.merge(source)
        elif _is_dataset(source):
            self.kind = DATASET
        elif isinstance(source, (bytes, bytearray, int, float)) or source is None:
            raise NewbpeError(f"cannot train on a {type(source).__name__}")
        elif isinstance(source, (list, tuple)) and source and self._all_files(source):
            self.kind, self.source = FILES, [os.fspath(p) for p in source]
        elif not hasattr(source, "__iter__"):
            raise NewbpeError(f"cannot train on a {type(source).__name__}")
        else:
            self.kind = TEXTS
        if self.kind in (TABLE, COUNTS) and self._sampler() is not None:
            raise NewbpeError("max_bytes and sample choose documents: this source is already counted")
        self.cluster_spec, self.cluster = cluster, None
        if cluster is not None and self.kind in (DATASET, TEXTS):
            raise NewbpeError("a cluster counts files: give file paths (this source is a dataset or an iterable)")
        if cluster is not None and self.kind == FILES:
            from .cluster import check_source
            check_source(self.source, self._sampler() is not None)

    @staticmethod
    def _all_files(paths):
        """A list is files only when every element is an existing file; mixing files with other
        strings (or naming a missing file) is an error rather than training on the file names."""
        is_file = [isinstance(p, os.PathLike) or (isinstance(p, str) and "\n" not in p and os.path.exists(p)
                                                  and not os.path.isdir(p))
                   for p in paths]
        is_file = [f or p == "-" for p, f in zip(paths, is_file)]
        if all(is_file):
            return True
        if any(is_file) or any(isinstance(p, os.PathLike) for p in paths):
            missing = [str(p) for p, f in zip(paths, is_file) if not f]
            raise NewbpeError(f"input file not found: {missing[0]}")
        return False

    @classmethod
    def of(cls, source, **kwargs):
        """`source` itself if it is a Corpus, else a new one."""
        return source if isinstance(source, Corpus) else cls(source, **kwargs)

    # ------------------------------------------------------------------ what a source can give
    @property
    def has_text(self):
        return self.kind in (FILES, DATASET, TEXTS)

    @property
    def one_shot(self):
        """True for an iterator that can be read only once (a generator, a file object, ...)."""
        return (self.kind == TEXTS and not isinstance(self.source, (list, tuple))) or \
            (self.kind == FILES and "-" in self.source)

    def _sampler(self):
        from .sources import Sampler
        sampler = Sampler(**self.sampling)
        return sampler if sampler.active else None

    def _read_stdin(self):
        if self.kind == FILES and "-" in self.source:
            if self._consumed:
                raise NewbpeError("standard input was read already; a method that reads its source twice "
                                  "needs files")
            self._consumed = True

    @property
    def units(self):
        """The units of a counted table (None for text sources: the trainer chooses)."""
        return self.source.units if self.kind == COUNTS else None

    @property
    def transform(self):
        """The text transform a counted table was counted through (None for text sources)."""
        return self.source.transform if self.kind == COUNTS else None

    def require_text(self, what):
        """Refuse, in one line, a counted table where `what` needs the text itself."""
        if not self.has_text:
            raise NewbpeError(f"{what} needs text, but this source is a word-count table "
                              "(pass the files or texts it was counted from)")

    def texts(self, rule=None):
        """The sequences as str, streamed. rule: a cuts.CutRule; files then come in parts cut at its
        safe points (for readers to whom a sequence is just text, like SPLINTER counting words), so a
        long line is never held whole."""
        self.require_text("this method")
        sampler = self._sampler()
        if self.kind == FILES:
            from .io import read_documents
            self._read_stdin()
            return read_documents(self.source, self.split, rule, self.column, sampler)
        texts = self._dataset_texts() if self.kind == DATASET else self._iterable_texts()
        return texts if sampler is None else sampler.texts(texts)

    def documents(self):
        """The sequences as bytes (exact: surrogate escapes become their original bytes)."""
        return (t.encode("utf-8", "surrogateescape") for t in self.texts())

    def _iterable_texts(self):
        if isinstance(self.source, (list, tuple)):
            it = iter(self.source)
        else:
            if self._consumed:
                raise NewbpeError("this source is a one-shot iterator and was read already; a method that "
                                  "reads it twice needs a list, files or a dataset")
            self._consumed = True
            it = iter(self.source)
        for t in it:
            if not isinstance(t, str):
                raise NewbpeError(f"expected str sequences, got {type(t).__name__}")
            yield t

    def _dataset_texts(self):
        dataset, column = self.source, self.column
        names = getattr(dataset, "column_names", None)
        if names is not None and column not in names:
            raise NewbpeError(f"dataset has no column {column!r} (columns: {', '.join(names)})")
        if hasattr(dataset, "iter"):
            for batch in dataset.iter(batch_size=1000):
                yield from batch[column]
        else:
            for row in dataset:
                yield row[column]

    @contextmanager
    def on_cluster(self):
        """Connected to the cluster given (if any) for the block: `counts` and the supertoken
        chunker use `self.cluster` (a distributed.Client) while it is set."""
        from .cluster import session
        spec = self.cluster_spec if self.kind == FILES else None   # a counted table needs no cluster
        with session(spec) as client:
            self.cluster = client
            try:
                yield self
            finally:
                self.cluster = None

    # ------------------------------------------------------------------ counting, once per key
    def counts(self, pretokenizer="gpt2", units="bytes", special_tokens=(), transform=None):
        """The `WordCounts` of this source for one pre-tokenization (memoized). A counted table is
        returned as it is (it keeps its own pre-tokenizer and units); a dict is read with the given
        ones."""
        from .counting import WordCounts
        if self.kind == COUNTS:
            if transform is not None:
                raise NewbpeError("a text transform needs text: this source is already counted")
            return self.source
        if self.kind == TABLE:
            if transform is not None:
                raise NewbpeError("a text transform needs text: this source is already counted")
            return WordCounts.from_dict(self.source, pretokenizer, units)
        key = self._key(pretokenizer, units, special_tokens, transform)
        table = self._counted.get(key)
        if table is None:
            table = WordCounts(pretokenizer, units, special_tokens, transform=transform)
            if self.kind == FILES and self.cluster is not None:
                from .cluster import count_files
                table.split = self.split
                count_files(self.cluster, table, self.source, self.column, self.progress)
            elif self.kind == FILES:
                self._read_stdin()
                table.add_files(self.source, self.split, self.threads, self.progress, self.column,
                                self._sampler())
            elif self.kind == DATASET:
                table.add_text_stream(self.texts(), self.threads)
            else:
                table.add_texts(self.texts())
            self._counted[key] = table
        return table

    @staticmethod
    def _key(pretokenizer, units, special_tokens, transform):
        from .pretokenizers import PreTokenizer
        pretok = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer(pretokenizer)
        fingerprint = None if transform is None else json.dumps(transform.to_dict(), sort_keys=True,
                                                                ensure_ascii=False)
        return json.dumps(pretok.to_dict(), sort_keys=True), units, tuple(special_tokens), fingerprint

    def __repr__(self):
        return f"Corpus({self.kind})"
