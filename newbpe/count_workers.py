"""What a counting worker does with its text: decode it in the table's units, cut it into
sequences, pre-tokenize and count (`count_sequences`), for a byte range of a file (`_count_chunk`)
or a block of streamed text (`_count_block`). These run in worker processes (and on Dask workers,
`cluster.py`), so they are plain functions of picklable arguments; where files are cut lives in
`counting.py` beside the WordCounts table they fill."""
from __future__ import annotations

import warnings
from collections import Counter

from .errors import NewbpeError
from .pretokenizers import PreTokenizer, split_specials


def decode_units(data: bytes, units: str):
    """bytes -> (str, had_invalid), as every reader of text decodes it (training and encoding).
    Byte mode: surrogateescape (every byte survives, had_invalid is False). Char mode: invalid UTF-8
    becomes U+FFFD; callers warn once with `warn_invalid_utf8`."""
    if units == "bytes":
        return data.decode("utf-8", "surrogateescape"), False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), True


def warn_invalid_utf8(stacklevel=2):
    """The one warning for char-unit input that was not valid UTF-8 (count/train and encode)."""
    warnings.warn("input is not valid UTF-8; char units decoded it with U+FFFD replacement",
                  stacklevel=stacklevel + 1)


def _encode(piece: str, units: str) -> bytes:
    return piece.encode("utf-8", "surrogateescape" if units == "bytes" else "strict")


def count_sequences(seqs, pretok: PreTokenizer, units: str, specials=(), transform=None):
    """Count the pieces of an iterable of str sequences (each first transformed outside special
    tokens by `transform`, if given). Returns a Counter {bytes: count}."""
    counter = Counter()
    split = pretok.split
    if transform is not None:
        from .pretokenizers import apply_outside_specials
        seqs = (apply_outside_specials(transform, seq, specials) for seq in seqs)
    for seq in seqs:
        if specials:
            for is_special, chunk in split_specials(seq, specials):
                if not is_special:
                    counter.update(split(chunk))
        else:
            counter.update(split(seq))
    return Counter({_encode(w, units): c for w, c in counter.items()})


def check_split(split):
    if split not in ("line", "document"):
        raise NewbpeError(f"split must be 'line' or 'document', not {str(split)[:40]!r}")
    return split


def _count_chunk(args):
    """Worker: count one chunk of a file (line or document mode)."""
    path, start, end, pretok_dict, units, split, specials, transform = args
    pretok = PreTokenizer.from_dict(pretok_dict)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    text, bad = decode_units(data, units)
    if split == "line":
        seqs = _split_lines(text)
    else:
        seqs = [text]
    return count_sequences(seqs, pretok, units, specials, transform), bad


def _decode_block(raw, ends):
    """Char units: (raw, ends, had_invalid) with invalid UTF-8 replaced by U+FFFD in each stretch
    between ends on its own (so the ends move with the replacements)."""
    try:
        raw.decode("utf-8")
        return raw, ends, False
    except UnicodeDecodeError:
        pass
    parts, new_ends, total, start = [], [], 0, 0
    for end in ends:
        part = raw[start:end].decode("utf-8", "replace").encode("utf-8")
        parts.append(part)
        total += len(part)
        new_ends.append(total)
        start = end
    return b"".join(parts), new_ends, True


def _count_block(args):
    """Worker: count one text block of a streamed input (sources.iter_blocks)."""
    raw, ends, pretok_dict, units, split, specials, transform = args
    pretok = PreTokenizer.from_dict(pretok_dict)
    seqs, bad, start = [], False, 0
    for end in ends:
        text, b = decode_units(raw[start:end], units)
        bad |= b
        seqs.extend(_split_lines(text) if split == "line" else [text])
        start = end
    return count_sequences(seqs, pretok, units, specials, transform), bad


def _split_lines(text):
    """Split after every '\\n' only (str.splitlines also splits on \\r, \\x0b, … which HF does not)."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out
