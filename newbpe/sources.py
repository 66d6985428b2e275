"""Input formats: what a corpus file holds and how to read it, streamed.

An input is a path or ``-`` (standard input). Its compression is read from its first bytes (gzip
``1f 8b``, zstd ``28 b5 2f fd``, xz ``fd 37 7a 58 5a 00``, bzip2 ``BZh``), so a name that lies (a
gzip file named ``.txt``, a plain file named ``.gz``) is still read right; then its format: Parquet
by its ``PAR1`` magic, else by the extension under the compression one (``.jsonl``/``.ndjson``:
JSON Lines; ``.json``: a JSON array of records or JSON Lines, told apart by the first character;
``.parquet``), else plain text. Standard input is text (decompressed when compressed).

Records (JSON and Parquet) give one document each: the str at `column` (``text`` by default; a
dotted path such as ``meta.body`` reaches into nested objects or structs). A record without it, or
with a non-string value, is a one-line `NewbpeError` naming the file and the line (JSON Lines), the
record (a JSON array) or the row (Parquet). A corrupt compressed stream is one line too.

Every reader here streams: memory follows the longest document (or, for text, the longest piece
between safe cut points), never the file. A compressed Parquet file (or Parquet on stdin) is first
decompressed to a temporary file on disk, since Parquet needs to seek.

The readers yield *pieces* ``(n, part bytes, end)``: `n` the line (text, JSON Lines), record or row
number; `end` 0 inside a sequence (the part was cut at a safe point), 1 at the end of a sequence
that is not the end of a document (a line inside a record, split="line"), 2 at the end of a
document (for text files a document is a line, or the whole file with split="document"). Sampling
(`Sampler`) decides per document.
"""
import io
import json
import os
import sys

from .errors import NewbpeError

MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bzip2"))
COMPRESSED_EXT = (".gz", ".gzip", ".zst", ".zstd", ".xz", ".bz2")
FORMAT_EXT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}
BLOCK = 1 << 20


def _compression(head):
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), None)


def detect(name):
    """(compression or None, format: "text", "jsonl", "json" or "parquet") of the file `name`, from
    its first bytes and then its extension; ``-`` is standard input (text)."""
    if name == "-" or not os.path.isfile(name):
        return None, "text"                 # a pipe: read once, its compression sniffed by open_input
    with open(name, "rb") as f:
        head = f.read(8)
    comp = _compression(head)
    base, ext = os.path.splitext(name.lower())
    if ext in COMPRESSED_EXT:
        base, ext = os.path.splitext(base)
    if comp is None and head.startswith(b"PAR1"):
        return None, "parquet"
    fmt = FORMAT_EXT.get(ext, "text")
    if comp is not None and fmt == "text":
        with open_input(name, comp) as s:
            if s.read(4) == b"PAR1":
                fmt = "parquet"
    return comp, fmt


def is_plain(name):
    """An uncompressed text file: counted by byte ranges (counting._chunks), the fastest route."""
    return name != "-" and os.path.isfile(name) and detect(name) == (None, "text")


class _Guard(io.RawIOBase):
    """A decompressing stream whose errors (corrupt or truncated data) become one-line NewbpeErrors,
    and which closes the file under it."""

    def __init__(self, stream, raw, name, comp):
        self._s, self._raw, self._name, self._comp = stream, raw, name, comp

    def readable(self):
        return True

    def readinto(self, b):
        try:
            data = self._s.read(len(b))
        except NewbpeError:
            raise
        except Exception as e:  # noqa: BLE001 - gzip/lzma/bz2/zstd each raise their own kinds
            if self._comp is None:
                raise
            where = "standard input" if self._name == "-" else self._name
            raise NewbpeError(f"corrupt {self._comp} data in {where}: {type(e).__name__}: {e}".replace("\n", " ")) from None
        b[:len(data)] = data
        return len(data)

    def close(self):
        if not self.closed:
            for f in (self._s, self._raw):
                if f is not sys.stdin.buffer and f is not getattr(sys.stdin, "buffer", None):
                    try:
                        f.close()
                    except Exception:  # noqa: BLE001
                        pass
        super().close()


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were read already (standard input after sniffing its magic)."""

    def __init__(self, head, rest):
        self._head, self._rest = head, rest

    def readable(self):
        return True

    def readinto(self, b):
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self):
        if self._rest is not sys.stdin.buffer:
            self._rest.close()
        super().close()


def _decompressor(raw, comp):
    if comp == "gzip":
        import gzip
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if comp == "xz":
        import lzma
        return lzma.LZMAFile(raw)
    if comp == "bzip2":
        import bz2
        return bz2.BZ2File(raw)
    if comp == "zstd":
        try:
            import zstandard
        except ImportError:
            raise NewbpeError("reading .zst input needs the zstandard package: pip install zstandard "
                              "(or pip install 'newbpe[zstd]')") from None
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return raw


def open_input(name, comp=None, track=None):
    """A buffered binary stream of the (decompressed) bytes of `name` (``-``: standard input, whose
    compression is read from its first bytes). Errors in compressed data are one-line NewbpeErrors.
    track: a list that receives the file's `tell` (bytes read from disk, for progress)."""
    if name == "-" or not os.path.isfile(name):         # stdin or a pipe (<(zcat ...)): sniff, read once
        stream = sys.stdin.buffer if name == "-" else open(name, "rb")
        head = stream.read(6)
        comp = _compression(head)
        raw = _Prefixed(head, stream)
    else:
        raw = open(name, "rb")
        if track is not None:
            track.append(raw.tell)
    return io.BufferedReader(_Guard(_decompressor(raw, comp), raw, name, comp), BLOCK)


