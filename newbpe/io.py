"""Readers newbpe shares (.npz and JSON files with one-line errors, streamed input lines) and the
names of the all-or-nothing writers, which live in `newbpe.atomic`."""
import json
import os

from .atomic import write_file as atomic_write, write_text as atomic_write_text  # noqa: F401 (the writers' names)

PROGRESS_BYTES = 1 << 20     # input bytes between two progress reports of iter_line_parts


def read_npz(path, names, fmt, max_version, what):
    """(meta, arrays) of an .npz newbpe wrote: a JSON `meta` array naming `fmt` and a version, plus
    the arrays `names`. Every problem is a one-line ModelFileError that names `what` and the path."""
    import numpy as np
    from .errors import ModelFileError
    if not os.path.isfile(path):
        raise ModelFileError(f"{what} not found: {path}")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":        # an .npz is a zip; np.load would guess at anything else
            raise ModelFileError(f"{path} is not a {what} (not an .npz file)")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            arrays = [z[n] for n in names]
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same one-line error
        raise ModelFileError(f"corrupt {what} {path}: {type(e).__name__}: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise ModelFileError(f"{path} is not a {what}")
    version = meta.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path}: malformed format version {str(version)[:20]!r}")
    if version > max_version:
        raise ModelFileError(f"{path} has format version {meta['version']}, newer than this newbpe reads "
                             f"({max_version}); upgrade newbpe")
    return meta, arrays


def read_json(path, what):
    """A JSON file newbpe reads (model, map): a missing, corrupt or non-UTF-8 file is a one-line
    ModelFileError naming `what` and the path."""
    from .errors import ModelFileError
    if not os.path.exists(path):
        raise ModelFileError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"corrupt {what} {path}: {e}") from None


def _check_input_files(files):
    from .sources import check_inputs
    check_inputs(files)


def iter_lines(files):
    """(name, line number, line bytes with its newline) of FILES ('-' is stdin), streamed: never a
    whole file in memory. Every file is checked before the first line is read."""
    import sys
    _check_input_files(files)
    for name in files:
        f = sys.stdin.buffer if name == "-" else open(name, "rb")
        try:
            for n, line in enumerate(f, 1):
                yield name, n, line
        finally:
            if f is not sys.stdin.buffer:
                f.close()


def read_documents(files, split="line", rule=None, column="text", sampler=None):
    """Documents of FILES (any format of `newbpe.sources`; '-' is stdin) as str, streamed: each line
    with its newline, or each whole non-empty file (split="document"); each record of a JSON or
    Parquet file (its lines with split="line"). Bytes that are not UTF-8 survive as surrogate
    escapes. With a cuts.CutRule, long lines and documents come in parts cut at its safe points
    (for readers to whom a document is just text, like counting words). sampler: a
    sources.Sampler choosing the documents."""
    if rule is not None:
        for _, _, part, _ in iter_line_parts(files, rule, split, column=column, sampler=sampler):
            yield part.decode("utf-8", "surrogateescape")
        return
    from .cuts import CutRule
    parts = []
    for _, _, part, end in iter_line_parts(files, CutRule(False), split, column=column, sampler=sampler):
        parts.append(part)
        if end:
            yield b"".join(parts).decode("utf-8", "surrogateescape")
            parts = []
    if parts:
        yield b"".join(parts).decode("utf-8", "surrogateescape")


def iter_line_parts(files, rule, split="line", size=None, column="text", sampler=None, progress=None,
                    stage="read"):
    """(name, line number, part bytes, end) of FILES (any format of `newbpe.sources`; '-' is
    stdin): each line (split="line", with its newline) or each whole non-empty file
    (split="document"), or each record of a JSON or Parquet file (its lines with split="line"), in
    parts cut at the safe points of `rule` (a cuts.CutRule: where the pre-tokenizer and the specials
    allow it), so a long line is never held whole unless it is one piece. end: this part ends its
    line or document. The line number is the record's (JSON Lines), or its index (JSON arrays,
    Parquet rows). Every file is checked before the first line is read.

    progress: a callback(stage, bytes read from disk, total bytes of the files) called about every
    PROGRESS_BYTES of input and at each file's end (total 0 when it is unknown: stdin); the
    position is the file's, so compressed and columnar inputs advance by their size on disk."""
    from .sources import check_inputs, iter_pieces
    check_inputs(files)
    if sampler is not None and not sampler.active:
        sampler = None
    total = sum(os.path.getsize(f) for f in files if f != "-" and os.path.isfile(f)) if progress else 0
    base = 0
    for name in files:
        if sampler is not None and sampler.done:
            return
        tell = [] if progress else None
        items = ((name, n, part, end) for n, part, end in iter_pieces(name, split, rule, column, size, track=tell))
        if sampler is not None:
            items = sampler.filter(items)
        pending, seen = 0, 0
        for name_, n, part, end in items:
            if progress:
                pending += len(part)
                if pending >= PROGRESS_BYTES:
                    seen += pending
                    pending = 0
                    progress(stage, base + (tell[0]() if tell and name != "-" else seen), total)
            yield name_, n, part, end > 0
        if progress and name != "-" and os.path.isfile(name):
            base += os.path.getsize(name)
            progress(stage, base, total)
