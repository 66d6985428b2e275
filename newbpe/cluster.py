"""Counting on a Dask cluster (issue 19): ``newbpe.count(files, cluster=...)``, ``newbpe count
--cluster tcp://HOST:PORT``; Dask (the ``newbpe[dask]`` extra) is imported here only.

How files are split. A plain text file is cut on the client into task ranges of about `TASK_BYTES`
at the same safe points as local counting (``counting._chunks``: after a line end, else a safe point
of the pre-tokenizer, outside special tokens), reading 64 KiB at each cut. Each worker cuts its range
into the usual 2 MiB chunks and counts them with `WordCounts.count_jobs`, the code local counting
runs (numba scanner for presets, the `regex` module otherwise, the transform such as SPLINTER inside
the worker). Compressed, JSON and Parquet inputs are one task per file (`WordCounts.add_files` on the
worker). Workers read the files by the absolute paths the client resolves, so every worker must see them at the
same path (a shared filesystem), and must have newbpe installed.

How tables are reduced. The per-task tables come back as plain arrays; adjacent pairs are merged on
the workers with `WordCounts.update` (a binary tree, merges at a higher Dask priority than counting,
so finished pairs are folded before more leaves pile up) and the final table is brought to the
client. Merging left into right keeps the first-seen order of the concatenated input, so the table
(order included) and a model trained on it are the same as local counting, byte for byte.

Retries. A worker that dies mid-task (killed, out of memory) has its tasks rerun on another worker by
Dask (up to its ``distributed.scheduler.allowed-failures``, 3 by default); tasks are pure functions
of their byte range, so a rerun counts the same. An exception in a task (a bad file) is not retried:
it comes back as the one-line error it is.

Supertoken chunks (``--algo supertoken``) are seeded per document. With ``seed_by="index"`` a range
needs the corpus-wide number of its first document: a pre-pass task per range counts its documents
(newlines, or the records of a JSON/Parquet file), the client sums them, and each range chunks from
its first index, so the table does not depend on the partitioning. ``seed_by="content"`` skips the
pre-pass. Sampling (max_bytes, sample) and standard input are refused: both read the corpus in order
on one machine.
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from .errors import NewbpeError

#: Bytes of plain text per counting task. 64 MiB: 16 tasks per GB keep two workers evenly busy and
#: the tree short (4 merge levels); on the 1 GB benchmark mix each worker peaked at ~430 MB
#: (README, Scale-out).
TASK_BYTES = 64 << 20
#: Seconds to wait for a scheduler before the one-line error.
CONNECT_TIMEOUT = 10
#: How a merge ranks against counting tasks in Dask's queue (higher runs first).
_MERGE_PRIORITY = 10


def _distributed():
    try:
        import distributed
    except ImportError:
        raise NewbpeError("counting on a cluster needs Dask: pip install 'newbpe[dask]'") from None
    return distributed


@contextmanager
def session(cluster: Any) -> Iterator[Any]:
    """A `distributed.Client` for `cluster`: None (yields None: count locally), a Client (used as
    is, left open), a cluster object (its scheduler), ``"local:N"`` (a LocalCluster of N worker
    processes of one thread each on 127.0.0.1, shut down afterwards) or a scheduler address
    ``"tcp://HOST:PORT"`` (connected within CONNECT_TIMEOUT seconds, closed afterwards)."""
    if cluster is None:
        yield None
        return
    distributed = _distributed()
    if isinstance(cluster, distributed.Client):
        yield cluster
        return
    if isinstance(cluster, str) and cluster.startswith("local:"):
        n = cluster[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise NewbpeError(f"--cluster local:N needs a number of workers N >= 1, got {cluster!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")            # Dask's notes on ports and memory limits
            local = distributed.LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True,
                                             host="127.0.0.1", dashboard_address=None)
        with local, distributed.Client(local) as client:   # counting's own warnings still show
            yield client
        return
    if hasattr(cluster, "scheduler_address"):
        with distributed.Client(cluster) as client:
            yield client
        return
    if not isinstance(cluster, str) or "://" not in cluster:
        raise NewbpeError(f"cluster must be a dask Client, 'local:N' or a scheduler address like "
                          f"tcp://HOST:PORT, not {str(cluster)[:60]!r}")
    try:
        client = distributed.Client(cluster, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as e:
        raise NewbpeError(f"cannot reach the Dask scheduler at {cluster} within {CONNECT_TIMEOUT} s "
                          f"({type(e).__name__})") from None
    try:
        yield client
    finally:
        client.close()


def check_source(paths: list[str], sampled: bool) -> None:
    """Refuse, before any work, what cluster counting cannot do in order (module doc)."""
    if "-" in paths:
        raise NewbpeError("a cluster reads files by path: standard input ('-') cannot be counted there")
    if sampled:
        raise NewbpeError("max_bytes and sample read documents in order on one machine: not with a cluster")


# ------------------------------------------------------------------------------------------ planning
def _units(paths, split, pretokenizer, specials, task_bytes):
    """(absolute path, start, end) tasks: byte ranges of plain text files, (path, None, None) for the others."""
    from .counting import _chunks
    from .sources import is_plain
    out = []
    for path in map(os.path.abspath, paths):       # a worker's working directory is not the client's
        if is_plain(path):
            out.extend((path, a, b) for a, b in _chunks(path, split, pretokenizer, specials, task_bytes))
        else:
            out.append((path, None, None))
    return out


def _setup(table):
    """What a worker needs to build an empty table of the same counting setup (picklable)."""
    return (table.pretokenizer.to_dict(), table.units, tuple(table.special_tokens), table.split, table.transform)


def _empty(setup):
    from .counting import WordCounts
    from .pretokenizers import PreTokenizer
    pretok, units, specials, split, transform = setup
    table = WordCounts(PreTokenizer.from_dict(pretok), units, specials, transform=transform)
    table.split = split
    return table


def _payload(table, bad, chunks=0):
    """A table as (data, offsets, counts, had invalid UTF-8, chunks): plain arrays travel cheaply."""
    data, offsets, counts = table.arrays()
    return data, offsets, counts, bool(bad), int(chunks)


def _table(setup, payload):
    table = _empty(setup)
    data, offsets, counts, bad, _ = payload
    if len(counts):
        table._table.add_pieces(data, offsets, counts)
    table.had_invalid_utf8 = bad
    return table


# ------------------------------------------------------------------------------------------ worker tasks
def count_unit(setup, column, path, start, end):
    """Worker: the table of one task (a byte range, or a whole non-plain file), counted on one thread."""
    from .counting import _chunks
    table = _empty(setup)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # the client warns once for all tasks
        if start is None:
            table.add_files([path], table.split, threads=1, column=column)
        else:
            ranges = _chunks(path, table.split, table.pretokenizer, table.special_tokens, start=start, end=end)
            table.count_jobs(table.range_jobs(path, ranges, table.split), threads=1)
    return _payload(table, table.had_invalid_utf8)


def merge_pair(setup, left, right):
    """Worker: left's table with right's added (`WordCounts.update`: new words of `right` after
    those of `left`, so first-seen order is the order of the input)."""
    table = _table(setup, left)
    table.update(_table(setup, right))
    return _payload(table, table.had_invalid_utf8, left[4] + right[4])


def _documents(path, start, end, split, column):
    """The documents of one task as str: lines of a byte range, or every document of a file."""
    if start is None:
        from .io import read_documents
        return read_documents([path], split, None, column)
    from .count_workers import _split_lines
    with open(path, "rb") as f:
        f.seek(start)
        text = f.read(end - start).decode("utf-8", "surrogateescape")
    return _split_lines(text) if split == "line" else [text]


def count_documents(split, column, path, start, end):
    """Worker: the number of documents in one task (the supertoken pre-pass). A range ends after a
    newline unless it ends the file, so its lines are its newlines plus an unterminated last one."""
    if start is None:
        return sum(1 for _ in _documents(path, start, end, split, column))
    if split == "document":
        return 1 if end > start else 0
    with open(path, "rb") as f:
        f.seek(start)
        raw = f.read(end - start)
    return raw.count(b"\n") + (1 if raw and raw[-1:] != b"\n" else 0)


def chunk_unit(params, split, column, path, start, end, first_index):
    """Worker: the random-chunk table of one task whose first document is number `first_index`."""
    from .trainers.chunk_counts import chunk_texts
    seed, bins, remove_repeats, specials, seed_by, transform = params
    try:
        table, chunks, _ = chunk_texts(_documents(path, start, end, split, column), first_index, seed, bins,
                                       remove_repeats=remove_repeats, specials=specials, seed_by=seed_by,
                                       transform=transform, threads=1)
    except UnicodeEncodeError as e:
        from .checks import text_error
        raise text_error(e) from None
    return _payload(table, False, chunks)


# ------------------------------------------------------------------------------------------ client side
def _reduce(client, leaves, sizes, setup, progress):
    """Merge the leaf futures pairwise (adjacent pairs, in order) up to one; report progress as
    leaves finish (sizes: bytes per leaf). Empties `leaves`, so no reference here keeps a merged
    leaf's table on its worker. Returns the final payload."""
    distributed = _distributed()
    watch = distributed.as_completed(leaves) if progress is not None else None
    bytes_of = {leaf.key: size for leaf, size in zip(leaves, sizes)}
    level, priority = list(leaves), _MERGE_PRIORITY
    leaves.clear()
    while len(level) > 1:
        nxt = [client.submit(merge_pair, setup, a, b, pure=False, priority=priority)
               for a, b in zip(level[0::2], level[1::2])]
        if len(level) % 2:
            nxt.append(level[-1])
        level, priority = nxt, priority + 1
    final = level.pop()
    try:
        if watch is not None:
            total, done = sum(bytes_of.values()), 0
            for leaf in watch:
                done += bytes_of[leaf.key]
                progress("count", done, total)
        return final.result()
    except distributed.KilledWorker as e:
        raise NewbpeError(f"Dask gave up on a counting task after its workers died repeatedly ({e})"[:200]) from None


