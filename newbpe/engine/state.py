"""Array layout of the merge engine, and the status codes its kernels return. Only `newbpe.engine`
reads or writes these arrays.

The state is a namedtuple of numpy arrays (numba passes namedtuples of arrays into cached njit
kernels; numba class objects cannot be cached). Kernels never allocate: when a pool is too small they return
a "need room" code and `Engine` grows the arrays here and calls again.

Word table ("slots")
    Every unique word is laid out as its base units followed by one separator slot (a base unit
    takes ``tok_len`` slots: 1, unless `Engine.build` got `base_lengths`):
    ``sym[s]`` is the token that *starts* at slot s, ``SEP`` at a word end; a token covering n >= 2
    slots has its last one holding ``tail(n - 1)`` (= -2 - (n - 1), so <= -3) and the ones between
    ``DEAD`` (inner slots may also keep stale tails of earlier tokens: only a symbol's last slot is
    ever read as a tail). So the next symbol of the word starts at ``s + tok_len[sym[s]]``, the
    previous one ends at s - 1 (`slots.prev_start`: that slot is a token id, a tail pointing back to
    its start, or SEP before a word's first symbol), and a token can be replaced by its pieces in
    place (Picky's removal needs no insertion). Word w ends at its separator slot ``word_end[w]``;
    the word of a slot is found through ``block_word`` (the word at every 2**M_BLOCK_SHIFT-th slot)
    and a short binary search in word_end (`slots.word_of`); its count is ``word_count[w]`` (int64).

    Memory: 8 bytes per slot (sym, slot_pair) plus at most ~12 per word. The per-slot previous-symbol
    and word arrays this replaced cost 8 bytes per slot more: 240 MB for a 30 MB text pre-tokenized
    with 'none' (one 30M-unit word).

Tokens
    ``tok_len`` (slots covered: its base units' lengths, 1 each by default), ``tok_left``/``tok_right`` (parents of the first merge that created
    it, -1 for atomic tokens), ``tok_freq`` (standalone frequency in the current segmentation, int64),
    ``tok_flags`` (the engine's own bits, FLAG_*), ``tok_ident`` (the identity flag: a token is the
    pair (tok_ident, bytes), design.md "Token identity is (flag, bytes)" — ByteSpan's word-initial vs
    continuation tokens; 0 for every token of the other methods; a merge's token takes its left
    part's, ByteSpan §6), the token's bytes in ``pool[tok_boff : tok_boff + tok_blen]``, a
    string table ``strtab`` (open addressing, (ident, bytes) -> id) to find duplicate strings, and
    ``tok_occ_head`` heads of per-token occurrence lists (slots where the token was placed; may be stale,
    validated on visit).

    ``slot_pair[s]`` is the id of the pair (sym[s], next symbol), so removing a pair occurrence needs
    no hash lookup.

Pairs
    ``ptab`` (open addressing, rows of (key = ``left << 32 | right``, pair id); key and id share a
    cache line), ``pair_left``, ``pair_right``,
    ``pair_count`` (int64, overlapping windows weighted by word count), ``pair_flags``.

Pair occurrences (slot of the left symbol; validated on visit, YouTokenToMe style — no hash sets)
    An index built from the word table — pair p's occurrences then are
    ``idx_slot[pair_idx_lo[p] : pair_idx_lo[p] + pair_idx_n[p]]``, ascending, 4 bytes each — plus
    the occurrences merges created since, in append-only per-pair lists (``pair_occ_head``,
    ``pair_occ_n`` nodes, stale ones included, so sizing a merge never walks a list). When the lists'
    pool is full the index is rebuilt from the slots (Engine._rebuild_index): stale entries go, the
    lists empty. Linked nodes for every occurrence (8 bytes each, the pool doubling as merges appended)
    cost 960 MB on a 30M-unit word; the index with a list pool of an eighth of it costs ~150 MB.

Occurrence nodes
    ``occ_slot``/``occ_next`` (pair lists) and ``tocc_slot``/``tocc_next`` (token lists): singly
    linked lists in flat pools.

Queue
    A lazy max-heap of ``(heap_count, heap_key, heap_item)``: highest count first, then smallest key.
    Pair items have ``key = left << 32 | right`` and ``item = pair id`` (so ties go to the smallest
    (left, right), HF's rule). Token items (Scaffold-BPE) have ``key = token - 2**62`` (negative: at
    equal count they come before every pair, smaller token first) and ``item = -1 - token``.

``meta`` holds the scalar counters (indices M_*); ``veto`` the merge-veto parameters (V_*) and
``veto_bytes``/``veto_offsets`` the forbidden substrings.

Status codes
    A one-merge kernel returns NO_ROOM when a pool must grow first (it touched nothing); a merge
    loop returns one of STOP_*: STOP_ROOM likewise asks the driver (driver.py) to grow a pool or an
    output table and call again, STOP_STEPS hands back for a progress report, the others end the loop.
    They live here, next to the layout, so that the driver reads them without loading numba.
"""
from collections import namedtuple

import numpy as np

SEP = -2
DEAD = -1


def tail(d):
    """The value in the last slot of a token that starts d >= 1 slots earlier (slots._tail)."""
    return -2 - d


FLAG_ATOMIC = 1      # base unit or special: never merged away by removal, never scaffold
FLAG_ABSENT = 2      # Picky: removed from the vocabulary
FLAG_SCAFFOLD = 4    # Scaffold-BPE: scaffold token (token items in the queue are valid only with it)
FLAG_SPECIAL = 8