def where(name):
    return "<stdin>" if name == "-" else name


# ------------------------------------------------------------------------------------------ records
def _field(obj, column, keys, at):
    """The str at `column` of a JSON record (a dotted path reaches into nested objects)."""
    if isinstance(obj, dict) and column in obj:
        value = obj[column]
    else:
        value = obj
        for k in keys:
            if not isinstance(value, dict) or k not in value:
                fields = f" (fields: {', '.join(map(str, list(obj)[:20]))})" if isinstance(obj, dict) else \
                    f" (the record is a {type(obj).__name__}, not an object)"
                raise NewbpeError(f"{at}: no field {column!r}{fields}")
            value = value[k]
    if not isinstance(value, str):
        raise NewbpeError(f"{at}: field {column!r} is {type(value).__name__}, not a string")
    return value


def _json_lines(name, stream, column):
    """The records of a JSON Lines input. Lines are parsed about a megabyte at a time as one JSON
    array (one C-level parse instead of a Python call per line: 2x faster on one-line records of
    Gutenberg); a batch that fails is parsed again line by line to name the bad line."""
    keys = column.split(".")
    decode = json.JSONDecoder().decode
    n = 0
    while True:
        lines = stream.readlines(1 << 20)
        if not lines:
            return
        numbered = [(n + i, line) for i, line in enumerate(lines, 1) if line.strip()]
        n += len(lines)
        try:
            objs = decode("[" + b",".join(line for _, line in numbered).decode("utf-8") + "]")
            if len(objs) != len(numbered):          # a line held two values ("1 2" is not JSON, "1,2" is)
                raise ValueError("batch")
        except ValueError:
            objs = []
            for k, line in numbered:
                try:
                    objs.append(decode(line.decode("utf-8")))
                except ValueError as e:              # UnicodeDecodeError included
                    raise NewbpeError(f"{where(name)}:{k}: not a line of JSON ({e})") from None
        for (k, _), obj in zip(numbered, objs):
            yield k, _field(obj, column, keys, f"{where(name)}:{k}")


def _json_array(name, stream, column):
    """The records of a JSON array, streamed (one record in memory at a time)."""
    keys = column.split(".")
    decoder = json.JSONDecoder()
    buf, pos, n, eof = "", 0, 0, False
    raw = io.TextIOWrapper(stream, encoding="utf-8", errors="strict")

    def more():
        nonlocal buf, pos, eof
        chunk = raw.read(BLOCK)
        buf, pos, eof = buf[pos:] + chunk, 0, not chunk

    def skip(chars):
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in chars:
                pos += 1
            if pos < len(buf) or eof:
                return
            more()
    try:
        more()
        skip(" \t\r\n")
        if buf[pos:pos + 1] != "[":
            raise NewbpeError(f"{where(name)}: not a JSON array of records")
        pos += 1
        while True:
            skip(" \t\r\n")
            if buf[pos:pos + 1] == "]":
                return
            if n and buf[pos:pos + 1] == ",":
                pos += 1
                skip(" \t\r\n")
            elif n:
                raise NewbpeError(f"{where(name)}: record {n + 1}: expected ',' or ']' in the JSON array")
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    if end == len(buf) and not eof:    # a number may go on in the next chunk
                        raise ValueError("partial")
                    break
                except ValueError as e:
                    if eof:
                        raise NewbpeError(f"{where(name)}: record {n + 1}: invalid JSON ({e})") from None
                    more()
            pos = end
            n += 1
            yield n, _field(obj, column, keys, f"{where(name)}: record {n}")
    except UnicodeDecodeError as e:
        raise NewbpeError(f"{where(name)}: not UTF-8 JSON ({e})") from None


