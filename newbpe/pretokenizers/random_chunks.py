"""The TokenAdapt random chunker: training documents cut into random 4-23-character chunks, each a
pre-token (specs `supertokens.md` §3.1), with the reference's repeat-run removal (§3.2).

Chunk lengths (§3.1). For a document of L characters (code points of the Python str; invalid UTF-8
read with surrogateescape counts one character per byte), repeatedly, with r the remaining length:

1. r below the smallest bin minimum (4 by default): the remainder is one chunk; stop (r = 0: stop);
2. choose a bin (lo, hi) by its probability (`DEFAULT_CHUNK_BINS`: the reference's `train.yaml`
   weights, normalized, see below);
3. the chunk length is uniform in [min(lo, r), min(hi, r)].

Cuts ignore whitespace and word boundaries. The reference joins the chunks with a separator string
that its pre-tokenizer removes; here the chunks are the pieces themselves (no separator).

Randomness (`stochastok.md` §6): document d draws from the xoshiro256** stream of
`rng.document_seeds(seed, d)` alone (``seed_by="index"``), or of its content hash
(``seed_by="content"``: identical documents are chunked alike and the chunks do not depend on
document order or file layout). So the pieces depend only on (seed, document index or content,
document): not on the thread count, batch size or shard order. A bin is chosen by comparing the top
53 bits of one draw with integer cumulative thresholds (exact, no float rounding at run time).

Repeat runs (§3.2, ``remove_repeats=n``): the reference's pre-tokenizer also removes the regex
``(.)\\1{n-1}`` (HF Split, behavior "removed") from the separator-joined chunks, so removal happens
**after chunking, inside each chunk**: a run of k identical characters loses its first
⌊k/n⌋·n characters (keeps k mod n), ``.`` does not match a newline (newline runs stay), and a removed
run cuts its chunk into two pieces (Split "removed" leaves the text on either side as separate
pieces). Special-token strings in training text are removed the same way (they cut the chunk).

Everything per character runs in numba, one document per task (`prange`); Python only joins a
batch of documents and encodes it as UTF-32 once.
"""
import math

import numpy as np

from .._jit import njit, prange
from ..errors import NewbpeError
from ..rng import below, next_u64, seed_state

# (lo, hi, weight) in characters: the reference's `train.yaml` `test_distribution` (a discretized
# Gaussian). Its weights sum to 1.1, not 1: the reference's own check (`helper.parse_distribution`,
# sum within 1e-9 of 1) rejects them, and `random.choices`, which draws the bin, would use them
# divided by their sum. The default is that: each weight / 1.1 (e.g. 12-13 characters: 0.185 / 1.1).
REFERENCE_CHUNK_WEIGHTS = ((4, 5, 0.044), (6, 7, 0.091), (8, 9, 0.146), (10, 11, 0.171), (12, 13, 0.185),
                           (14, 15, 0.171), (16, 17, 0.146), (18, 19, 0.091), (20, 21, 0.044), (22, 23, 0.011))
_REFERENCE_TOTAL = math.fsum(w for _, _, w in REFERENCE_CHUNK_WEIGHTS)
DEFAULT_CHUNK_BINS = tuple((lo, hi, w / _REFERENCE_TOTAL) for lo, hi, w in REFERENCE_CHUNK_WEIGHTS)
SEED_BY = ("index", "content")
_TOP53 = 1 << 53
_MAX_LEN = (1 << 31) - 1


def check_chunk_bins(bins):
    """`bins` as (lo int64 array, hi int64 array, cumulative uint64 thresholds over 2**53), or a
    one-line NewbpeError: a non-empty list of [lo, hi, probability] with 1 <= lo <= hi, no two bins
    overlapping, probabilities >= 0 summing to 1 (within 1e-9)."""
    if bins is None:
        bins = DEFAULT_CHUNK_BINS
    try:
        rows = [tuple(b) for b in bins]
    except TypeError:
        raise NewbpeError(f"chunk_bins must be a list of [lo, hi, probability], got {str(bins)[:60]}") from None
    if not rows:
        raise NewbpeError("chunk_bins is empty: give at least one [lo, hi, probability]")
    for row in rows:
        if len(row) != 3:
            raise NewbpeError(f"chunk_bins: each bin is [lo, hi, probability], got {list(row)!r}"[:120])
        lo, hi, p = row
        if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (lo, hi)):
            raise NewbpeError(f"chunk_bins: lo and hi must be integers, got {list(row)!r}"[:120])
        if not 1 <= lo <= hi <= _MAX_LEN:
            raise NewbpeError(f"chunk_bins: a bin needs 1 <= lo <= hi, got [{lo}, {hi}]")
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) \
                or not math.isfinite(p) or p < 0:
            raise NewbpeError(f"chunk_bins: probability must be a number >= 0, got {p!r} in [{lo}, {hi}, ...]")
    total = math.fsum(float(r[2]) for r in rows)
    if abs(total - 1.0) > 1e-9:
        raise NewbpeError(f"chunk_bins: probabilities sum to {total!r}, not 1")
    ordered = sorted(rows)
    for (lo_a, hi_a, _), (lo_b, hi_b, _) in zip(ordered, ordered[1:]):
        if lo_b <= hi_a:
            raise NewbpeError(f"chunk_bins: bins [{lo_a}, {hi_a}] and [{lo_b}, {hi_b}] overlap")
    lo = np.array([r[0] for r in rows], np.int64)
    hi = np.array([r[1] for r in rows], np.int64)
    cum = np.array([round(math.fsum(float(r[2]) for r in rows[:i + 1]) / total * _TOP53) for i in range(len(rows))],
                   np.uint64)
    cum[-1] = _TOP53
    return lo, hi, cum


