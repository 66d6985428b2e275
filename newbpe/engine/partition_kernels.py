"""Kernels of the partitioned plain BPE loop (partitioned.py, `PartitionedEngine`).

The words are split into P partitions, each an ordinary EngineState (own pair table, counts,
occurrence lists; the same token table, tokens created in the same order), and one global queue
holds the counts summed over the partitions. Its entries are (total, key = left << 32 | right, 0),
ordered like the engine's queue (queue._above), so the merges are exactly those of the single
engine. The partitions' own queues are unused (tiny). A merge is rewritten by rewrite.merge_rewrite
in each partition, on all threads at once (`_rewrite_parts_parallel`, numba prange) when it is long.
"""
import numpy as np
from .._jit import njit, prange

from .state import (Words, Tokens, Pairs, PAIR_VETOED, PAIR_MERGED, M_TOKENS, M_PAIRS, M_HEAP, M_STAMP, STOP_DONE,
                    STOP_EMPTY, STOP_MIN_FREQ, STOP_STEPS, STOP_ROOM, STOP_LENGTH_CONFLICT)
from .tables import LEAF, _pair_key, pair_find, find_concat, add_token
from .queue import _sift_down, _heap_pop, heap_push, pair_allowed
from .slots import _pair_slots
from .rewrite import pair_occ_len, has_room, merge_rewrite
from .loops import _record_merge

PART_NEED = 7        # need[0]: partition to grow (-1: the global queue or `out`), need[1:7]: room


@njit(**LEAF)
def _part_total(states, a, b):
    """(count of (a, b) summed over the partitions, dead) with dead = merged or vetoed somewhere
    (a pair is flagged in every partition that has it when it is merged or vetoed)."""
    total = np.int64(0)
    dead = False
    for p in range(len(states)):
        pairs = states[p].pairs
        pid = pair_find(pairs, a, b)
        if pid >= 0:
            if (pairs.pair_flags[pid] & (PAIR_VETOED | PAIR_MERGED)) != 0:
                dead = True
            total += pairs.pair_count[pid]
    return total, dead


@njit(cache=True)
def part_heapify(states, gheap, gmeta):
    """Queue every pair with a positive total once (build time), in O(n). The global heap holds at
    least the sum of the partitions' pair counts."""
    n = 0
    for p in range(len(states)):
        pairs = states[p].pairs
        for pid in range(states[p].meta[M_PAIRS]):
            a = pairs.pair_left[pid]
            b = pairs.pair_right[pid]
            seen = False
            for q in range(p):
                if pair_find(states[q].pairs, a, b) >= 0:
                    seen = True
                    break
            if seen:
                continue
            total, dead = _part_total(states, a, b)
            if total > 0 and not dead:
                gheap.heap_count[n] = total
                gheap.heap_key[n] = _pair_key(a, b)
                gheap.heap_item[n] = 0
                n += 1
    gmeta[M_HEAP] = n
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(gheap.heap_count, gheap.heap_key, gheap.heap_item, i, n)


@njit(**LEAF)
def _part_head(states, gheap, gmeta):
    """The valid head of the global queue as (total, key), (0, -1) when empty; `queue_head` for
    pairs: stale entries are re-queued with their live total or dropped, a pair failing the veto
    is flagged vetoed in every partition that has it and dropped."""
    while gmeta[M_HEAP] > 0:
        cnt = gheap.heap_count[0]
        key = gheap.heap_key[0]
        a = key >> np.int64(32)
        b = key & np.int64(0xFFFFFFFF)
        live, dead = _part_total(states, a, b)
        if dead or live <= 0:
            _heap_pop(gheap, gmeta)
            continue
        if live != cnt:
            _heap_pop(gheap, gmeta)
            heap_push(gheap, gmeta, live, key, 0)
            continue
        if not pair_allowed(states[0], a, b):
            for p in range(len(states)):
                pid = pair_find(states[p].pairs, a, b)
                if pid >= 0:
                    states[p].pairs.pair_flags[pid] |= PAIR_VETOED
            _heap_pop(gheap, gmeta)
            continue
        return cnt, key
    return np.int64(0), np.int64(-1)


