"""The method loops, run inside numba: plain BPE (`run_bpe`), Scaffold-BPE (`run_scaffold`),
Picky BPE's merges (`run_picky`) and SuperBPE's replay of inherited merges (`run_replay`), plus
`merge_best_step` (pop and merge once, from Python).

Each loop runs merges until it reaches its target or must hand back, and returns a status
(state.STOP_*): STOP_ROOM when a pool or its output table is short (driver.py grows it and calls
again), STOP_STEPS every `max_steps` steps (progress), else why it ended. A merge is the same in
every loop — pop the valid head pair, find or create its token (tables.find_or_add_token), rewrite
(rewrite.merge_pair), record (a, b, new, F) — and each method adds its own accounting around it.
"""
import numpy as np
from .._jit import njit

from .state import (FLAG_ATOMIC, FLAG_ABSENT, FLAG_SCAFFOLD, PAIR_QUEUED, STOP_DONE, STOP_EMPTY, STOP_MIN_FREQ,
                    STOP_STEPS, STOP_ROOM, STOP_TOKEN_ITEM, STOP_REMOVAL, STOP_LENGTH_CONFLICT)
from .tables import LEAF, find_or_add_token, pair_find
from .queue import queue_head, push_pair, push_token
from .rewrite import has_room, merge_room, merge_pair, merge_step


# ----------------------------------------------------------------------------------------------
# one merge from Python (Engine.merge_best)


@njit(cache=True)
def merge_best_step(st, min_count):
    """Pop the best eligible pair and merge it, in one call. Returns (status, a, b, new, merged,
    created): status STOP_EMPTY / STOP_MIN_FREQ when nothing qualifies, NO_ROOM when pools must grow."""
    kind, cnt, pid = queue_head(st, False)
    if kind == 0:
        return STOP_EMPTY, -1, -1, np.int64(-1), np.int64(0), False
    if kind != 1:
        return STOP_TOKEN_ITEM, -1, -1, np.int64(-1), np.int64(0), False
    if cnt < min_count:
        return STOP_MIN_FREQ, -1, -1, np.int64(-1), np.int64(0), False
    a = st.pairs.pair_left[pid]
    b = st.pairs.pair_right[pid]
    queue_head(st, True)                # pop before merging: merging pushes new entries
    status, new, merged, created = merge_step(st, a, b, -1)
    if status != 0:
        push_pair(st.pairs, st.heap, st.meta, pid)      # put it back (the pop freed a heap slot)
    return status, a, b, new, merged, created


# ----------------------------------------------------------------------------------------------
# plain BPE (bpe.md), and the two steps every loop shares


@njit(**LEAF)
def _record_merge(out, n_out, a, b, new, merged):
    out[n_out, 0] = a
    out[n_out, 1] = b
    out[n_out, 2] = new
    out[n_out, 3] = merged


@njit(cache=True)
def _take_best_pair(st, min_count, out_full):
    """The start of every greedy merge step (BPE's and Picky's): the valid head pair, popped, and its
    token found or created, or why not (STOP_EMPTY, STOP_MIN_FREQ, STOP_ROOM when a pool or the
    output is full, STOP_LENGTH_CONFLICT with the pair put back untouched). Returns (status, pair id,
    a, b, new token, created)."""
    kind, cnt, pid = queue_head(st, False)
    if kind == 0:
        return STOP_EMPTY, pid, -1, -1, -1, False
    if cnt < min_count:
        return STOP_MIN_FREQ, pid, -1, -1, -1, False
    r0, r1, r2, r3, r4, r5 = merge_room(st, pid)
    if out_full or not has_room(st, r0, r1, r2, r3, r4, r5):
        return STOP_ROOM, pid, -1, -1, -1, False
    queue_head(st, True)
    a = st.pairs.pair_left[pid]
    b = st.pairs.pair_right[pid]
    new, created = find_or_add_token(st, a, b)
    if new < 0:
        push_pair(st.pairs, st.heap, st.meta, pid)  # untouched: put it back (the pop freed a heap slot)
        return STOP_LENGTH_CONFLICT, pid, a, b, new, created
    return 0, pid, a, b, new, created