def _sizes(units):
    return [os.path.getsize(p) if a is None else b - a for p, a, b in units]


def count_files(client, table, paths, column="text", progress=None, task_bytes=None):
    """Count plain/compressed/JSON/Parquet `paths` into `table` (an empty `WordCounts` whose
    pre-tokenizer, units, specials, transform and split say how) on the cluster of `client`.
    Returns `table`."""
    from .count_workers import warn_invalid_utf8
    from .sources import check_inputs
    check_inputs(paths)
    if sum(os.path.getsize(p) for p in paths) == 0:
        raise NewbpeError("input files are empty: " + ", ".join(paths))      # as local counting says
    setup = _setup(table)
    units = _units(paths, table.split, table.pretokenizer, table.special_tokens, task_bytes or TASK_BYTES)
    if not units:
        return table
    leaves = [client.submit(count_unit, setup, column, *unit, pure=False) for unit in units]
    payload = _reduce(client, leaves, _sizes(units), setup, progress)
    table.update(_table(setup, payload))
    if table.had_invalid_utf8 and table.units == "chars":
        warn_invalid_utf8(stacklevel=5)
    return table


def count_random_chunks(corpus, seed, bins, *, remove_repeats=7, specials=(), seed_by="index", transform=None,
                        task_bytes=None):
    """The supertoken chunk table and chunk count (trainers.supertoken.count_chunks) of a file
    corpus, on its cluster (module doc: a document-count pre-pass numbers the ranges' documents)."""
    from .counting import WordCounts
    from .pretokenizers import PreTokenizer
    client, split, column = corpus.cluster, corpus.split, corpus.column
    units = _units(corpus.source, split, PreTokenizer("none"), (), task_bytes or TASK_BYTES)
    firsts = [0] * len(units)
    if seed_by == "index" and units:
        counts = client.gather([client.submit(count_documents, split, column, *u, pure=False) for u in units])
        firsts = [int(x) for x in np.concatenate([[0], np.cumsum(counts)[:-1]])]
    params = (seed, bins, remove_repeats, tuple(specials), seed_by, transform)
    leaves = [client.submit(chunk_unit, params, split, column, *u, first, pure=False)
              for u, first in zip(units, firsts)]
    table = WordCounts("none", "bytes", specials)
    if not leaves:
        return table, 0
    setup = _setup(table)
    payload = _reduce(client, leaves, _sizes(units), setup, corpus.progress)
    table.update(_table(setup, payload))
    return table, payload[4]
