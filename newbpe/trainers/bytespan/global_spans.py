"""ByteSpan's global constraint, incremental ("GlobalIncrement", specs bytespan.md §5.5).

Raising one global threshold continuously = visiting bytes in ascending signal order (ties:
`visit_order`) and growing segments: visiting i, the left end L is i at a boundary, else the left end
of the segment holding i - 1 (if any), else i (``include_left_byte``: i - 1 too); a space before a
non-boundary L is absorbed; the right end R is the right end of the segment holding i + 1 when i + 1
is not a boundary, else i. Segments are a union-find over byte positions (each root keeps [L, R]).
Documents never join: every document starts at a boundary.

Counts of segment types (flag, bytes) — ``global_counting="exact"`` (default): the exact multiset of
current segments (the absorbed segments removed, [L, R] added; visiting a byte already inside a
segment changes nothing). ``"reference"``: +1 for [L, R] and -1, floored at 0, for the keys of the
left part [L, i) and the right part (i, R], whatever was counted (reference code). Every
``check_every`` visits the vocabulary is base + the non-base types with count >= ``frequency_threshold``
(count descending, then creation order); training stops once that reaches |V| and truncates.
"""
import warnings

import numpy as np

from ..._jit import njit
from ...units import byte_to_unicode, gpt2_byte_order
from ...vocab import IDENT_CONTINUATION, IDENT_PLAIN

SPACE = 0x20


def reference_base(special_tokens):
    """(tokens, idents, lengths) of the global reference's base (§5.5 step 7): the 512 flagged bytes
    and "0x20 b" only where b's GPT-2 character is a letter, b != 0x20: 184, so 699 with the reference's
    three specials (newbpe's id layout: specials, initial
    bytes, continuation bytes, spaced letters)."""
    order = gpt2_byte_order()
    tokens = [s.encode("utf-8") for s in special_tokens] + [bytes([b]) for b in order] * 2
    idents = [IDENT_PLAIN] * (len(special_tokens) + 256) + [IDENT_CONTINUATION] * 256
    mapped = byte_to_unicode()
    spaced = [bytes([SPACE, b]) for b in order if mapped[b].isalpha() and b != SPACE]   # 184 (Ġ Ġ excluded)
    return tokens + spaced, idents + [IDENT_PLAIN] * len(spaced), [len(t) for t in tokens + spaced]


@njit(cache=True)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True)
def _type_of(data, boundary, L, R, table, t_s, t_e, t_f, n_types):
    """Type id of segment [L, R] (added when new); n_types is a 1-array."""
    f = np.int64(boundary[L])
    h = np.uint64(14695981039346656037) ^ np.uint64(f)
    for i in range(L, R + 1):
        h = (h ^ np.uint64(data[i])) * np.uint64(1099511628211)
    mask = table.shape[0] - 1
    s = np.int64((h ^ (h >> np.uint64(29))) & np.uint64(mask))
    while True:
        t = table[s]
        if t < 0:
            t = n_types[0]
            table[s] = t
            t_s[t] = L
            t_e[t] = R
            t_f[t] = f
            n_types[0] += 1
            return t
        if t_f[t] == f and t_e[t] - t_s[t] == R - L:
            same = True
            for k in range(R - L + 1):
                if data[t_s[t] + k] != data[L + k]:
                    same = False
                    break
            if same:
                return t
        s = (s + 1) & mask


@njit(cache=True)
def _qualifying(t_c, is_base_type, n_types, threshold):
    m = 0
    for t in range(n_types):
        if t_c[t] >= threshold and not is_base_type[t]:
            m += 1
    return m


@njit(cache=True)
def _recount_ok(data, boundary, parent, seg_l, seg_r, covered, table, t_s, t_e, t_f, t_c, n_types):
    """Debug: the exact counts equal a recount of the current segments."""
    re = np.zeros(t_c.shape[0], np.int64)
    for x in range(data.shape[0]):
        if covered[x] and _find(parent, x) == x:
            re[_type_of(data, boundary, seg_l[x], seg_r[x], table, t_s, t_e, t_f, n_types)] += 1
    for t in range(n_types[0]):
        if re[t] != t_c[t]:
            return False
    return True