PAIR_VETOED = 1      # failed the veto once: never selected, never queued again
PAIR_MERGED = 2      # has been merged (plain BPE merges a pair at most once)
PAIR_QUEUED = 4      # has had a queue entry (a positive count when queued; SuperBPE's replay rule)

TOKEN_KEY_BASE = 1 << 62

# meta indices
M_TOKENS = 0         # number of tokens
M_PAIRS = 1          # number of pair ids in use
M_OCC = 2            # occurrence nodes in use
M_TOCC = 3           # token occurrence nodes in use
M_HEAP = 4           # heap size
M_POOL = 5           # bytes used in pool
M_STAMP = 6          # serial for "touched" marks
M_ALLOW_REMERGE = 7  # 1: a merged pair may be selected again (Picky restorations)
M_TRACK_TOKENS = 8   # 1: keep per-token occurrence lists (needed by replace_token)
M_TOKEN_LAST = 9     # 1: Scaffold token items sort after pairs of equal count (scaffold_tie='pair_first')
M_BLOCK_SHIFT = 10   # block_word[b] is the word of slot b << meta[M_BLOCK_SHIFT]
M_SIZE = 16

# status codes (see the module doc)
NO_ROOM = -1         # a one-merge kernel (merge_step, merge_best_step): grow the pools, call again
STOP_DONE = 0        # reached the target
STOP_EMPTY = 1       # no eligible pair left
STOP_MIN_FREQ = 2    # best count below min_frequency
STOP_STEPS = 3       # did max_steps steps (progress report, or the caller's budget)
STOP_ROOM = 4        # a pool or an output table must grow
STOP_TOKEN_ITEM = 5  # a token item (Scaffold) heads the queue (merge_best_step)
STOP_REMOVAL = 6     # Picky: a constituent of the last merge passes the IoS test (Python removes it)
STOP_LENGTH_CONFLICT = 7   # a merge spells an existing token of another length in base units (tables.py)

# veto indices
V_MAX_LEN = 0        # 0 = no limit
V_LEN_MODE = 1       # 1 = exact (len(a)+len(b) <= L), 2 = hf (both atomic or len(a)+len(b) < L)
V_MAX_WORDS = 2      # 0 = no limit; words = non-empty pieces split on byte 0x20
V_SIZE = 4

Words = namedtuple("Words", ['sym', 'slot_pair', 'word_count', 'word_end', 'block_word'])
Tokens = namedtuple("Tokens", ['tok_len', 'tok_left', 'tok_right', 'tok_freq', 'tok_flags', 'tok_ident', 'tok_boff', 'tok_blen', 'tok_occ_head', 'pool', 'strtab', 'tocc_slot', 'tocc_next'])
Pairs = namedtuple("Pairs", ['ptab', 'pair_left', 'pair_right', 'pair_count', 'pair_flags', 'pair_occ_head', 'pair_occ_n', 'pair_stamp', 'occ_slot', 'occ_next', 'pair_idx_lo', 'pair_idx_n', 'idx_slot'])
Heap = namedtuple("Heap", ['heap_count', 'heap_key', 'heap_item'])
# Kernels pass only the group a helper needs: handing numba a tuple of arrays costs a reference
# count per array per call, so a helper taking the whole state would pay for ~35 arrays each time.
EngineState = namedtuple("EngineState", ["words", "tokens", "pairs", "heap", "meta", "veto", "veto_bytes",
                                         "veto_offsets"])

# which arrays share a capacity (grown together)
GROUP_OF = {f: g for g in ('words', 'tokens', 'pairs', 'heap') for f in globals()[g.capitalize()]._fields}
TOKEN_ARRAYS = ("tok_len", "tok_left", "tok_right", "tok_freq", "tok_flags", "tok_ident", "tok_boff", "tok_blen",
                "tok_occ_head")
PAIR_ARRAYS = ("pair_left", "pair_right", "pair_count", "pair_flags", "pair_occ_head", "pair_occ_n", "pair_stamp",
               "pair_idx_lo", "pair_idx_n")
OCC_ARRAYS = ("occ_slot", "occ_next")
TOCC_ARRAYS = ("tocc_slot", "tocc_next")
HEAP_ARRAYS = ("heap_count", "heap_key", "heap_item")

_FILL = {"tok_left": -1, "tok_right": -1, "tok_occ_head": -1, "pair_occ_head": -1}


def pow2_at_least(n: int) -> int:
    p = 16
    while p < n:
        p <<= 1
    return p


def grow(st: EngineState, names, new_cap: int) -> EngineState:
    """Return a state whose arrays `names` (all in one group) have capacity `new_cap`."""
    group_name = GROUP_OF[names[0]]
    group = getattr(st, group_name)
    repl = {}
    for name in names:
        old = getattr(group, name)
        if len(old) >= new_cap:
            continue
        fill = _FILL.get(name, 0)
        # zero-filled growth comes from calloc: the untouched tail costs no resident memory
        new = np.zeros(new_cap, dtype=old.dtype) if fill == 0 else np.full(new_cap, fill, dtype=old.dtype)
        new[:len(old)] = old
        repl[name] = new
    return st._replace(**{group_name: group._replace(**repl)}) if repl else st


def replace_array(st: EngineState, name, array) -> EngineState:
    group_name = GROUP_OF[name]
    return st._replace(**{group_name: getattr(st, group_name)._replace(**{name: array})})
