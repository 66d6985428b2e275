"""The scanner's building blocks (scanner.py): UTF-8 decoding that matches Python's strict decoder with
``surrogateescape`` (an invalid byte becomes U+DC00+byte), and the small per-code-point matchers the
preset matchers share (runs of a class, digit groups, whitespace runs, contractions). They are
inlined at numba-IR level into the matchers (``inline="always"``) and compiled without reference
counting (``_nrt=False``): scanner.py's module doc has the measurements behind both."""
import numpy as np

from .._jit import njit
from newbpe.pretokenizers.unicode_tables import FLAG_N, FLAG_S, FOLD_SHIFT

#: numba options of the scanning functions (see scanner.py's performance notes).
_KERNEL = {"cache": True, "_nrt": False}
_INLINED_KERNEL = {"cache": True, "_nrt": False, "inline": "always"}

_SPACE = 0x20
_APOSTROPHE = 0x27
_SURROGATE_ESCAPE_BASE = 0xDC00
_CLASS_BITS = 0xFF

# --------------------------------------------------------------------------------------
# UTF-8 decoding
# --------------------------------------------------------------------------------------


@njit(**_INLINED_KERNEL)
def _decode(data, pos, end):
    """Decode the code point starting at data[pos] (pos < end): (code point, position after it).

    ASCII is handled right here, inlined into every caller, because a call per byte is
    what would dominate the scan of mostly-ASCII text.
    """
    first_byte = data[pos]
    if first_byte < 0x80:
        return np.int64(first_byte), pos + 1
    return _decode_non_ascii(data, pos, end)


@njit(**_KERNEL)
def _decode_non_ascii(data, pos, end):
    """Decode the sequence whose lead byte data[pos] is >= 0x80.

    Invalid or truncated sequences yield the surrogate escape of the single byte at pos,
    exactly like Python's strict decoder with ``surrogateescape``.
    """
    b0 = np.int64(data[pos])
    escaped = _SURROGATE_ESCAPE_BASE + b0
    if b0 < 0xC2:  # continuation byte or overlong 2-byte lead (C0, C1)
        return escaped, pos + 1
    if b0 < 0xE0:
        if pos + 1 < end:
            b1 = np.int64(data[pos + 1])
            if (b1 & 0xC0) == 0x80:
                return ((b0 & 0x1F) << 6) | (b1 & 0x3F), pos + 2
        return escaped, pos + 1
    if b0 < 0xF0:
        if pos + 2 < end:
            b1 = np.int64(data[pos + 1])
            b2 = np.int64(data[pos + 2])
            low, high = 0x80, 0xBF
            if b0 == 0xE0:  # overlong below U+0800
                low = 0xA0
            elif b0 == 0xED:  # UTF-16 surrogates U+D800..U+DFFF
                high = 0x9F
            if low <= b1 <= high and (b2 & 0xC0) == 0x80:
                return ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F), pos + 3
        return escaped, pos + 1
    if b0 < 0xF5:
        if pos + 3 < end:
            b1 = np.int64(data[pos + 1])
            b2 = np.int64(data[pos + 2])
            b3 = np.int64(data[pos + 3])
            low, high = 0x80, 0xBF
            if b0 == 0xF0:  # overlong below U+10000
                low = 0x90
            elif b0 == 0xF4:  # above U+10FFFF
                high = 0x8F
            if low <= b1 <= high and (b2 & 0xC0) == 0x80 and (b3 & 0xC0) == 0x80:
                code_point = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
                return code_point, pos + 4
        return escaped, pos + 1
    return escaped, pos + 1  # F5..FF never start a sequence


@njit(cache=True)
def _decode_all(data, start, end):
    """Decode data[start:end] into (code points, start offset of each); used by tests."""
    code_points = np.empty(end - start, np.int64)
    offsets = np.empty(end - start, np.int64)
    count = 0
    pos = start
    while pos < end:
        code_point, next_pos = _decode(data, pos, end)
        code_points[count] = code_point
        offsets[count] = pos
        count += 1
        pos = next_pos
    return code_points[:count].copy(), offsets[:count].copy()


