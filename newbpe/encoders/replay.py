"""Event-replay encoding for Picky BPE (specs/picky.md §4).

Per piece: start from base units and a cursor at -1; repeatedly take the earliest event after the
cursor that applies — a MERGE of an adjacent pair, or a SPLIT of a present token — apply it to the
whole piece (merges left to right, non-overlapping; splits replace every occurrence by the stored
pieces), and move the cursor there. Merge and split events share one index space, so there are no
ties. This equals applying the whole training event log in order, and it reproduces every training
word's final segmentation (a test).

Index: per pair a sorted array of its MERGE event ids (found through a hash table), per token a
sorted array of its SPLIT event ids; "first event after the cursor" is a binary search.
`_replay_piece` is the piece kernel of the shared driver (`_driver.py`: whole-word shortcut,
per-thread piece caches, threads).
"""
import numpy as np
from .._jit import njit

from ._driver import DrivenEncoder, PieceKernel


@njit(cache=True, inline="always")
def _key(a, b):
    return (np.int64(a) << np.int64(32)) | np.int64(b)


@njit(cache=True, inline="always")
def _slot(key, mask):
    x = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    return np.int64(x >> np.uint64(33)) & mask


@njit(cache=True)
def _build_pair_table(keys, starts, counts):
    """Open addressing: key -> (start, count) into the sorted merge-event array."""
    size = 16
    while size < 2 * len(keys) + 2:
        size <<= 1
    table = np.full((size, 3), -1, dtype=np.int64)
    mask = size - 1
    for i in range(len(keys)):
        j = _slot(keys[i], mask)
        while table[j, 0] >= 0:
            j = (j + 1) & mask
        table[j, 0] = keys[i]
        table[j, 1] = starts[i]
        table[j, 2] = counts[i]
    return table


@njit(cache=True, inline="always")
def _first_after(events, start, count, cursor):
    """The first event id > cursor in events[start:start+count] (sorted), or -1."""
    lo = start
    hi = start + count
    while lo < hi:
        mid = (lo + hi) >> 1
        if events[mid] <= cursor:
            lo = mid + 1
        else:
            hi = mid
    return events[lo] if lo < start + count else -1


@njit(cache=True)
def _replay_piece(model, units, a0, n, out, out_pos, scratch):
    """Encode units[a0:a0+n] by event replay; write the ids at out[out_pos:]. Returns their count.
    (The driver's piece kernel; it needs no scratch.)"""
    pair_table, merge_events, ev_left, ev_right, ev_out, split_start, split_count, split_events, \
        piece_off, pieces = model
    mask = len(pair_table) - 1
    buf = units[a0:a0 + n].copy()
    tmp = np.empty(n, dtype=np.int64)
    cursor = np.int64(-1)
    n_split_tokens = len(split_start)
    while True:
        best = np.int64(-1)
        for i in range(n - 1):
            key = _key(buf[i], buf[i + 1])
            j = _slot(key, mask)
            while pair_table[j, 0] >= 0 and pair_table[j, 0] != key:
                j = (j + 1) & mask
            if pair_table[j, 0] == key:
                e = _first_after(merge_events, pair_table[j, 1], pair_table[j, 2], cursor)
                if e >= 0 and (best < 0 or e < best):
                    best = e
        for i in range(n):
            t = buf[i]
            if t < n_split_tokens and split_count[t] > 0:
                e = _first_after(split_events, split_start[t], split_count[t], cursor)
                if e >= 0 and (best < 0 or e < best):
                    best = e
        if best < 0:
            break
        if ev_out[best] >= 0:                       # MERGE: left to right, non-overlapping
            a = ev_left[best]
            b = ev_right[best]
            w = 0
            i = 0
            while i < n:
                if i + 1 < n and buf[i] == a and buf[i + 1] == b:
                    buf[w] = ev_out[best]
                    i += 2
                else:
                    buf[w] = buf[i]
                    i += 1
                w += 1
            n = w
        else:                                       # SPLIT: every occurrence -> its pieces
            x = ev_left[best]
            w = 0
            for i in range(n):
                if buf[i] == x:
                    for p in range(piece_off[best], piece_off[best + 1]):
                        tmp[w] = pieces[p]
                        w += 1
                else:
                    tmp[w] = buf[i]
                    w += 1
            buf, tmp = tmp, buf
            n = w
        cursor = best
    for i in range(n):
        out[out_pos + i] = buf[i]
    return n


@njit(cache=True)
def _no_scratch(model, n_max):
    return np.empty(0, np.int64)


class ReplayEncoder(DrivenEncoder):
    """Encoder over a Picky event log: events are ["M", a, b, out] or ["S", x, [pieces]] (internal
    ids); `present_units` {id: units} lists the tokens a whole-word shortcut may return."""

    encode_piece = PieceKernel(_replay_piece)
    new_scratch = PieceKernel(_no_scratch)

    def __init__(self, events, n_tokens, whole_word_shortcut=False, present_units=None,
                 cache_slots=1 << 16, cache_pool=1 << 20):
        n_events = len(events)
        ev_left = np.full(n_events, -1, np.int64)
        ev_right = np.full(n_events, -1, np.int64)
        ev_out = np.full(n_events, -1, np.int64)
        piece_off = np.zeros(n_events + 1, np.int64)
        pieces, merges_of, splits_of = [], {}, {}
        for e, ev in enumerate(events):
            if ev[0] == "M":
                ev_left[e], ev_right[e], ev_out[e] = ev[1], ev[2], ev[3]
                merges_of.setdefault((ev[1], ev[2]), []).append(e)
            else:
                ev_left[e] = ev[1]
                pieces.extend(ev[2])
                splits_of.setdefault(ev[1], []).append(e)
            piece_off[e + 1] = len(pieces)
        keys = np.array([(a << 32) | b for a, b in merges_of], dtype=np.int64)
        counts = np.array([len(v) for v in merges_of.values()], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(counts) else counts
        merge_events = np.array([e for v in merges_of.values() for e in v], dtype=np.int64)
        split_start = np.zeros(n_tokens, np.int64)
        split_count = np.zeros(n_tokens, np.int64)
        split_events = []
        for t in sorted(splits_of):
            split_start[t] = len(split_events)
            split_count[t] = len(splits_of[t])
            split_events.extend(splits_of[t])
        self._model = (_build_pair_table(keys, starts, counts), merge_events, ev_left, ev_right, ev_out,
                       split_start, split_count, np.array(split_events, dtype=np.int64), piece_off,
                       np.array(pieces, dtype=np.int64))
        super().__init__(n_tokens, present_units if whole_word_shortcut else None, cache_slots, cache_pool)

    def model(self):
        return self._model
