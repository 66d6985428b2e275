"""Numba pre-tokenizer: split UTF-8 bytes exactly like ``regex.findall(PATTERN, text)``.

For each preset the result equals, byte for byte::

    text = data.decode("utf-8", "surrogateescape")
    pieces = regex.findall(PATTERNS[preset], text)
    # piece boundaries = cumulative len(piece.encode("utf-8", "surrogateescape"))

but it never builds a Python string: a hand-written matcher walks the bytes, decoding
UTF-8 on the fly. Why hand-written: the patterns are fixed, and each alternative's
backtracking collapses to a few forward scans once written out (see the per-preset
functions below), so a direct scanner is both exact and an order of magnitude faster
than the regex engine.

Decoding follows Python's strict UTF-8 decoder (no overlongs, no encoded surrogates, nothing
above U+10FFFF, no truncated sequences). A byte that does not start a valid sequence
becomes the single code point U+DC00+byte, which is what ``surrogateescape`` produces:
Python's error range only ever covers a start byte plus continuation bytes, and a
continuation byte can never start a valid sequence, so escaping one byte at a time and
retrying at the next byte gives the same code points.

Character classes come from `unicode_tables`, which derives them from the installed
`regex` module so that both agree on the Unicode version.

Performance notes (they explain the decorators):

* Every numba function that receives an array increments and decrements the array's
  reference count with atomic operations on entry and exit. For helpers called once per
  code point or per piece that bookkeeping cost more than the scan itself (measured: the
  full scan ran at ~25 MB/s with it). None of the scanning functions allocates, so they are
  compiled with numba's ``_nrt=False`` (no reference counting); the callers that own the
  arrays keep them alive.
* Numba does not inline one jitted function into another at the LLVM level, so the small
  per-code-point helpers are inlined at numba-IR level (``inline="always"``). The three
  per-preset matchers stay separate functions: inlining them too gained a little speed but
  tripled the compile time.
* Decoding handles ASCII inline and calls out only for multi-byte sequences.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import errors, types
from numba.extending import overload
from .._jit import njit, prange

from newbpe._threads import threads_limit
from newbpe.pretokenizers.presets import PATTERNS as _PRESET_PATTERNS
from newbpe.pretokenizers.unicode_tables import (
    FLAG_CRLF,
    FLAG_L,
    FLAG_N,
    FLAG_S,
    FLAG_SLASH,
    FLAG_U,
    FLAG_W,
    FOLD_SHIFT,
    class_table,
)

# superbpe_stage1 (SuperBPE's REGEX1, supertokens.md §2.1) is o200k without the contraction suffixes:
# the o200k matcher with `contractions` off. Counting Gutenberg 50 MB with it took 6.2 s through the
# regex module, 1.3 s with the scanner (o200k's time). superbpe_stage2 (REGEX2, §2.3) matches only
# digit groups, punctuation runs and space runs; the text between matches is a piece too (HF Split
# "Isolated"): `_scan_gaps`. Counting the same text took 4.1 s through the regex module.
PRESETS = ("gpt2", "cl100k", "o200k", "superbpe_stage1", "superbpe_stage2")
#: presets whose pieces also include the unmatched gaps between matches (PreTokenizer.split)
GAP_PRESETS = ("superbpe_stage2",)

#: The patterns the scanner reproduces: the package's presets (one table; tests pin the strings).
PATTERNS = {name: _PRESET_PATTERNS[name] for name in PRESETS}

from newbpe.pretokenizers.scan_utf8 import (  # noqa: F401  (_decode_all: re-exported for tests)
    _APOSTROPHE, _CLASS_BITS, _INLINED_KERNEL, _KERNEL, _SPACE, _SURROGATE_ESCAPE_BASE, _contraction_end, _decode,
    _decode_all, _decode_non_ascii, _skip_any, _skip_none, _skip_numbers_max3, _trailing_whitespace_piece,
    _whitespace_run)

_PRESET_CODES = {name: code for code, name in enumerate(PRESETS)}
_GPT2, _CL100K, _O200K, _SUPERBPE1, _SUPERBPE2 = 0, 1, 2, 3, 4

# Combined masks for the negated classes of the patterns.
_OTHER_EXCLUDED = FLAG_L | FLAG_N | FLAG_S  # [^\s\p{L}\p{N}]  matches when flags & this == 0
_PREFIX_EXCLUDED = FLAG_L | FLAG_N | FLAG_CRLF  # [^\r\n\p{L}\p{N}]


# --------------------------------------------------------------------------------------
# Presets: each returns the end of the piece starting at pos (pos < end)
# --------------------------------------------------------------------------------------


@njit(**_KERNEL)
def _piece_end_gpt2(data, pos, end, table):
    """``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``.

    The optional space only ever precedes a letter, number or "other" run, and the class of
    the following code point says which; none of the runs needs backtracking.
    """
    code_point, next_pos = _decode(data, pos, end)
    flags = table[code_point]
    if code_point == _APOSTROPHE:
        contraction_end = _contraction_end(data, pos, end, table, False)
        if contraction_end > pos:
            return contraction_end
    if code_point == _SPACE and next_pos < end:
        second, after_second = _decode(data, next_pos, end)
        second_flags = table[second]
        if second_flags & FLAG_L:
            return _skip_any(data, after_second, end, table, FLAG_L)
        if second_flags & FLAG_N:
            return _skip_any(data, after_second, end, table, FLAG_N)
        if (second_flags & _OTHER_EXCLUDED) == 0:
            return _skip_none(data, after_second, end, table, _OTHER_EXCLUDED)
    if flags & FLAG_L:
        return _skip_any(data, next_pos, end, table, FLAG_L)
    if flags & FLAG_N:
        return _skip_any(data, next_pos, end, table, FLAG_N)
    if (flags & _OTHER_EXCLUDED) == 0:
        return _skip_none(data, next_pos, end, table, _OTHER_EXCLUDED)
    run_end, last_start, _ = _whitespace_run(data, pos, end, table)
    return _trailing_whitespace_piece(pos, run_end, last_start, end)


@njit(**_KERNEL)
def _piece_end_cl100k(data, pos, end, table):
    """cl100k: contraction | prefix? letters | 1-3 numbers | ' '? others [\\r\\n]* | whitespace.

    ``[^\\r\\n\\p{L}\\p{N}]?\\p{L}+``: with the prefix taken the next code point must be a
    letter; without it the code point itself must be one (a prefix never is).
    """
    code_point, next_pos = _decode(data, pos, end)
    flags = table[code_point]
    if code_point == _APOSTROPHE:
        contraction_end = _contraction_end(data, pos, end, table, True)
        if contraction_end > pos:
            return contraction_end
    if (flags & _PREFIX_EXCLUDED) == 0 and next_pos < end:
        second, after_second = _decode(data, next_pos, end)
        if table[second] & FLAG_L:
            return _skip_any(data, after_second, end, table, FLAG_L)
    if flags & FLAG_L:
        return _skip_any(data, next_pos, end, table, FLAG_L)
    if flags & FLAG_N:
        return _skip_numbers_max3(data, next_pos, end, table)
    return _others_or_whitespace(data, pos, next_pos, end, table, code_point, flags, FLAG_CRLF)


@njit(**_KERNEL)
def _others_or_whitespace(data, pos, next_pos, end, table, code_point, flags, trailer_mask):
    """The common tail of cl100k and o200k:
    `` ?[^\\s\\p{L}\\p{N}]+[TRAILER]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+``.

    The "other" run is maximal and the trailer (``[\\r\\n]*`` or ``[\\r\\n/]*``) always
    succeeds, so no backtracking is needed there.
    """
    if code_point == _SPACE and next_pos < end:
        second, after_second = _decode(data, next_pos, end)
        if (table[second] & _OTHER_EXCLUDED) == 0:
            others_end = _skip_none(data, after_second, end, table, _OTHER_EXCLUDED)
            return _skip_any(data, others_end, end, table, trailer_mask)
    if (flags & _OTHER_EXCLUDED) == 0:
        others_end = _skip_none(data, next_pos, end, table, _OTHER_EXCLUDED)
        return _skip_any(data, others_end, end, table, trailer_mask)
    run_end, last_start, last_line_break_end = _whitespace_run(data, pos, end, table)
    if last_line_break_end >= 0:
        return last_line_break_end
    return _trailing_whitespace_piece(pos, run_end, last_start, end)


@njit(**_INLINED_KERNEL)
def _o200k_upper_then_lower(data, pos, end, table, contractions):
    """``[U]*[W]+(contraction)?`` at pos (U = Lu|Lt|Lm|Lo|M, W = Ll|Lm|Lo|M); -1 if no match.
    Without `contractions` (superbpe_stage1) there is no contraction suffix.

    U and W overlap (Lm, Lo, M), so the greedy ``[U]*`` may have to give code points back.
    It backtracks to the longest prefix after which a W code point follows: either the code
    point ending the U run is W (an Ll), and ``[W]+`` runs on from there, or else the last
    W code point inside the U run is the whole ``[W]+`` (the code point after it is Lu/Lt
    or ends the U run, neither of which is W).
    """
    last_w_in_run_end = -1
    while pos < end:
        code_point, next_pos = _decode(data, pos, end)
        flags = table[code_point]
        if (flags & FLAG_U) == 0:
            if flags & FLAG_W:
                lower_end = _skip_any(data, next_pos, end, table, FLAG_W)
                return _contraction_end(data, lower_end, end, table, True) if contractions else lower_end
            break
        if flags & FLAG_W:
            last_w_in_run_end = next_pos
        pos = next_pos
    if last_w_in_run_end < 0:
        return -1
    return _contraction_end(data, last_w_in_run_end, end, table, True) if contractions else last_w_in_run_end


@njit(**_INLINED_KERNEL)
def _o200k_upper_run(data, pos, end, table, contractions):
    """``[U]+[W]*(contraction)?`` at pos; -1 if no U code point is at pos."""
    upper_end = _skip_any(data, pos, end, table, FLAG_U)
    if upper_end == pos:
        return -1
    lower_end = _skip_any(data, upper_end, end, table, FLAG_W)
    return _contraction_end(data, lower_end, end, table, True) if contractions else lower_end


@njit(**_KERNEL)
def _piece_end_o200k(data, pos, end, table, contractions):
    """o200k (superbpe_stage1 without `contractions`): the two cased-word alternatives, then
    numbers, others and whitespace.

    Each word alternative is tried first with the optional ``[^\\r\\n\\p{L}\\p{N}]`` prefix,
    then without it, before moving to the next alternative, as the regex engine does.
    Marks (\\p{M}) are both a possible prefix and word code points, so both attempts matter.
    """
    code_point, next_pos = _decode(data, pos, end)
    flags = table[code_point]
    can_prefix = (flags & _PREFIX_EXCLUDED) == 0
    if can_prefix:
        piece_end = _o200k_upper_then_lower(data, next_pos, end, table, contractions)
        if piece_end >= 0:
            return piece_end
    if flags & (FLAG_U | FLAG_W):
        piece_end = _o200k_upper_then_lower(data, pos, end, table, contractions)
        if piece_end >= 0:
            return piece_end
    if can_prefix:
        piece_end = _o200k_upper_run(data, next_pos, end, table, contractions)
        if piece_end >= 0:
            return piece_end
    if flags & FLAG_U:
        piece_end = _o200k_upper_run(data, pos, end, table, contractions)
        if piece_end >= 0:
            return piece_end
    if flags & FLAG_N:
        return _skip_numbers_max3(data, next_pos, end, table)
    return _others_or_whitespace(data, pos, next_pos, end, table, code_point, flags, FLAG_CRLF | FLAG_SLASH)


@njit(**_KERNEL)
def _match_superbpe_stage2(data, pos, end, table):
    """End of the match of ``\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]{2,}[\\r\\n/]*| +(?!\\S)`` at pos, or -1.

    The "other" run is greedy and its trailer always succeeds, so the only backtracking is the
    optional space (a space is not "other", so without it the run fails at pos too) and the
    lookahead of the space run, which gives back the run's last space when a non-space follows.
    """
    code_point, next_pos = _decode(data, pos, end)
    flags = table[code_point]
    if flags & FLAG_N:
        return _skip_numbers_max3(data, next_pos, end, table)
    run_start = next_pos if code_point == _SPACE else pos
    run_end = _skip_none(data, run_start, end, table, _OTHER_EXCLUDED)
    if run_end > run_start:
        second_end = _decode(data, run_start, end)[1]
        if run_end > second_end:                         # at least two "other" code points
            return _skip_any(data, run_end, end, table, FLAG_CRLF | FLAG_SLASH)
    if code_point != _SPACE:
        return -1
    spaces_end = next_pos
    while spaces_end < end and data[spaces_end] == _SPACE:
        spaces_end += 1
    if spaces_end >= end or (table[_decode(data, spaces_end, end)[0]] & FLAG_S) != 0:
        return spaces_end
    return spaces_end - 1 if spaces_end - 1 > pos else -1


@njit(**_KERNEL)
def _scan_gaps(data, start, end, table, out, out_pos):
    """superbpe_stage2's pieces of data[start:end]: every match, and every run of code points where
    no match starts, as `regex` finds them (a match is tried at each code point in turn)."""
    pos = start
    gap = start
    while pos < end:
        match_end = _match_superbpe_stage2(data, pos, end, table)
        if match_end > pos:
            if gap < pos:
                out[out_pos] = pos
                out_pos += 1
            out[out_pos] = match_end
            out_pos += 1
            pos = match_end
            gap = pos
        else:
            pos = _decode(data, pos, end)[1]
    if gap < end:
        out[out_pos] = end
        out_pos += 1
    return out_pos


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------


# The preset is a compile-time constant: each entry kernel below passes its own preset code, which numba
# types as a literal; `_scan_document` and `_piece_end` resolve it while compiling, so a job compiles only
# the matcher of the preset it uses (the first run compiled all five before).
_LITERAL_KERNEL = dict(_KERNEL, keep_literals=True)


def _piece_end(data, pos, end, table, preset):
    """End of the piece starting at pos for the (literal) preset; resolved at compile time."""
    raise NotImplementedError


def _scan_document(data, start, end, table, preset, out, out_pos):
    """Write the end offset of every piece of data[start:end] to out[out_pos:]; return the
    new out_pos. Pieces are never empty, so a document of n bytes writes at most n ends."""
    raise NotImplementedError


def _literal_code(preset):
    if not isinstance(preset, types.IntegerLiteral):
        raise errors.TypingError("the scanner's preset must be a compile-time constant")
    return preset.literal_value


@overload(_piece_end, prefer_literal=True, inline="always")
def _piece_end_impl(data, pos, end, table, preset):
    code = _literal_code(preset)
    if code == _GPT2:
        return lambda data, pos, end, table, preset: _piece_end_gpt2(data, pos, end, table)
    if code == _CL100K:
        return lambda data, pos, end, table, preset: _piece_end_cl100k(data, pos, end, table)
    if code == _O200K:
        return lambda data, pos, end, table, preset: _piece_end_o200k(data, pos, end, table, True)
    if code == _SUPERBPE1:
        return lambda data, pos, end, table, preset: _piece_end_o200k(data, pos, end, table, False)
    raise errors.TypingError(f"preset code {code} has no piece matcher")


@overload(_scan_document, prefer_literal=True, inline="always")
def _scan_document_impl(data, start, end, table, preset, out, out_pos):
    if _literal_code(preset) == _SUPERBPE2:
        return lambda data, start, end, table, preset, out, out_pos: _scan_gaps(data, start, end, table, out, out_pos)
    return lambda data, start, end, table, preset, out, out_pos: _scan_pieces(data, start, end, table, preset, out,
                                                                              out_pos)


@njit(**_LITERAL_KERNEL)
def _scan_pieces(data, start, end, table, preset, out, out_pos):
    """`_scan_document` for the presets whose pieces are consecutive matches."""
    pos = start
    while pos < end:
        piece_end = _piece_end(data, pos, end, table, preset)
        if piece_end <= pos:  # unreachable for these patterns; never loop forever
            piece_end = _decode(data, pos, end)[1]
        out[out_pos] = piece_end
        out_pos += 1
        pos = piece_end
    return out_pos


@njit(**_LITERAL_KERNEL)
def _scan_documents(data, doc_offsets, first_doc, last_doc, table, preset, out, out_pos):
    """Write the piece ends of documents first_doc..last_doc-1, one after the other, to
    out[out_pos:]; return the new out_pos."""
    for doc in range(first_doc, last_doc):
        out_pos = _scan_document(data, doc_offsets[doc], doc_offsets[doc + 1], table, preset, out, out_pos)
    return out_pos


@njit(cache=True, parallel=True, keep_literals=True)
def _scan_chunks_parallel(data, doc_offsets, chunk_doc_starts, table, preset, out, chunk_counts):
    """Scan chunks of consecutive documents in parallel (chunk k is documents
    chunk_doc_starts[k]..chunk_doc_starts[k+1]-1).

    Each chunk writes its piece ends contiguously from out[1 + (its first byte - first
    byte of all)]: as pieces are never empty, a chunk of n bytes writes at most n ends, so
    the chunks never overlap, and the threads need no coordination. `_close_gaps` then
    moves the runs together."""
    base = doc_offsets[0]
    for chunk in prange(len(chunk_doc_starts) - 1):
        first_doc = chunk_doc_starts[chunk]
        slot = 1 + doc_offsets[first_doc] - base
        written = _scan_documents(
            data, doc_offsets, first_doc, chunk_doc_starts[chunk + 1], table, preset, out, slot
        )
        chunk_counts[chunk] = written - slot


# Entry kernels, one per preset and way (the preset literal is what selects the matcher).
@njit(**_KERNEL)
def _serial_gpt2(data, doc_offsets, first_doc, last_doc, table, out, out_pos):
    return _scan_documents(data, doc_offsets, first_doc, last_doc, table, _GPT2, out, out_pos)


@njit(**_KERNEL)
def _serial_cl100k(data, doc_offsets, first_doc, last_doc, table, out, out_pos):
    return _scan_documents(data, doc_offsets, first_doc, last_doc, table, _CL100K, out, out_pos)


@njit(**_KERNEL)
def _serial_o200k(data, doc_offsets, first_doc, last_doc, table, out, out_pos):
    return _scan_documents(data, doc_offsets, first_doc, last_doc, table, _O200K, out, out_pos)


@njit(**_KERNEL)
def _serial_superbpe1(data, doc_offsets, first_doc, last_doc, table, out, out_pos):
    return _scan_documents(data, doc_offsets, first_doc, last_doc, table, _SUPERBPE1, out, out_pos)


@njit(**_KERNEL)
def _serial_superbpe2(data, doc_offsets, first_doc, last_doc, table, out, out_pos):
    return _scan_documents(data, doc_offsets, first_doc, last_doc, table, _SUPERBPE2, out, out_pos)


@njit(cache=True)
def _parallel_gpt2(data, doc_offsets, chunk_doc_starts, table, out, chunk_counts):
    _scan_chunks_parallel(data, doc_offsets, chunk_doc_starts, table, _GPT2, out, chunk_counts)


@njit(cache=True)
def _parallel_cl100k(data, doc_offsets, chunk_doc_starts, table, out, chunk_counts):
    _scan_chunks_parallel(data, doc_offsets, chunk_doc_starts, table, _CL100K, out, chunk_counts)


@njit(cache=True)
def _parallel_o200k(data, doc_offsets, chunk_doc_starts, table, out, chunk_counts):
    _scan_chunks_parallel(data, doc_offsets, chunk_doc_starts, table, _O200K, out, chunk_counts)


@njit(cache=True)
def _parallel_superbpe1(data, doc_offsets, chunk_doc_starts, table, out, chunk_counts):
    _scan_chunks_parallel(data, doc_offsets, chunk_doc_starts, table, _SUPERBPE1, out, chunk_counts)


@njit(cache=True)
def _parallel_superbpe2(data, doc_offsets, chunk_doc_starts, table, out, chunk_counts):
    _scan_chunks_parallel(data, doc_offsets, chunk_doc_starts, table, _SUPERBPE2, out, chunk_counts)


_SERIAL = (_serial_gpt2, _serial_cl100k, _serial_o200k, _serial_superbpe1, _serial_superbpe2)
_PARALLEL = (_parallel_gpt2, _parallel_cl100k, _parallel_o200k, _parallel_superbpe1, _parallel_superbpe2)


@njit(**_KERNEL)
def _close_gaps(doc_offsets, chunk_doc_starts, chunk_counts, out):
    """Move each chunk's run of piece ends down to follow the previous chunk's; return the
    total number of boundaries. Destinations never pass their sources, so moving chunks in
    order, each front to back, overwrites nothing still needed."""
    base = doc_offsets[0]
    destination = 1
    for chunk in range(len(chunk_counts)):
        source = 1 + doc_offsets[chunk_doc_starts[chunk]] - base
        for k in range(chunk_counts[chunk]):
            out[destination + k] = out[source + k]
        destination += chunk_counts[chunk]
    return destination


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _preset_code(preset: str) -> int:
    try:
        return _PRESET_CODES[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; expected one of {PRESETS}") from None


def _read_only_view(array: np.ndarray) -> np.ndarray:
    """A read-only view of `array`.

    Numba compiles separately for writable and read-only arrays, and inputs come both ways
    (e.g. np.frombuffer on bytes is read-only). Passing every input read-only means the
    kernels are compiled, and cached, once."""
    view = array.view()
    view.flags.writeable = False
    return view


def _as_bytes_array(data) -> np.ndarray:
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = np.frombuffer(data, dtype=np.uint8)
    data = np.ascontiguousarray(data)
    if data.dtype != np.uint8 or data.ndim != 1:
        raise ValueError(f"data must be a 1-D uint8 array, got {data.dtype} with shape {data.shape}")
    return _read_only_view(data)


def _boundary_buffer(max_boundaries: int) -> np.ndarray:
    """An int64 buffer for the worst case of one piece per byte.

    Real text has a few bytes per piece, so most of it is never written; `_shrink` then
    gives the unused tail back without copying."""
    return np.empty(max_boundaries, dtype=np.int64)


def _shrink(buffer: np.ndarray, length: int) -> np.ndarray:
    """Truncate a buffer from `_boundary_buffer` in place (realloc, no copy of the data)."""
    buffer.resize(length, refcheck=False)
    return buffer


def split_bytes(data: np.ndarray, preset: str) -> np.ndarray:
    """Split UTF-8 bytes into pre-tokenizer pieces, exactly as ``regex.findall`` would.

    data: 1-D uint8 array (bytes-like objects are accepted too); invalid UTF-8 is allowed
    and treated as ``surrogateescape`` decoding does. Returns int64 array `bounds` of piece
    boundaries: bounds[0] == 0, bounds[-1] == len(data), strictly increasing; piece i is
    data[bounds[i]:bounds[i+1]].
    """
    code = _preset_code(preset)
    data = _as_bytes_array(data)
    out = _boundary_buffer(len(data) + 1)
    out[0] = 0
    doc_offsets = _read_only_view(np.array([0, len(data)], dtype=np.int64))
    count = _SERIAL[code](data, doc_offsets, 0, 1, class_table(), out, 1)
    return _shrink(out, count)


def _balanced_chunks(doc_offsets: np.ndarray, chunk_count: int) -> np.ndarray:
    """Split the documents into at most chunk_count runs of consecutive documents holding
    roughly equal numbers of bytes. Returns the first document of each run followed by
    the document count."""
    doc_count = len(doc_offsets) - 1
    byte_targets = np.linspace(doc_offsets[0], doc_offsets[-1], chunk_count + 1)[1:-1]
    cuts = np.searchsorted(doc_offsets[:-1], byte_targets, side="left")
    return np.unique(np.concatenate([[0], cuts, [doc_count]]).astype(np.int64))


def split_bytes_many(data, doc_offsets, preset: str, threads: int = 1) -> np.ndarray:
    """Split several independent documents concatenated in `data`.

    Document i is data[doc_offsets[i]:doc_offsets[i+1]] (doc_offsets non-decreasing and
    within data); no piece crosses a document boundary. Returns every piece boundary as an
    absolute offset: doc_offsets[0], then the end of every piece, so every document
    boundary is included and the result is strictly increasing (an empty document adds no
    boundary of its own). This equals the per-document `split_bytes` results, shifted and
    concatenated. threads > 1 scans chunks of documents in parallel with numba (capped at
    numba's thread count); the output is identical.
    """
    code = _preset_code(preset)
    data = _as_bytes_array(data)
    doc_offsets = _read_only_view(np.ascontiguousarray(doc_offsets, dtype=np.int64))
    if doc_offsets.ndim != 1 or len(doc_offsets) == 0:
        raise ValueError("doc_offsets must be a non-empty 1-D array")
    if doc_offsets[0] < 0 or doc_offsets[-1] > len(data) or np.any(np.diff(doc_offsets) < 0):
        raise ValueError("doc_offsets must be non-decreasing and within data")
    doc_count = len(doc_offsets) - 1
    total_bytes = int(doc_offsets[-1] - doc_offsets[0])
    table = class_table()
    threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
    out = _boundary_buffer(total_bytes + 1)
    out[0] = doc_offsets[0]
    if threads == 1 or doc_count < 2:
        count = _SERIAL[code](data, doc_offsets, 0, doc_count, table, out, 1)
        return _shrink(out, count)

    # Several chunks per thread so that documents of uneven size still balance out.
    chunk_doc_starts = _balanced_chunks(doc_offsets, threads * 8)
    chunk_counts = np.zeros(len(chunk_doc_starts) - 1, dtype=np.int64)
    with threads_limit(threads):
        _PARALLEL[code](data, doc_offsets, chunk_doc_starts, table, out, chunk_counts)
    count = _close_gaps(doc_offsets, chunk_doc_starts, chunk_counts, out)
    return _shrink(out, count)