# --------------------------------------------------------------------------------------
# Building blocks shared by the presets
# --------------------------------------------------------------------------------------


@njit(**_INLINED_KERNEL)
def _skip_any(data, pos, end, table, mask):
    """End of the longest run from pos of code points having any bit of `mask`."""
    while pos < end:
        code_point, next_pos = _decode(data, pos, end)
        if (table[code_point] & mask) == 0:
            break
        pos = next_pos
    return pos


@njit(**_INLINED_KERNEL)
def _skip_none(data, pos, end, table, mask):
    """End of the longest run from pos of code points having no bit of `mask`."""
    while pos < end:
        code_point, next_pos = _decode(data, pos, end)
        if (table[code_point] & mask) != 0:
            break
        pos = next_pos
    return pos


@njit(**_INLINED_KERNEL)
def _skip_numbers_max3(data, pos, end, table):
    """``\\p{N}{1,3}`` given that the code point ending at pos was already a number."""
    for _ in range(2):
        if pos >= end:
            break
        code_point, next_pos = _decode(data, pos, end)
        if (table[code_point] & FLAG_N) == 0:
            break
        pos = next_pos
    return pos


@njit(**_INLINED_KERNEL)
def _whitespace_run(data, pos, end, table):
    """Scan the whitespace run starting at pos (data[pos] is whitespace).

    Returns (run end, start of the run's last code point, end of the run's last \\r or \\n
    or -1). These three numbers decide every whitespace alternative:

    * ``\\s*[\\r\\n]+`` greedily takes the run, then backtracks to the last \\r/\\n, so it
      matches up to and including the last line break, if there is one;
    * ``\\s+(?!\\S)`` matches the whole run at end of input, else the run minus its last
      code point (which is left to prefix the following word), if that is non-empty;
    * ``\\s+`` matches the whole run.
    """
    last_start = pos
    last_line_break_end = -1
    while pos < end:
        code_point, next_pos = _decode(data, pos, end)
        if (table[code_point] & FLAG_S) == 0:
            break
        if code_point == 0x0A or code_point == 0x0D:
            last_line_break_end = next_pos
        last_start = pos
        pos = next_pos
    return pos, last_start, last_line_break_end


@njit(**_INLINED_KERNEL)
def _trailing_whitespace_piece(start, run_end, last_start, end):
    """``\\s+(?!\\S)|\\s+`` for a whitespace run [start, run_end)."""
    if run_end == end:
        return run_end
    if last_start > start:
        return last_start
    return run_end


@njit(**_INLINED_KERNEL)
def _contraction_end(data, pos, end, table, case_insensitive):
    """Match ``'s|'t|'re|'ve|'m|'ll|'d`` at pos; return its end, or pos if none matches.

    Case-insensitive matching uses the fold byte of the table, so it accepts exactly the
    characters `regex` folds to these letters (e.g. U+017F LATIN SMALL LETTER LONG S).
    """
    if pos + 1 >= end or data[pos] != _APOSTROPHE:
        return pos
    code_point, after_first = _decode(data, pos + 1, end)
    if case_insensitive:
        first = table[code_point] >> FOLD_SHIFT
    else:
        first = code_point
    if first == 0x73 or first == 0x74 or first == 0x6D or first == 0x64:  # s t m d
        return after_first
    if first == 0x72 or first == 0x76:  # r v -> need e
        wanted = 0x65
    elif first == 0x6C:  # l -> need l
        wanted = 0x6C
    else:
        return pos
    if after_first >= end:
        return pos
    code_point, after_second = _decode(data, after_first, end)
    if case_insensitive:
        second = table[code_point] >> FOLD_SHIFT
    else:
        second = code_point
    if second == wanted:
        return after_second
    return pos