def _parquet(name, stream, column, comp):
    import tempfile
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise NewbpeError("reading Parquet needs pyarrow: pip install pyarrow") from None
    with tempfile.TemporaryFile() as tmp:
        src = name
        if name == "-" or comp is not None:
            import shutil
            shutil.copyfileobj(stream, tmp, BLOCK)   # Parquet seeks: decompress to disk first
            tmp.seek(0)
            src = tmp
        try:
            pf = pq.ParquetFile(src)
        except Exception as e:  # noqa: BLE001 - pyarrow's errors for a file that is not Parquet
            raise NewbpeError(f"{where(name)}: not a readable Parquet file ({type(e).__name__}: {e})".replace("\n", " ")) from None
        keys = column.split(".")
        names = pf.schema_arrow.names
        top = column if column in names else keys[0]
        path = [] if top == column else keys[1:]
        if top not in names:
            raise NewbpeError(f"{where(name)}: Parquet file has no column {column!r} (columns: {', '.join(names)})")
        n = 0
        for batch in pf.iter_batches(batch_size=1024, columns=[top]):
            arr = batch.column(0)
            for k in path:
                if not pa.types.is_struct(arr.type) or arr.type.get_field_index(k) < 0:
                    raise NewbpeError(f"{where(name)}: Parquet file has no column {column!r}")
                arr = arr.field(k)
            if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
                raise NewbpeError(f"{where(name)}: column {column!r} is {arr.type}, not strings")
            for value in arr.to_pylist():
                n += 1
                if value is None:
                    raise NewbpeError(f"{where(name)}: row {n}: column {column!r} is null")
                yield n, value


def iter_records(name, fmt, stream, column="text", comp=None):
    """(number, str) of the records of a JSON, JSON Lines or Parquet input."""
    if fmt == "parquet":
        return _parquet(name, stream, column, comp)
    if fmt == "json":
        first = stream.peek(BLOCK).lstrip()[:1]
        if first == b"[":
            return _json_array(name, stream, column)
    return _json_lines(name, stream, column)


def _encode(text, at):
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as e:
        raise NewbpeError(f"{at}: text is not encodable as UTF-8 ({e.reason} at {e.start})") from None


# ------------------------------------------------------------------------------------------ pieces
def check_inputs(names):
    for name in names:
        if name != "-" and not os.path.exists(name):
            raise NewbpeError(f"input file not found: {name}")
        if os.path.isdir(name):
            raise NewbpeError(f"input is a directory, not a file: {name}")


def iter_pieces(name, split="line", rule=None, column="text", size=None, track=None):
    """(n, part bytes, end) of one input (module doc). Text is cut by `rule` (a cuts.CutRule) into
    parts of about `size` bytes at line ends (split="line") and safe points; records are split into
    their lines (split="line") and, with a rule, long ones cut at its safe points."""
    from .cuts import CutRule, iter_parts, split_text
    rule = rule or CutRule(False)
    comp, fmt = detect(name)
    with open_input(name, comp, track) as stream:
        if fmt == "text":
            n = 1
            for part, end in iter_parts(stream, rule, size, lines=split != "document"):
                yield n, part, 2 if end else 0
                n += end
            return
        for n, text in iter_records(name, fmt, stream, column, comp):
            data = _encode(text, f"{where(name)}:{n}")
            seqs = _lines(data) if split == "line" and b"\n" in data else [data]
            seqs = [s for s in seqs if s] or [b""]
            for i, seq in enumerate(seqs):
                parts = list(split_text(seq, rule, size)) if len(seq) > (size or BLOCK) else [seq]
                for j, part in enumerate(parts):
                    yield n, part, 0 if j < len(parts) - 1 else 2 if i == len(seqs) - 1 else 1


def _lines(data):
    """Lines ending after each b"\\n" only, as text files are read (bytes.splitlines also cuts at \\r)."""
    parts = data.split(b"\n")
    out = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def iter_blocks(name, split, rule, column="text", size=None, track=None):
    """(data bytes, piece end offsets) blocks of about `size` bytes of one input, for counting:
    every end is a sequence end or a safe point of `rule`, so the pieces of each stretch between
    ends (and, split="line", its lines) are those of the whole. Plain text is read in large reads
    (no per-line work); records are packed whole."""
    from .cuts import CutRule
    size = size or (2 << 20)
    rule = rule or CutRule(False)
    comp, fmt = detect(name)
    if fmt != "text":                        # whole records: the counters cut their lines themselves
        with open_input(name, comp, track) as stream:
            yield from pack_parts(_record_bytes(name, iter_records(name, fmt, stream, column, comp)), size)
        return
    with open_input(name, comp, track) as stream:
        buf = b""
        while True:
            chunk = stream.read(size)
            buf += chunk
            if not chunk:
                if buf:
                    yield buf, [len(buf)]
                return
            if len(buf) < size:
                continue
            lo = max(1, len(buf) - len(chunk) - rule.margin)
            cut = buf.rfind(b"\n", lo) + 1 if split == "line" else 0
            if cut <= 0:
                cut = rule.rfind(buf, lo, len(buf) - rule.margin + 1)
            if cut > 0:
                yield buf[:cut], [cut]
                buf = buf[cut:]


