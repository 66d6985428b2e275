"""Code-point class table for the numba scanner, derived from the `regex` module itself.

Why derive instead of using `unicodedata`: the scanner must reproduce `regex.findall`
exactly, and `regex` ships its own Unicode database, which is usually newer than the one
compiled into Python. So every class the patterns mention is computed here by asking
`regex` which code points it matches: one string holding every non-surrogate code point is
scanned with `regex.finditer(CLASS + '+')`, and each matched run is marked in a flat table
indexed by code point. Building it takes a fraction of a second; the result is cached on disk (see `class_table`).

Table layout (`uint16`, length 0x110000):

* low byte: class bits (`L`, `N`, `S`, `U`, `W`, `CRLF`, `SLASH`), see the constants below;
* high byte: for code points that match one of the characters of the contraction
  alternatives case-insensitively (e.g. ``'``, ``s``, ``S``, ``ſ`` U+017F), the lowercase
  ASCII character they match, else 0. This lets the scanner match
  ``(?i:'s|'t|'re|'ve|'m|'ll|'d)`` with the same folding `regex` uses.

Surrogates U+D800..U+DFFF (which is where undecodable bytes land after `surrogateescape`)
get no bits: they are category Cs, i.e. not a letter, number, mark or whitespace.
"""

from __future__ import annotations

import numpy as np
import regex

#: Number of Unicode code points; the table is indexed by code point.
CODE_POINT_COUNT = 0x110000

# Class bits (low byte). The character classes of the three patterns are combinations:
#   [^\s\p{L}\p{N}]   ("other")   -> flags & (L | N | S) == 0
#   [^\r\n\p{L}\p{N}] ("prefix")  -> flags & (L | N | CRLF) == 0
FLAG_L = 1 << 0  # \p{L}
FLAG_N = 1 << 1  # \p{N}
FLAG_S = 1 << 2  # \s
FLAG_U = 1 << 3  # [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]  (o200k "upper-ish" run)
FLAG_W = 1 << 4  # [\p{Ll}\p{Lm}\p{Lo}\p{M}]         (o200k "lower-ish" run)
FLAG_CRLF = 1 << 5  # [\r\n]
FLAG_SLASH = 1 << 6  # /

#: Shift of the case-folded contraction character stored in the high byte.
FOLD_SHIFT = 8

# Each bit is defined by the very class text used in the patterns, so the table says
# exactly what `regex` would say about that class.
_CLASS_PATTERNS = (
    (FLAG_L, r"\p{L}"),
    (FLAG_N, r"\p{N}"),
    (FLAG_S, r"\s"),
    (FLAG_U, r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"),
    (FLAG_W, r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"),
    (FLAG_CRLF, r"[\r\n]"),
    (FLAG_SLASH, r"/"),
)

#: Characters occurring in the contraction alternatives ``'s|'t|'re|'ve|'m|'ll|'d``.
CONTRACTION_CHARS = "'strevmld"

_table_cache: np.ndarray | None = None


def _all_code_points() -> tuple[str, np.ndarray]:
    """Return (string of every non-surrogate code point, code point of each string index).

    Surrogates are left out because a Python string built from them cannot be encoded;
    they get no class bits anyway.
    """
    code_points = np.concatenate(
        [np.arange(0, 0xD800, dtype=np.uint32), np.arange(0xE000, CODE_POINT_COUNT, dtype=np.uint32)]
    )
    text = code_points.astype("<u4").tobytes().decode("utf-32-le")
    return text, code_points


def build_class_table() -> np.ndarray:
    """Build the uint16 class/fold table from the installed `regex` module (uncached)."""
    text, code_points = _all_code_points()
    table = np.zeros(CODE_POINT_COUNT, dtype=np.uint16)
    for bit, char_class in _CLASS_PATTERNS:
        for match in regex.finditer(char_class + "+", text):
            table[code_points[match.start() : match.end()]] |= bit
    for char in CONTRACTION_CHARS:
        folded = np.uint16(ord(char) << FOLD_SHIFT)
        for match in regex.finditer("(?i:" + regex.escape(char) + ")+", text):
            matched = code_points[match.start() : match.end()]
            if np.any(table[matched] >> FOLD_SHIFT):
                # Two contraction letters folding to one code point would make a single
                # fold byte ambiguous; `regex` has no such case today, so fail loudly.
                raise RuntimeError(f"code point folds to two contraction characters ({char!r})")
            table[matched] |= folded
    return table


def _cache_paths() -> list[str]:
    """Candidate files for the on-disk copy of the table, keyed by everything it depends on: the
    `regex` version (its Unicode database), the class definitions and the fold layout. Tried in
    order: NUMBA_CACHE_DIR (where the compiled kernels live when set), this package's
    ``__pycache__``, then the user cache directory."""
    import hashlib
    import os
    spec = repr((_CLASS_PATTERNS, CONTRACTION_CHARS, FOLD_SHIFT, CODE_POINT_COUNT)).encode()
    version = getattr(regex, "__version__", "unknown")
    name = f"newbpe-unicode-classes-{version}-{hashlib.sha1(spec).hexdigest()[:12]}.npy"
    dirs = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        dirs.append(os.environ["NUMBA_CACHE_DIR"])
    dirs.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__"))
    dirs.append(os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "newbpe"))
    return [os.path.join(d, name) for d in dirs]


def _load_cached() -> np.ndarray | None:
    for path in _cache_paths():
        try:
            table = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):       # missing, unreadable, truncated or foreign
            continue
        if table.dtype == np.uint16 and table.shape == (CODE_POINT_COUNT,):
            return table
    return None


def _store(table: np.ndarray) -> None:
    """Best effort: the first writable candidate gets an atomically written copy."""
    import os
    from ..io import atomic_write
    for path in _cache_paths():
        try:
            atomic_write(path, lambda f: np.save(f, table, allow_pickle=False), binary=True)
            os.chmod(path, 0o644)           # shared installs: other users may read it
            return
        except OSError:
            continue


def class_table() -> np.ndarray:
    """The class/fold table: built from `regex` on first use (~0.15 s), then kept for the process
    and on disk next to the compiled kernels, so later processes load it in about a millisecond."""
    global _table_cache
    if _table_cache is None:
        table = _load_cached()
        if table is None:
            table = build_class_table()
            _store(table)
        table.flags.writeable = False
        _table_cache = table
    return _table_cache