@njit(cache=True)
def run_bpe(st, visible, target, min_count, max_steps, out, n_out):
    """Greedy BPE until `visible` reaches `target`: pop the best pair, find or create its token
    (duplicate strings reuse the id and do not add to `visible`), merge, record (a, b, new, F) in
    out[n_out]. Returns (status, visible, n_out)."""
    steps = 0
    while visible < target:
        if steps >= max_steps:
            return STOP_STEPS, visible, n_out
        status, pid, a, b, new, created = _take_best_pair(st, min_count, n_out >= len(out))
        if status != 0:
            return status, visible, n_out
        if created:
            visible += 1
        _record_merge(out, n_out, a, b, new, merge_pair(st, pid, new))
        n_out += 1
        steps += 1
    return STOP_DONE, visible, n_out


# ----------------------------------------------------------------------------------------------
# SuperBPE's replay (specs/supertokens.md §2.3 step 3)

R_SKIPPED = 6        # info slots of run_replay: 0-5 the room a merge needs (STOP_ROOM), then skips,
R_A = 7              # and the pair of a merge that spells a token of another length
R_B = 8
R_SIZE = 9


@njit(cache=True)
def run_replay(st, merges, key_tok, reference, i, max_steps, out, n_out, info):
    """Replay inherited merges in order whatever their counts (SuperBPE stage 2), from merges[i].
    A merge is three string keys (left, right, left+right); key_tok[key] is the token spelling that
    string, -1 while there is none, and the merge's output is written there when the merge creates
    it, so parts resolve with no per-merge Python (a loop of Engine.merge calls cost ~25 µs of state
    unboxing per merge, 16k merges per SuperBPE run). Skip rule (§2.3 step 3), counted in
    info[R_SKIPPED]: a part is not a token, or `reference` and the pair never had a queue entry
    (PAIR_QUEUED), or not `reference` and its count is <= 0. A replayed merge whose count has dropped
    to 0 is recorded with F = 0. Returns (status, next merge index, n_out); on STOP_ROOM info[0:6]
    holds the room the merge needs."""
    steps = 0
    while i < len(merges):
        if steps >= max_steps:
            return STOP_STEPS, i, n_out
        a = key_tok[merges[i, 0]]
        b = key_tok[merges[i, 1]]
        pid = pair_find(st.pairs, a, b) if a >= 0 and b >= 0 else -1
        if pid < 0 or (reference and (st.pairs.pair_flags[pid] & PAIR_QUEUED) == 0) or \
                (not reference and st.pairs.pair_count[pid] <= 0):
            info[R_SKIPPED] += 1
            i += 1
            steps += 1
            continue
        r0, r1, r2, r3, r4, r5 = merge_room(st, pid)
        if n_out >= len(out) or not has_room(st, r0, r1, r2, r3, r4, r5):
            info[0], info[1], info[2], info[3], info[4], info[5] = r0, r1, r2, r3, r4, r5
            return STOP_ROOM, i, n_out
        new, created = find_or_add_token(st, a, b)
        if new < 0:
            info[R_A], info[R_B] = a, b
            return STOP_LENGTH_CONFLICT, i, n_out
        _record_merge(out, n_out, a, b, new, merge_pair(st, pid, new))
        if created:
            key_tok[merges[i, 2]] = new
        n_out += 1
        i += 1
        steps += 1
    return STOP_DONE, i, n_out


# ----------------------------------------------------------------------------------------------
# Scaffold-BPE (specs/scaffold.md §3.2)

SCAFFOLD_FLAG = 1        # log kinds of run_scaffold: a constituent became scaffold
SCAFFOLD_UNFLAG_POP = 2  # a scaffold token item reached the queue head
SCAFFOLD_REDERIVE = 3    # a merge produced the string of a scaffold token
SCAFFOLD_FLAG_GUARD = FLAG_ATOMIC   # base units and specials are never scaffold


@njit(cache=True)
def _scaffold_check(st, x, h, merge_index, log, n_log):
    """Flag constituent x if its standalone frequency is below h (strict). Returns (flagged, n_log)."""
    flags = st.tokens.tok_flags[x]
    if (flags & SCAFFOLD_FLAG_GUARD) != 0 or (flags & FLAG_SCAFFOLD) != 0:
        return False, n_log
    f = st.tokens.tok_freq[x]
    if f >= h:
        return False, n_log
    st.tokens.tok_flags[x] = flags | FLAG_SCAFFOLD
    push_token(st.tokens, st.heap, st.meta, x)
    log[n_log, 0] = SCAFFOLD_FLAG
    log[n_log, 1] = x
    log[n_log, 2] = f
    log[n_log, 3] = h
    log[n_log, 4] = merge_index
    return True, n_log + 1