def pack(pieces, size):
    """Pieces (n, part, end) -> (data, ends) blocks of about `size` bytes."""
    return pack_parts((part for _, part, _ in pieces), size)


def pack_parts(parts_in, size):
    """Byte strings -> (data, ends) blocks of about `size` bytes, each string one stretch (empty
    ones skipped)."""
    parts, ends, total = [], [], 0
    for part in parts_in:
        if not part:
            continue
        parts.append(part)
        total += len(part)
        ends.append(total)
        if total >= size:
            yield b"".join(parts), ends
            parts, ends, total = [], [], 0
    if parts:
        yield b"".join(parts), ends


def _record_bytes(name, records):
    """The UTF-8 bytes of each (n, text) record (surrogateescape: bytes that were not UTF-8 in a
    byte-level source come back as they were)."""
    for n, text in records:
        try:
            yield text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            _encode(text, f"{where(name)}:{n}")         # raises the one-line error


# ------------------------------------------------------------------------------------------ sampling
_M = (1 << 64) - 1


def _mix(x):
    """splitmix64's finaliser: a fixed, platform-independent 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M
    return x ^ (x >> 31)


class Sampler:
    """Which documents to read: each with probability `sample` (a hash of (seed, document index):
    the same documents for any thread count or chunking), until `max_bytes` bytes of kept text are
    read (the document that reaches it is read to its end). Documents are numbered across all
    inputs in order, from 0. One Sampler per reading pass."""

    def __init__(self, max_bytes=None, sample=None, seed=0):
        from .checks import check
        self.max_bytes = check("max_bytes", max_bytes)
        self.sample = check("sample", sample)
        self.seed = check("sample_seed", seed)
        self._threshold = None if self.sample is None else int(self.sample * 2.0 ** 64)
        self._salt = _mix(self.seed)
        self.index = self.taken = 0
        self.done = False

    @property
    def active(self):
        return self.max_bytes is not None or self.sample is not None

    def keep(self, index):
        return self._threshold is None or _mix(self._salt ^ index) < self._threshold

    def filter(self, items):
        """Items whose last two fields are (part, end) (module doc), limited to the kept documents."""
        keep = None
        for item in items:
            if keep is None:
                if self.done:
                    return
                keep = self.keep(self.index)
                self.index += 1
            part, end = item[-2], item[-1]
            if keep:
                self.taken += len(part)
                yield item
            if end == 2:
                keep = None
                if self.max_bytes is not None and self.taken >= self.max_bytes:
                    self.done = True

    def texts(self, texts):
        """A stream of str documents (a dataset column, an iterable), limited to the kept ones."""
        for t in texts:
            if self.done:
                return
            index = self.index
            self.index += 1
            if self.keep(index):
                if isinstance(t, str):
                    self.taken += len(t.encode("utf-8", "surrogateescape")) if self.max_bytes else 0
                yield t
                if self.max_bytes is not None and self.taken >= self.max_bytes:
                    self.done = True


# ------------------------------------------------------------------------------------------ datasets
def load_dataset(name, split=None, config=None):
    """A `datasets` dataset by name or path: a directory written by `save_to_disk`, else
    `datasets.load_dataset(name, config, split=split)` (a local data directory or a cached or hub
    dataset). Without `split`, the only split, or "train"."""
    try:
        import datasets
    except ImportError:
        raise NewbpeError("--dataset needs the datasets package: pip install datasets") from None
    try:
        if os.path.isdir(name) and any(os.path.exists(os.path.join(name, f))
                                       for f in ("dataset_info.json", "dataset_dict.json", "state.json")):
            ds = datasets.load_from_disk(name)
        else:
            ds = datasets.load_dataset(name, config, split=split)
    except NewbpeError:
        raise
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds; one line names the problem
        raise NewbpeError(f"cannot load dataset {name!r}: {type(e).__name__}: {e}".splitlines()[0]) from None
    if isinstance(ds, dict) or hasattr(ds, "keys") and not hasattr(ds, "column_names") or \
            isinstance(getattr(ds, "column_names", None), dict):
        splits = list(ds.keys())
        if split is None:
            split = splits[0] if len(splits) == 1 else "train" if "train" in splits else None
        if split not in splits:
            raise NewbpeError(f"dataset {name!r} has splits {', '.join(splits)}: choose one with --dataset-split")
        ds = ds[split]
    return ds