@njit(cache=True)
def run_global(data, doc_off, order, boundary, base_kind, need, threshold, check_every, exact, left_byte,
               debug):
    """The incremental loop over positions in `order`. base_kind[b] != 0: "0x20 b" is a base token;
    need: how many non-base types fill the vocabulary. Returns (t_s, t_e, t_f, t_c, is_base_type,
    n_types, visits, stopped early, recount ok)."""
    n = data.shape[0]
    doc_end = np.empty(n, np.int64)
    for d in range(doc_off.shape[0] - 1):
        doc_end[doc_off[d]:doc_off[d + 1]] = doc_off[d + 1]
    parent = np.arange(n)
    seg_l = np.arange(n)
    seg_r = np.arange(n)
    covered = np.zeros(n, np.bool_)
    size = 1024
    while size < 6 * n + 6:
        size <<= 1
    table = np.full(size, -1, np.int64)
    cap = 3 * n + 3                       # types: one per visit, two more per visit in reference counting
    t_s = np.empty(cap, np.int64)
    t_e = np.empty(cap, np.int64)
    t_f = np.empty(cap, np.int64)
    t_c = np.zeros(cap, np.int64)
    is_base_type = np.zeros(cap, np.bool_)
    n_types = np.zeros(1, np.int64)
    visits = 0
    ok = True
    for v in range(order.shape[0]):
        i = order[v]
        visits += 1
        if not (exact and covered[i]):
            L = i
            merged_left = False
            if not boundary[i]:
                if covered[i - 1]:
                    L = seg_l[_find(parent, i - 1)]
                    merged_left = True
                elif left_byte:
                    L = i - 1
            if not boundary[L] and L > 0 and data[L - 1] == SPACE and not covered[L - 1]:
                L -= 1
            R = i
            merged_right = False
            if i + 1 < doc_end[i] and covered[i + 1] and not boundary[i + 1]:
                R = seg_r[_find(parent, i + 1)]
                merged_right = True
            if covered[i]:                        # reference counting revisits: never shrink a segment
                r0 = _find(parent, i)
                L = min(L, seg_l[r0])
                R = max(R, seg_r[r0])
            if exact:
                if merged_left:
                    ri = _find(parent, i - 1)
                    t_c[_type_of(data, boundary, seg_l[ri], seg_r[ri], table, t_s, t_e, t_f, n_types)] -= 1
                if merged_right:
                    ri = _find(parent, i + 1)
                    t_c[_type_of(data, boundary, seg_l[ri], seg_r[ri], table, t_s, t_e, t_f, n_types)] -= 1
            else:
                if L < i:
                    t = _type_of(data, boundary, L, i - 1, table, t_s, t_e, t_f, n_types)
                    t_c[t] = max(t_c[t] - 1, 0)
                if R > i:
                    t = _type_of(data, boundary, i + 1, R, table, t_s, t_e, t_f, n_types)
                    t_c[t] = max(t_c[t] - 1, 0)
            root = _find(parent, i)
            for x in (L, R):
                rx = _find(parent, x) if covered[x] else x
                if rx != root:
                    parent[rx] = root
            for x in range(L, R + 1):
                if not covered[x]:
                    covered[x] = True
                    parent[x] = root
            parent[root] = root
            seg_l[root] = L
            seg_r[root] = R
            t = _type_of(data, boundary, L, R, table, t_s, t_e, t_f, n_types)
            t_c[t] += 1
            if debug and exact:
                ok = ok and _recount_ok(data, boundary, parent, seg_l, seg_r, covered, table, t_s, t_e, t_f,
                                        t_c, n_types)
        if visits % check_every == 0:
            m = n_types[0]
            for t in range(m):
                L = t_s[t]
                length = t_e[t] - L + 1
                fl = t_f[t]
                is_base_type[t] = length == 1 or (fl == 1 and length == 2 and data[L] == SPACE
                                                  and (base_kind[data[L + 1]] != 0))
            if _qualifying(t_c, is_base_type, m, threshold) >= need:
                return t_s, t_e, t_f, t_c, is_base_type, n_types[0], visits, True, ok
    m = n_types[0]
    for t in range(m):
        L = t_s[t]
        length = t_e[t] - L + 1
        is_base_type[t] = length == 1 or (t_f[t] == 1 and length == 2 and data[L] == SPACE
                                          and (base_kind[data[L + 1]] != 0))
    return t_s, t_e, t_f, t_c, is_base_type, m, visits, False, ok