@njit(cache=True)
def run_scaffold(st, visible, target, min_count, max_steps, head_after, out, n_out, log, n_log):
    """Scaffold-BPE's loop (specs/scaffold.md §3.2) until `visible` (non-scaffold tokens) reaches
    `target`. One mixed queue holds pair items and scaffold token items (token_item before/after
    pairs at equal priority: M_TOKEN_LAST). Each iteration either
      - pops a token item: the scaffold token becomes normal again (no merge), or
      - merges the best pair exactly as run_bpe (creating a token, re-deriving a scaffold token, or
        a duplicate merge), refreshes the items of scaffold constituents, reads the head priority h
        (after those updates, or before the merge with head_after=False) and flags each constituent
        (a, then b) whose standalone frequency is now < h.
    Records merges in out (a, b, new, F) and events in log (kind, token, freq, h, merge index).
    Returns (status, visible, n_out, n_log, steps) with steps the iterations done (merges and pops)."""
    steps = 0
    while visible < target:
        if steps >= max_steps:
            return STOP_STEPS, visible, n_out, n_log, steps
        kind, cnt, ident = queue_head(st, False)
        if kind == 0:
            return STOP_EMPTY, visible, n_out, n_log, steps
        if n_log + 3 > len(log) or n_out >= len(out):
            return STOP_ROOM, visible, n_out, n_log, steps
        if kind == 2:                                   # a scaffold token's frequency beats every pair
            queue_head(st, True)
            st.tokens.tok_flags[ident] &= ~FLAG_SCAFFOLD
            visible += 1
            log[n_log, 0] = SCAFFOLD_UNFLAG_POP
            log[n_log, 1] = ident
            log[n_log, 2] = cnt
            log[n_log, 3] = cnt
            log[n_log, 4] = n_out
            n_log += 1
            steps += 1
            continue
        if cnt < min_count:
            return STOP_MIN_FREQ, visible, n_out, n_log, steps
        pid = ident
        r0, r1, r2, r3, r4, r5 = merge_room(st, pid)
        if not has_room(st, r0, r1, r2, r3 + 4, r4, r5):
            return STOP_ROOM, visible, n_out, n_log, steps
        queue_head(st, True)
        a = st.pairs.pair_left[pid]
        b = st.pairs.pair_right[pid]
        h = np.int64(0)
        if not head_after:
            h_kind, h, h_ident = queue_head(st, False)
        new, created = find_or_add_token(st, a, b)
        if new < 0:
            push_pair(st.pairs, st.heap, st.meta, pid)
            return STOP_LENGTH_CONFLICT, visible, n_out, n_log, steps
        if created:
            visible += 1
        elif (st.tokens.tok_flags[new] & FLAG_SCAFFOLD) != 0:
            st.tokens.tok_flags[new] &= ~FLAG_SCAFFOLD
            visible += 1
            log[n_log, 0] = SCAFFOLD_REDERIVE
            log[n_log, 1] = new
            log[n_log, 2] = st.tokens.tok_freq[new]
            log[n_log, 3] = cnt
            log[n_log, 4] = n_out
            n_log += 1
        _record_merge(out, n_out, a, b, new, merge_pair(st, pid, new))
        for x in (a, b):                                # refresh the priority of scaffold constituents
            if (st.tokens.tok_flags[x] & FLAG_SCAFFOLD) != 0:
                push_token(st.tokens, st.heap, st.meta, x)
        if head_after:
            h_kind, h, h_ident = queue_head(st, False)
        flagged, n_log = _scaffold_check(st, a, h, n_out, log, n_log)
        if flagged:
            visible -= 1
        if b != a:
            flagged, n_log = _scaffold_check(st, b, h, n_out, log, n_log)
            if flagged:
                visible -= 1
        n_out += 1
        steps += 1
    return STOP_DONE, visible, n_out, n_log, steps


# ----------------------------------------------------------------------------------------------
# Picky BPE (specs/picky.md): merges and the IoS test; removals stay in Python (trainers/picky.py)