@njit(cache=True)
def _rewrite_part(st, pid, new, touched):
    """`merge_rewrite` of one partition (serial path)."""
    pairs = st.pairs
    slots = _pair_slots(pairs, pid)
    return merge_rewrite(st.words, st.tokens, pairs, st.meta, pid, new, slots, touched)


@njit(cache=True, parallel=True)
def _rewrite_parts_parallel(sym, slot_pair, word_count, word_end, block_word,
                            tok_len, tok_left, tok_right, tok_freq, tok_flags, tok_ident, tok_boff, tok_blen,
                            tok_occ_head,
                            pool, strtab, tocc_slot, tocc_next,
                            ptab, pair_left, pair_right, pair_count, pair_flags, pair_occ_head, pair_occ_n,
                            pair_stamp, occ_slot, occ_next, pair_idx_lo, pair_idx_n, idx_slot, meta, pids, new,
                            offs, touched, res):
    """`merge_rewrite` of every partition with pids[p] >= 0, one partition per thread. numba's
    parallel regions take arrays and tuples of arrays, not namedtuples: each argument is one state
    array of every partition (PartitionedEngine._fields), and the groups are rebuilt here."""
    for p in prange(len(pids)):
        pid = pids[p]
        if pid >= 0:
            words = Words(sym[p], slot_pair[p], word_count[p], word_end[p], block_word[p])
            tokens = Tokens(tok_len[p], tok_left[p], tok_right[p], tok_freq[p], tok_flags[p], tok_ident[p],
                            tok_boff[p], tok_blen[p], tok_occ_head[p], pool[p], strtab[p], tocc_slot[p],
                            tocc_next[p])
            pairs = Pairs(ptab[p], pair_left[p], pair_right[p], pair_count[p], pair_flags[p], pair_occ_head[p],
                          pair_occ_n[p], pair_stamp[p], occ_slot[p], occ_next[p], pair_idx_lo[p], pair_idx_n[p],
                          idx_slot[p])
            slots = _pair_slots(pairs, pid)
            merged, n_touched = merge_rewrite(words, tokens, pairs, meta[p], pid, new, slots,
                                              touched[offs[p]:offs[p + 1]])
            res[p, 0] = merged
            res[p, 1] = n_touched


@njit(**LEAF)
def _queue_touched(states, gheap, gmeta, pids, p, touched):
    """Queue the new total of every pair in `touched` (ids in partition p whose count increased in
    this merge), skipping those also touched in an earlier partition (queued from there): one
    lookup per other partition and pair."""
    own = states[p].pairs
    for i in range(len(touched)):
        tp = touched[i]
        left = own.pair_left[tp]
        right = own.pair_right[tp]
        total = own.pair_count[tp]
        dead = (own.pair_flags[tp] & (PAIR_VETOED | PAIR_MERGED)) != 0
        for q in range(len(states)):
            if q == p:
                continue
            pairs = states[q].pairs
            pq = pair_find(pairs, left, right)
            if pq < 0:
                continue
            if q < p and pids[q] >= 0 and pairs.pair_stamp[pq] == states[q].meta[M_STAMP]:
                dead = True                      # touched in partition q too: queued from there
                break
            if (pairs.pair_flags[pq] & (PAIR_VETOED | PAIR_MERGED)) != 0:
                dead = True
            total += pairs.pair_count[pq]
        if total > 0 and not dead:
            heap_push(gheap, gmeta, total, _pair_key(left, right), 0)