def visit_order(data, doc_off, sig, ties="bytes"):
    """The byte positions in ascending signal order. Equal signals are common (an n-gram LM gives
    repeated contexts equal values): ``ties="first_occurrence"`` takes them by position in the
    corpus (the reference), ``"bytes"`` by (CRC-32 of the document, offset in the document), so the
    visit order — and the vocabulary — does not depend on document order (§11 invariant 10);
    identical documents still tie, but swapping them changes nothing."""
    if ties == "first_occurrence":
        return np.argsort(sig, kind="stable")
    import zlib
    n_docs = len(doc_off) - 1
    raw = data.tobytes()
    doc_crc = np.array([zlib.crc32(raw[doc_off[d]:doc_off[d + 1]]) for d in range(n_docs)], np.int64)
    lengths = np.diff(doc_off)
    doc_of = np.repeat(np.arange(n_docs), lengths)
    offset = np.arange(len(sig), dtype=np.int64) - np.repeat(doc_off[:-1], lengths)
    return np.lexsort((offset, doc_crc[doc_of], sig))


def global_vocabulary(data, doc_off, sig, boundary, base, vocab_size, opts, debug=False):
    """(tokens, idents, stats) of the global incremental variant (module doc); `base` is the base
    vocabulary of opts["global_base"] (vocab.base_tokens or reference_base)."""
    if opts["global_base"] == "reference":
        mapped = byte_to_unicode()
        spaced = np.array([1 if mapped[b].isalpha() and b != SPACE else 0 for b in range(256)], np.int64)
    else:
        spaced = np.ones(256, np.int64)
        spaced[SPACE] = 0
    tokens, idents, _ = base
    need = vocab_size - len(tokens)
    order = visit_order(data, doc_off, sig, opts.get("span_ties", "bytes"))
    t_s, t_e, t_f, t_c, is_base, m, visits, stopped, ok = run_global(
        data, doc_off, order, boundary, spaced, need, opts["frequency_threshold"], opts["check_every"],
        opts["global_counting"] == "exact", bool(opts["include_left_byte"]), debug)
    keep = np.flatnonzero((t_c[:m] >= opts["frequency_threshold"]) & ~is_base[:m])
    keep = keep[np.lexsort((keep, -t_c[keep]))][:need]
    tokens = list(tokens) + [data[t_s[t]:t_e[t] + 1].tobytes() for t in keep]
    idents = list(idents) + [IDENT_PLAIN if t_f[t] else IDENT_CONTINUATION for t in keep]
    if len(tokens) < vocab_size:
        warnings.warn(f"the global constraint found {len(keep)} segment types with count >= "
                      f"{opts['frequency_threshold']}: vocab size {len(tokens)} < {vocab_size}", stacklevel=3)
    stats = {"global_visits": int(visits), "global_threshold": float(sig[order[visits - 1]]) if visits else None,
             "segment_types": int(m), "spans_in_vocab": len(keep), "bpe_completion_tokens": 0}
    if debug:
        stats["recount_ok"] = bool(ok)
    return tokens, idents, stats