# Picky's quirk options (spec §5), one int64 slot each: picky[P_*], packed by name (`picky_options`).
P_GE = 0             # 1: IoS >= T (reference), 0: IoS > T
P_CHILD_TOTAL = 1    # 1: numerator f(new) ("child_total"), 0: the merge count
P_SELF_MODE = 2      # self-pair IoS: SELF_PAPER, SELF_REFERENCE or SELF_OCCUPANCY
P_COUNT_DUP = 3      # 1: duplicate merges count towards the vocabulary (reference)
P_SIZE = 4
SELF_PAPER = 0       # F / (f + 2F)
SELF_REFERENCE = 1   # F / (f + F)
SELF_OCCUPANCY = 2   # 2F / (f + 2F)
SELF_MODES = {"paper": SELF_PAPER, "reference": SELF_REFERENCE, "occupancy": SELF_OCCUPANCY}


def picky_options(*, ios_ge, child_total, self_pair_ios, count_duplicates):
    """The option array `run_picky` and `picky_passes` read, packed by name: ios_ge (IoS >= T, else
    > T), child_total (numerator f(new), else the merge count), self_pair_ios (a SELF_MODES name),
    count_duplicates (duplicate merges count towards the vocabulary)."""
    picky = np.zeros(P_SIZE, dtype=np.int64)
    picky[P_GE] = bool(ios_ge)
    picky[P_CHILD_TOTAL] = bool(child_total)
    picky[P_SELF_MODE] = SELF_MODES[self_pair_ios]
    picky[P_COUNT_DUP] = bool(count_duplicates)
    return picky


@njit(cache=True)
def picky_ios(st, x, merged, new, self_pair, picky):
    """Intersection over Self of constituent x right after a merge of `merged` occurrences into
    `new` (f(x) already decremented): specs/picky.md §3 and its quirk options."""
    f = st.tokens.tok_freq[x]
    if self_pair:
        mode = picky[P_SELF_MODE]
        if mode == SELF_REFERENCE:
            return merged / (f + merged) if f + merged > 0 else 0.0
        if mode == SELF_PAPER:
            return merged / (f + 2 * merged)
        return 2 * merged / (f + 2 * merged)
    numerator = st.tokens.tok_freq[new] if picky[P_CHILD_TOTAL] != 0 else merged
    return numerator / (f + merged)


@njit(cache=True)
def picky_passes(st, x, merged, new, self_pair, picky, threshold):
    """True if constituent x is removable (not atomic, not removed) and its IoS passes T."""
    if (st.tokens.tok_flags[x] & (FLAG_ATOMIC | FLAG_ABSENT)) != 0:
        return False
    ios = picky_ios(st, x, merged, new, self_pair, picky)
    return ios >= threshold if picky[P_GE] != 0 else ios > threshold


@njit(cache=True)
def run_picky(st, present, target, min_count, max_steps, picky, threshold, out, n_out, stats):
    """Picky BPE's merges inside numba until `present` reaches `target` or a merge leaves a
    constituent that must be removed (STOP_REMOVAL, after that merge is recorded): removals and
    their decompositions stay in Python (trainers/picky.py). Each merge creates a token (+1), restores
    a removed one (+1, stats[1]) or is a duplicate (stats[2]; +1 only with P_COUNT_DUP). On
    STOP_REMOVAL, stats[3] and stats[4] say whether a and b passed the test right after the merge.
    Returns (status, present, n_out)."""
    steps = 0
    while present < target:
        if steps >= max_steps:
            return STOP_STEPS, present, n_out
        status, pid, a, b, new, created = _take_best_pair(st, min_count, n_out >= len(out))
        if status != 0:
            return status, present, n_out
        if created:
            present += 1
        elif (st.tokens.tok_flags[new] & FLAG_ABSENT) != 0:
            st.tokens.tok_flags[new] &= ~FLAG_ABSENT
            present += 1
            stats[1] += 1
        else:
            stats[2] += 1
            if picky[P_COUNT_DUP] != 0:
                present += 1
        merged = merge_pair(st, pid, new)
        _record_merge(out, n_out, a, b, new, merged)
        n_out += 1
        stats[0] += 1
        steps += 1
        pass_a = picky_passes(st, a, merged, new, a == b, picky, threshold)
        pass_b = a != b and picky_passes(st, b, merged, new, False, picky, threshold)
        if pass_a or pass_b:
            stats[3] = pass_a
            stats[4] = pass_b
            return STOP_REMOVAL, present, n_out
    return STOP_DONE, present, n_out