@njit(cache=True)
def run_bpe_parts(states, F, gheap, gmeta, visible, target, min_count, max_steps, par_threshold, out, n_out,
                  need):
    """`run_bpe` over partitions: pop the best pair from the global queue, find or create its token
    (in every partition, same id), rewrite it in every partition that has it — on all threads at
    once when the occurrence lists hold >= `par_threshold` slots in total, else one partition after
    the other — then queue the new total of every pair whose count increased (once per key).
    `F`: the state arrays as tuples over the partitions (for the parallel rewrite). On STOP_ROOM,
    need[0] is the partition that must grow by need[1:7] (merge_room's order), or -1 when the
    global queue must take need[1] more entries or `out` is full. Returns (status, visible, n_out)."""
    P = len(states)
    pids = np.empty(P, dtype=np.int64)
    offs = np.zeros(P + 1, dtype=np.int64)
    res = np.zeros((P, 2), dtype=np.int64)
    steps = 0
    while visible < target:
        if steps >= max_steps:
            return STOP_STEPS, visible, n_out
        cnt, key = _part_head(states, gheap, gmeta)
        if cnt <= 0:
            return STOP_EMPTY, visible, n_out
        if cnt < min_count:
            return STOP_MIN_FREQ, visible, n_out
        a = key >> np.int64(32)
        b = key & np.int64(0xFFFFFFFF)
        nb = states[0].tokens.tok_blen[a] + states[0].tokens.tok_blen[b]
        n_occ = np.int64(0)
        for p in range(P):
            st = states[p]
            pid = pair_find(st.pairs, a, b)
            pids[p] = pid
            n = pair_occ_len(st, pid) if pid >= 0 else np.int64(-1)
            k = min(2 * n, 2 * st.meta[M_TOKENS] + 2) + 2          # as merge_room: <= 2 per token
            room = (k, 2 * n, np.int64(0), np.int64(0), np.int64(1), nb) if pid >= 0 else \
                (np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(1), nb)
            if not has_room(st, room[0], room[1], room[2], room[3], room[4], room[5]):
                need[0] = p
                for i in range(6):
                    need[1 + i] = room[i]
                return STOP_ROOM, visible, n_out
            offs[p + 1] = offs[p] + (k if pid >= 0 else 0)
            n_occ += max(n, 0)
        if n_out >= len(out) or gmeta[M_HEAP] + offs[P] > len(gheap.heap_count):
            need[0] = -1
            need[1] = offs[P]
            return STOP_ROOM, visible, n_out
        new = find_concat(states[0], a, b)
        if new >= 0 and states[0].tokens.tok_len[new] != states[0].tokens.tok_len[a] + states[0].tokens.tok_len[b]:
            return STOP_LENGTH_CONFLICT, visible, n_out          # another length (tables.py): untouched
        _heap_pop(gheap, gmeta)
        if new < 0:
            for p in range(P):
                new = add_token(states[p], a, b)
            visible += 1
        touched = np.empty(offs[P], dtype=np.int64)
        res[:] = 0
        if n_occ >= par_threshold:
            _rewrite_parts_parallel(F[0], F[1], F[2], F[3], F[4], F[5], F[6], F[7], F[8], F[9], F[10], F[11],
                                    F[12], F[13], F[14], F[15], F[16], F[17], F[18], F[19], F[20], F[21], F[22],
                                    F[23], F[24], F[25], F[26], F[27], F[28], F[29], F[30], F[31], pids, new,
                                    offs, touched, res)
        else:
            for p in range(P):
                if pids[p] >= 0:
                    merged_p, n_p = _rewrite_part(states[p], pids[p], new, touched[offs[p]:offs[p + 1]])
                    res[p, 0] = merged_p
                    res[p, 1] = n_p
        merged = np.int64(0)
        for p in range(P):
            merged += res[p, 0]
            if pids[p] >= 0:
                _queue_touched(states, gheap, gmeta, pids, p, touched[offs[p]:offs[p] + res[p, 1]])
        _record_merge(out, n_out, a, b, new, merged)
        n_out += 1
        steps += 1
    return STOP_DONE, visible, n_out
