"""Pre-token boundaries, continuation flags and spans (specs bytespan.md §4, §5.2-§5.4, §6 counting).

All arrays are aligned with the concatenated document bytes `data` (documents at `doc_off`):
`boundary[i]` = 1 on the first byte of every pre-token (and of every document), `sig[i]` the byte's
signal. A span is an inclusive byte range [s, e]; its token is (flag = boundary[s], data[s..e]).
"""
import numpy as np

from ..._jit import njit

MONOTONIC, COMBINED = 0, 1
SPACE = 0x20


def boundaries(data, doc_off, pretokenizer, threads=1):
    """uint8 flags: 1 on the first byte of every pre-token of every document (§4), with any preset."""
    from ...pretokenizers import PreTokenizer
    pretok = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer(pretokenizer)
    segments = None
    if pretok.scanner is None and pretok.name != "none":
        raw = data.tobytes()
        segments = [raw[doc_off[i]:doc_off[i + 1]].decode("utf-8", "surrogateescape")
                    for i in range(len(doc_off) - 1)]
    offsets = pretok.piece_offsets(data, doc_off, segments, threads)
    flags = np.zeros(len(data) + 1, dtype=np.uint8)
    flags[offsets] = 1
    flags[doc_off] = 1
    return flags[:len(data)]


def threshold(sig, percentile):
    """θ of the combined constraint (§5.3): the percentile of all signals after dropping 0, ±inf and
    NaN (numpy's linear interpolation); +inf-free fallback 0 when nothing is left."""
    keep = sig[np.isfinite(sig) & (sig != 0)]
    return float(np.percentile(keep, percentile)) if len(keep) else 0.0


@njit(cache=True)
def detect_spans(data, doc_off, sig, boundary, mode, theta):
    """Spans of every document (§5.2-§5.4): c_0 = False; c_i = s_i < s_{i-1} (monotonic), or also
    s_i < θ (combined); each maximal run [r, e] of continuation bytes gives the raw span [r - 1, e]
    (a run reaching the document end included); then absorb a preceding space (not into the span
    emitted before), drop a final boundary byte, drop spans under 2 bytes and split at inner
    boundaries. Returns (starts, ends), inclusive, in corpus order."""
    n = data.shape[0]
    starts = np.empty(n // 2 + 1, np.int64)
    ends = np.empty(n // 2 + 1, np.int64)
    k = 0
    for d in range(doc_off.shape[0] - 1):
        a = doc_off[d]
        b = doc_off[d + 1]
        last = a - 1                         # end of the span emitted last in this document
        i = a + 1
        while i < b:
            if not _cont(sig, i, mode, theta):
                i += 1
                continue
            r = i
            while i + 1 < b and _cont(sig, i + 1, mode, theta):
                i += 1
            s = r - 1
            e = i
            i += 1
            if not boundary[s] and s - 1 >= a and data[s - 1] == SPACE and s - 1 > last:
                s -= 1                                           # (a) absorb a space
            if boundary[e]:
                e -= 1                                           # (b)
            if s >= e:
                continue                                         # (c)
            for m in range(s + 1, e + 1):                        # (d) split at inner boundaries
                if boundary[m]:
                    if k == starts.shape[0]:
                        starts, ends = _grow(starts, ends)
                    starts[k] = s
                    ends[k] = m - 1
                    k += 1
                    last = m - 1
                    s = m
            if s < e:
                if k == starts.shape[0]:
                    starts, ends = _grow(starts, ends)
                starts[k] = s
                ends[k] = e
                k += 1
                last = e
    return starts[:k].copy(), ends[:k].copy()


@njit(cache=True, inline="always")
def _cont(sig, i, mode, theta):
    return sig[i] < sig[i - 1] or (mode == COMBINED and sig[i] < theta)


@njit(cache=True)
def _grow(starts, ends):
    s2 = np.empty(2 * starts.shape[0], np.int64)
    e2 = np.empty(2 * ends.shape[0], np.int64)
    s2[:starts.shape[0]] = starts
    e2[:ends.shape[0]] = ends
    return s2, e2


# ------------------------------------------------------------------------------ span types
@njit(cache=True, inline="always")
def _span_hash(data, s, e, flag):
    h = np.uint64(14695981039346656037) ^ np.uint64(flag)
    for i in range(s, e + 1):
        h = (h ^ np.uint64(data[i])) * np.uint64(1099511628211)
    return h


@njit(cache=True)
def _same(data, s1, e1, s2, e2):
    if e1 - s1 != e2 - s2:
        return False
    for t in range(e1 - s1 + 1):
        if data[s1 + t] != data[s2 + t]:
            return False
    return True


@njit(cache=True)
def span_types(data, boundary, starts, ends):
    """Distinct span tokens (flag, bytes) of one batch in order of first occurrence: (type_of[span],
    first start, first end, flag, count) per type (a representative occurrence each; passes.py
    merges the batches' types by their bytes)."""
    n = starts.shape[0]
    size = 1024
    while size < 2 * n:
        size <<= 1
    mask = size - 1
    table = np.full(size, -1, np.int64)
    type_of = np.empty(n, np.int64)
    t_s = np.empty(n, np.int64)
    t_e = np.empty(n, np.int64)
    t_f = np.empty(n, np.int64)
    t_c = np.zeros(n, np.int64)
    m = 0
    for k in range(n):
        s = starts[k]
        e = ends[k]
        f = np.int64(boundary[s])
        slot = np.int64(_span_hash(data, s, e, f) & np.uint64(mask))
        while True:
            t = table[slot]
            if t < 0:
                table[slot] = m
                t_s[m] = s
                t_e[m] = e
                t_f[m] = f
                t = m
                m += 1
                break
            if t_f[t] == f and _same(data, t_s[t], t_e[t], s, e):
                break
            slot = (slot + 1) & mask
        t_c[t] += 1
        type_of[k] = t
    return type_of, t_s[:m].copy(), t_e[:m].copy(), t_f[:m].copy(), t_c[:m].copy()