def check_remove_repeats(n):
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise NewbpeError(f"remove_repeats must be an integer >= 2 (or None: keep repeats), got {n!r}")
    return int(n)


# ---------------------------------------------------------------------------------------- kernels
@njit(cache=True, inline="always")
def _utf8_put(cp, out, pos):
    """Write code point `cp` as UTF-8 (U+DC80..U+DCFF: the escaped byte) at out[pos]; returns the
    new position, or -1 for a surrogate that has no bytes."""
    if cp < 0x80:
        out[pos] = cp
        return pos + 1
    if 0xDC80 <= cp <= 0xDCFF:
        out[pos] = cp - 0xDC00
        return pos + 1
    if 0xD800 <= cp <= 0xDFFF:
        return -1
    if cp < 0x800:
        out[pos] = 0xC0 | (cp >> 6)
        out[pos + 1] = 0x80 | (cp & 0x3F)
        return pos + 2
    if cp < 0x10000:
        out[pos] = 0xE0 | (cp >> 12)
        out[pos + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[pos + 2] = 0x80 | (cp & 0x3F)
        return pos + 3
    out[pos] = 0xF0 | (cp >> 18)
    out[pos + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[pos + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[pos + 3] = 0x80 | (cp & 0x3F)
    return pos + 4


@njit(cache=True, parallel=True)
def content_hashes(cps, doc_off):
    """A 63-bit FNV-1a hash of every document's code points (the `seed_by="content"` index)."""
    n = len(doc_off) - 1
    out = np.empty(n, np.int64)
    for d in prange(n):
        h = np.uint64(0xCBF29CE484222325)
        for i in range(doc_off[d], doc_off[d + 1]):
            h = (h ^ np.uint64(cps[i])) * np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
        out[d] = np.int64(h >> np.uint64(1))
    return out


@njit(cache=True)
def _chunk_doc(cps, start, end, seed, lo, hi, cum, min_lo, ends, s):
    """Chunk ends (absolute code-point offsets) of cps[start:end] into ends[start:]; returns their count."""
    seed_state(seed, s)
    pos = start
    k = 0
    while pos < end:
        r = end - pos
        if r < min_lo:
            length = r
        else:
            u = next_u64(s) >> np.uint64(11)
            b = 0
            while u >= cum[b]:
                b += 1
            a = min(lo[b], r)
            z = min(hi[b], r)
            length = a + below(s, z - a + 1)
        pos += length
        ends[start + k] = pos
        k += 1
    return k


@njit(cache=True)
def _emit_doc(cps, start, n_chunks, ends, deleted, repeats, out, piece_ends, obase, pbase):
    """UTF-8 bytes of one document's chunks into out[obase:], piece ends (absolute byte offsets)
    into piece_ends[pbase:]: repeat runs and deleted code points are dropped and cut the piece.
    Returns (bytes written, pieces), or (-1 - index of a bad code point, 0)."""
    pos = obase
    n_pieces = 0
    piece_start = obase
    a = start
    has_deleted = len(deleted) > 0
    for c in range(n_chunks):
        b = ends[start + c]
        i = a
        while i < b:
            if has_deleted and deleted[i]:
                if pos > piece_start:
                    piece_ends[pbase + n_pieces] = pos
                    n_pieces += 1
                    piece_start = pos
                i += 1
                continue
            cp = cps[i]
            j = i + 1
            if repeats > 0 and cp != 10:
                while j < b and cps[j] == cp and not (has_deleted and deleted[j]):
                    j += 1
                drop = ((j - i) // repeats) * repeats
                if drop > 0:
                    if pos > piece_start:
                        piece_ends[pbase + n_pieces] = pos
                        n_pieces += 1
                        piece_start = pos
                    i += drop
            while i < j:
                pos = _utf8_put(cps[i], out, pos)
                if pos < 0:
                    return -1 - i, 0
                i += 1
        if pos > piece_start:
            piece_ends[pbase + n_pieces] = pos
            n_pieces += 1
            piece_start = pos
        a = b
    return pos - obase, n_pieces


@njit(cache=True, parallel=True)
def _chunk_batch(cps, doc_off, seeds, lo, hi, cum, deleted, repeats, ends, n_chunks, out, piece_ends,
                 n_bytes, n_pieces):
    """Chunk and emit every document of a batch (document d writes only its own regions: code points
    doc_off[d].. of `ends` and `piece_ends`, bytes 4 * doc_off[d].. of `out`)."""
    n_docs = len(doc_off) - 1
    min_lo = lo.min()
    for d in prange(n_docs):
        s = np.empty(4, np.uint64)
        start = doc_off[d]
        k = _chunk_doc(cps, start, doc_off[d + 1], seeds[d], lo, hi, cum, min_lo, ends, s)
        n_chunks[d] = k
        nb, np_ = _emit_doc(cps, start, k, ends, deleted, repeats, out, piece_ends, 4 * start, start)
        n_bytes[d] = nb
        n_pieces[d] = np_


@njit(cache=True)
def _compact(out, piece_ends, doc_off, n_bytes, n_pieces, data, bounds):
    """Concatenate the documents' regions: data (bytes) and bounds (piece boundaries from 0)."""
    pos = 0
    k = 0
    bounds[0] = 0
    for d in range(len(doc_off) - 1):
        src = 4 * doc_off[d]
        for t in range(n_bytes[d]):
            data[pos + t] = out[src + t]
        for t in range(n_pieces[d]):
            bounds[k + 1] = piece_ends[doc_off[d] + t] - src + pos
            k += 1
        pos += n_bytes[d]


# ---------------------------------------------------------------------------------------- drivers
def _code_points(texts):
    """(code points uint32, document offsets int64) of a list of str (lone surrogates kept)."""
    lens = np.fromiter((len(t) for t in texts), np.int64, len(texts))
    doc_off = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lens, out=doc_off[1:])
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    return cps, doc_off


def _seeds(seed, indices, cps, doc_off, seed_by):
    from ..rng import document_seeds
    if seed_by == "content":
        indices = content_hashes(cps, doc_off)
    return document_seeds(seed, indices)


def _deleted_mask(texts, doc_off, specials):
    """uint8 mask of the code points inside special-token occurrences (empty: none)."""
    if not specials or not any(sp in t for t in texts for sp in specials):
        return np.zeros(0, np.uint8)
    from . import split_specials
    mask = np.zeros(int(doc_off[-1]), np.uint8)
    for d, t in enumerate(texts):
        if any(sp in t for sp in specials):
            pos = int(doc_off[d])
            for is_special, part in split_specials(t, list(specials)):
                if is_special:
                    mask[pos:pos + len(part)] = 1
                pos += len(part)
    return mask


def chunk_batch(texts, seed, indices, bins, *, remove_repeats=None, specials=(), seed_by="index"):
    """Training pieces of a batch of documents (str): (data uint8, bounds int64, chunks per document).
    Document i is seeded from (seed, indices[i]) (or its content, seed_by="content"); `bins` is the
    output of `check_chunk_bins`. Piece j is data[bounds[j]:bounds[j+1]] (UTF-8, surrogateescape)."""
    lo, hi, cum = bins
    cps, doc_off = _code_points(texts)
    seeds = _seeds(seed, indices, cps, doc_off, seed_by)
    deleted = _deleted_mask(texts, doc_off, specials)
    n_docs, n_cp = len(texts), len(cps)
    ends = np.empty(n_cp, np.int64)
    piece_ends = np.empty(n_cp, np.int64)
    out = np.empty(4 * n_cp, np.uint8)
    n_chunks, n_bytes, n_pieces = (np.zeros(n_docs, np.int64) for _ in range(3))
    _chunk_batch(cps, doc_off, seeds, lo, hi, cum, deleted, remove_repeats or 0, ends, n_chunks, out,
                 piece_ends, n_bytes, n_pieces)
    bad = np.flatnonzero(n_bytes < 0)
    if len(bad):
        from ..checks import text_error
        i = -1 - int(n_bytes[bad[0]])
        raise text_error(UnicodeEncodeError("utf-8", chr(int(cps[i])), 0, 1, "surrogates not allowed"))
    data = np.empty(int(n_bytes.sum()), np.uint8)
    bounds = np.empty(int(n_pieces.sum()) + 1, np.int64)
    _compact(out, piece_ends, doc_off, n_bytes, n_pieces, data, bounds)
    return data, bounds, n_chunks


def random_chunks(texts, seed=0, *, indices=None, chunk_bins=None, seed_by="index"):
    """The chunks (str) of every document, as lists: no repeat removal, so each document is the
    concatenation of its chunks (for inspection and tests; training uses `chunk_batch`)."""
    texts = list(texts)
    if seed_by not in SEED_BY:
        raise NewbpeError(f"seed_by must be one of {', '.join(SEED_BY)}, got {seed_by!r}")
    bins = check_chunk_bins(chunk_bins)
    indices = np.arange(len(texts)) if indices is None else np.asarray(indices, np.int64)
    lo, hi, cum = bins
    cps, doc_off = _code_points(texts)
    seeds = _seeds(seed, indices, cps, doc_off, seed_by)
    ends = np.empty(len(cps), np.int64)
    s = np.empty(4, np.uint64)
    out = []
    for d, t in enumerate(texts):
        start = int(doc_off[d])
        k = _chunk_doc(cps, start, int(doc_off[d + 1]), seeds[d], lo, hi, cum, lo.min(), ends, s)
        cuts = [0] + [int(e) - start for e in ends[start:start + k]]
        out.append([t[a:b] for a, b in zip(cuts, cuts[1:])])
    return out
