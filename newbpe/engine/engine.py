"""`Engine`: the one Python object every BPE-family trainer drives (see the package doc for its
operations). It owns an `EngineState` (state.py), calls the kernels (tables, queue, rewrite, loops)
and grows the pools when a kernel reports that it needs room. Per-merge Python overhead stays at a
few µs: anything per occurrence lives in a kernel.
"""
import types

import numpy as np

from . import state as S
from ..errors import NewbpeError
from .driver import Rows, drive

_KERNELS = None

# Words are laid out BUILD_STEP units at a time (pool room is checked per step, not per word).
BUILD_STEP = 1 << 12
# The pool of pair occurrences appended by merges holds 1/LIST_FRACTION of the word table's pairs
# (all of them on tables below SMALL_TABLE pairs, where its memory does not matter and rebuilding the
# index less often saves time); when it is full the occurrence index is rebuilt (Engine._rebuild_index).
LIST_FRACTION = 8
SMALL_TABLE = 1 << 20
LIST_SLACK = 1024
# A rebuild fewer than LIST_CLOSE merges after the previous one grows the list pool into the memory the
# shrinking index freed (Engine._rebuild_index).
LIST_CLOSE = 256
# Picky's per-token occurrence lists start with room for n_units // TOKEN_LIST_DIV nodes (then they
# are rebuilt from the slots or grow: Engine._token_lists_room).
TOKEN_LIST_DIV = 2


def _k():
    """The numba kernel modules, as one namespace (``K.queue.queue_head``…), imported on first use
    so that `import newbpe` stays instant."""
    global _KERNELS
    if _KERNELS is None:
        from . import tables, slots, queue, rewrite, loops, partition_kernels
        _KERNELS = types.SimpleNamespace(tables=tables, slots=slots, queue=queue, rewrite=rewrite, loops=loops,
                                         parts=partition_kernels)
    return _KERNELS


class Engine:
    """The merge engine over one word table (see the package doc for its operations). Build it with
    `Engine.build`; `st` is its `EngineState`, replaced whenever a pool grows."""

    def __init__(self, st, n_base):
        self.st = st
        self.n_base = n_base
        self._built = False       # occurrences may be re-indexed from the slots only once all are laid out
        self._token_nodes = 0     # token occurrence nodes after the last rebuild (_token_lists_room)
        self.index_rebuilds = 0   # pair occurrence index rebuilds (tests, measurements)
        self._index_budget = None  # bytes of index + list pool after the build (_rebuild_index)
        self._rebuild_stamp = 0   # M_STAMP (merges so far) at the last rebuild
        self.token_list_rebuilds = 0
        self.merge_events = []   # (a, b, new, merged_count), in order

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, units, offsets, counts, base_tokens, n_specials=0, *, max_token_length=None,
              max_token_length_mode="exact", max_words=None, forbid_substrings=(),
              allow_remerge=False, track_tokens=False, token_items="first", queue=True, base_idents=None,
              base_lengths=None, unit_map=None):
        """Build the engine over a word table.

        units/offsets: word w is ``units[offsets[w]:offsets[w+1]]`` (base-unit ids, or with
        `unit_map` bytes whose ids are unit_map[byte]: byte mode passes the counted words as they
        are, without an id array as large as the corpus' unique text); counts: int64 word counts. base_tokens: the bytes of ids 0 … n_base-1 (specials first, then the alphabet);
        specials are atomic and never appear in words. token_items: where Scaffold token items sort
        against pair items of equal count ("first" or "last"). queue=False leaves the queue empty
        and tiny (a partition of `PartitionedEngine`, which keeps one global queue). base_idents:
        the identity flag of each base token (int64; None: all 0). A token is (identity flag, bytes):
        two base tokens may share bytes under different flags, and a merge's token takes the flag of
        its left part (ByteSpan §6). base_lengths: how many slots of the word table each base token
        covers (None: 1 each); give a base token spelled by several smaller units (ByteSpan's
        "0x20 b", its seeded spans) its length in those units (bytes), so that a merge spelling it
        can reuse it (tables.py, "Lengths").
        """
        K = _k()
        n_base = len(base_tokens)
        if unit_map is not None:
            units = np.ascontiguousarray(units, dtype=np.uint8)
            unit_map = np.ascontiguousarray(unit_map, dtype=np.int32)
            if len(unit_map) != 256:
                raise ValueError("unit_map must map all 256 byte values")
            from ..units import byte_counts
            byte_n = byte_counts(units)
            present = unit_map[np.flatnonzero(byte_n)]
        else:
            units = np.asarray(units)
            present = units
            unit_map = np.zeros(0, dtype=np.int32)
        if len(present) and (present.min() < n_specials or present.max() >= n_base):
            raise ValueError("word units must be ids of base (non-special) tokens")
        if unit_map.size == 0:
            units = np.ascontiguousarray(units, dtype=np.int32)  # like sym: ids < 2**31
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        counts = np.ascontiguousarray(counts, dtype=np.int64)
        if len(counts) and counts.min() < 0:
            raise ValueError("word counts must be non-negative")
        n_words = len(counts)
        n_units = len(units)
        idents = np.zeros(n_base, np.int64) if base_idents is None else \
            np.ascontiguousarray(base_idents, dtype=np.int64)
        if idents.shape != (n_base,):
            raise ValueError(f"base_idents must have one flag per base token ({n_base}), not {len(idents)}")
        lengths = np.ones(n_base, np.int64) if base_lengths is None else \
            np.ascontiguousarray(base_lengths, dtype=np.int64)
        if lengths.shape != (n_base,) or (n_base and lengths.min() < 1):
            raise ValueError(f"base_lengths must be one length >= 1 per base token ({n_base})")
        if base_lengths is None:
            n_slots = n_units + n_words
        elif unit_map.size:
            n_slots = int((byte_n * lengths[np.maximum(unit_map, 0)]).sum()) + n_words
        else:
            n_slots = int(lengths[units].sum()) + n_words
        if n_slots >= 2**31 - 1:
            raise ValueError(f"word table too large ({n_slots} slots); split the corpus")
        n_adj = max(n_units - n_words, 0)
        tok_cap = max(2 * n_base, 1024)
        pair_cap = min(n_adj, 2 * n_words) + 1024      # grown on demand while building
        pool_cap = sum(len(t) for t in base_tokens) * 4 + 4096
        forb = [bytes(f) for f in forbid_substrings]
        veto_offsets = np.zeros(len(forb) + 1, dtype=np.int64)
        for i, f in enumerate(forb):
            veto_offsets[i + 1] = veto_offsets[i] + len(f)
        veto = np.zeros(S.V_SIZE, dtype=np.int64)
        if max_token_length:
            if max_token_length_mode not in ("exact", "hf"):
                raise ValueError(f"max_token_length_mode must be 'exact' or 'hf', not {max_token_length_mode!r}")
            veto[S.V_MAX_LEN] = int(max_token_length)
            veto[S.V_LEN_MODE] = 1 if max_token_length_mode == "exact" else 2
        veto[S.V_MAX_WORDS] = int(max_words or 0)
        meta = np.zeros(S.M_SIZE, dtype=np.int64)
        meta[S.M_ALLOW_REMERGE] = int(bool(allow_remerge))
        meta[S.M_TRACK_TOKENS] = int(bool(track_tokens))
        if token_items not in ("first", "last"):
            raise ValueError(f"token_items must be 'first' or 'last', not {token_items!r}")
        meta[S.M_TOKEN_LAST] = int(token_items == "last")
        i32 = np.int32
        tocc_cap = n_units // TOKEN_LIST_DIV + LIST_SLACK if track_tokens else LIST_SLACK
        # the pool of occurrences merges append between index rebuilds (zeros are calloc'ed: pages
        # never reached cost nothing)
        list_cap = max(n_adj // LIST_FRACTION, min(n_adj, SMALL_TABLE)) + LIST_SLACK
        heap_cap = pair_cap if queue else 16
        word_end = np.empty(n_words, dtype=np.int64)        # separator slots
        if base_lengths is None:
            word_end[:] = offsets[1:] + np.arange(n_words, dtype=np.int64)
        else:
            ends = np.zeros(n_units + 1, dtype=np.int64)       # slots before each unit
            np.cumsum(lengths[units] if not unit_map.size else lengths[np.maximum(unit_map, 0)][units],
                      out=ends[1:])
            word_end[:] = ends[offsets[1:]] + np.arange(n_words, dtype=np.int64)
        word_end = word_end.astype(i32)
        # word_of's block: about one word start per block (at most 2**16 slots)
        shift = int(min(max(n_slots // max(n_words, 1), 1).bit_length() - 1, 16))
        n_blocks = (n_slots >> shift) + 1
        block_word = np.empty(n_blocks + 1, dtype=i32)
        block_word[:n_blocks] = np.searchsorted(word_end, np.arange(n_blocks, dtype=np.int64) << shift)
        block_word[n_blocks] = n_words
        np.minimum(block_word, max(n_words - 1, 0), out=block_word)
        meta[S.M_BLOCK_SHIFT] = shift
        st = S.EngineState(
            words=S.Words(sym=np.empty(n_slots, i32), slot_pair=np.empty(n_slots, i32), word_count=counts,
                          word_end=word_end, block_word=block_word),
            tokens=S.Tokens(tok_len=np.zeros(tok_cap, np.int64), tok_left=np.full(tok_cap, -1, np.int64),
                            tok_right=np.full(tok_cap, -1, np.int64), tok_freq=np.zeros(tok_cap, np.int64),
                            tok_flags=np.zeros(tok_cap, np.int64), tok_ident=np.zeros(tok_cap, np.int64),
                            tok_boff=np.zeros(tok_cap, np.int64),
                            tok_blen=np.zeros(tok_cap, np.int64), tok_occ_head=np.full(tok_cap, -1, np.int64),
                            pool=np.zeros(pool_cap, np.uint8),
                            strtab=np.full(S.pow2_at_least(4 * tok_cap), -1, np.int64),
                            tocc_slot=np.zeros(tocc_cap, i32), tocc_next=np.zeros(tocc_cap, i32)),
            pairs=S.Pairs(ptab=np.full((S.pow2_at_least(2 * pair_cap), 2), -1, np.int64),
                          pair_left=np.zeros(pair_cap, i32), pair_right=np.zeros(pair_cap, i32),
                          pair_count=np.zeros(pair_cap, np.int64), pair_flags=np.zeros(pair_cap, np.int8),
                          pair_occ_head=np.full(pair_cap, -1, np.int64),
                          pair_occ_n=np.zeros(pair_cap, np.int64), pair_stamp=np.zeros(pair_cap, np.int64),
                          occ_slot=np.zeros(list_cap, i32), occ_next=np.zeros(list_cap, i32),
                          pair_idx_lo=np.zeros(pair_cap, np.int64), pair_idx_n=np.zeros(pair_cap, np.int64),
                          idx_slot=np.zeros(0, i32)),
            heap=S.Heap(heap_count=np.zeros(heap_cap, np.int64), heap_key=np.zeros(heap_cap, np.int64),
                        heap_item=np.zeros(heap_cap, i32)),
            meta=meta, veto=veto,
            veto_bytes=np.frombuffer(b"".join(forb) or b"\0", dtype=np.uint8).copy(),
            veto_offsets=veto_offsets,
        )
        for i, data in enumerate(base_tokens):
            flags = S.FLAG_ATOMIC | (S.FLAG_SPECIAL if i < n_specials else 0)
            data = np.frombuffer(bytes(data), dtype=np.uint8)
            K.tables.add_base_token(st, data, flags, idents[i], lengths[i])
        engine = cls(st, n_base)
        w = j = slot = 0
        while w < n_words:
            w, j, slot = K.rewrite.build_words(engine.st, units, unit_map, offsets, counts, w, j, slot, BUILD_STEP)
            if w < n_words:
                n = min(int(offsets[w + 1]) - max(j, int(offsets[w])), BUILD_STEP)
                engine._ensure((max(n, int(engine.st.meta[S.M_PAIRS]) // 2), 0, 0, 0, 0, 0))
        engine._built = True
        engine._rebuild_index()
        if queue:
            engine._ensure((0, 0, 0, int(engine.st.meta[S.M_PAIRS]), 0, 0))
            K.queue.heapify_all_pairs(engine.st)
        return engine

    # ------------------------------------------------------------------ pools
    def _ensure(self, room):
        """Grow every pool that cannot take `room` = (pairs, occ, tocc, heap, tokens, bytes) more.
        Returns whether anything grew."""
        K = _k()
        m = self.st.meta
        n_pairs, n_occ, n_tocc, n_heap, n_tok, n_bytes = (int(x) for x in room)
        if K.rewrite.has_room(self.st, n_pairs, n_occ, n_tocc, n_heap, n_tok, n_bytes):
            return False
        have = len(self.st.pairs.occ_slot)
        if self._built and int(m[S.M_OCC]) + n_occ > have and int(m[S.M_OCC]) >= have // 2:
            self._rebuild_index()       # before `st` is bound: the old index must not stay referenced
        st = self.st

        def cap(used, need, have):
            return max(2 * have, used + need + 1024)

        used = int(m[S.M_PAIRS])
        if used + n_pairs > len(st.pairs.pair_left):
            st = S.grow(st, S.PAIR_ARRAYS, cap(used, n_pairs, len(st.pairs.pair_left)))
        if 2 * (used + n_pairs) > len(st.pairs.ptab):
            st = S.replace_array(st, "ptab", np.full((S.pow2_at_least(4 * (used + n_pairs)), 2), -1, np.int64))
            K.tables.rehash_pairs(st)
        if int(m[S.M_OCC]) + n_occ > have:
            st = S.grow(st, S.OCC_ARRAYS, max(2 * have, int(m[S.M_OCC]) + n_occ + LIST_SLACK))
        have = len(st.tokens.tocc_slot)
        if int(m[S.M_TOCC]) + n_tocc > have:
            st = self._token_lists_room(st, n_tocc, have)
        have = len(st.heap.heap_count)
        if int(m[S.M_HEAP]) + n_heap > have:
            st = S.grow(st, S.HEAP_ARRAYS, cap(int(m[S.M_HEAP]), n_heap, have))
        used = int(m[S.M_TOKENS])
        if used + n_tok > len(st.tokens.tok_len):
            st = S.grow(st, S.TOKEN_ARRAYS, cap(used, n_tok, len(st.tokens.tok_len)))
        if 2 * (used + n_tok) > len(st.tokens.strtab):
            st = S.replace_array(st, "strtab", np.full(S.pow2_at_least(4 * (used + n_tok)), -1, np.int64))
            K.tables.rehash_strings(st)
        if int(m[S.M_POOL]) + n_bytes > len(st.tokens.pool):
            st = S.grow(st, ("pool",), cap(int(m[S.M_POOL]), n_bytes, len(st.tokens.pool)))
        self.st = st
        return True

    def _rebuild_index(self):
        """Rebuild the pair occurrence index from the word table (state.py, "Pair occurrences"):
        stale entries go and the appended lists empty, so memory follows the live occurrences (at
        most one per slot, 4 bytes each) instead of growing with every merge. The old index is
        dropped before the new one is allocated. O(slots + pairs) (~0.1-0.3 s on 48M slots on this
        machine); a rebuild happens when the list pool is full and at least half of it was appended
        since the last one.

        Memory stays within what the index and the pool took after the build (`_index_budget`: 4
        bytes per occurrence then, plus the pool of n_adj / LIST_FRACTION 8-byte entries): merges
        shrink the index, and a rebuild that comes fewer than LIST_CLOSE merges after the previous
        one gives that freed memory to the pool (a fresh calloc'ed one: the emptied lists need no
        copy). Without it SuperBPE's replay of 16k merges on a 48M-slot stage-2 table (Gutenberg
        50 MB), whose first merges each rewrite ~1M occurrences and append two per occurrence,
        rebuilt 13-16 times, ~3.5 s of its ~12 s."""
        K = _k()
        self.st = S.replace_array(self.st, "idx_slot", np.zeros(0, np.int32))
        total = int(K.slots.index_count(self.st))
        self.st = S.replace_array(self.st, "idx_slot", np.empty(total, np.int32))
        K.slots.index_fill(self.st)
        self.index_rebuilds += 1
        pairs, stamp = self.st.pairs, int(self.st.meta[S.M_STAMP])
        if self._index_budget is None:
            self._index_budget = pairs.idx_slot.nbytes + pairs.occ_slot.nbytes + pairs.occ_next.nbytes
        elif stamp - self._rebuild_stamp < LIST_CLOSE:
            cap = (self._index_budget - pairs.idx_slot.nbytes) // 8
            if cap > len(pairs.occ_slot) + LIST_SLACK:
                for name in S.OCC_ARRAYS:               # the old pool goes before the new one is allocated
                    self.st = S.replace_array(self.st, name, np.zeros(0, np.int32))
                for name in S.OCC_ARRAYS:
                    self.st = S.replace_array(self.st, name, np.zeros(cap, np.int32))
        self._rebuild_stamp = stamp

    def _token_lists_room(self, st, need, have):
        """Room for `need` more token occurrence nodes (track_tokens: Picky). The lists are
        append-only and every node appended makes an older one stale, so once an eighth of the pool
        was appended since the last rebuild the lists are rebuilt from the word table
        (slots.compact_token_occurrences) instead of the pool doubling with every merge; the pool
        grows by a quarter only when that leaves less than an eighth free. Returns the state."""
        appended = int(st.meta[S.M_TOCC]) - self._token_nodes
        if self._built and appended >= have // 8:
            self._token_nodes = int(_k().slots.compact_token_occurrences(st))
            self.token_list_rebuilds += 1
        used = int(st.meta[S.M_TOCC])
        if used + need + have // 8 > have:
            st = S.grow(st, S.TOCC_ARRAYS, max(used + need, have) + have // 4 + LIST_SLACK)
        return st

    def _grow_for_head(self, extra_heap=0):
        """Grow the pools for a merge of the valid head pair (`merge_room`, plus `extra_heap` queue
        entries): what a loop kernel or `merge_best` that stopped for room needs. Returns whether
        anything grew."""
        K = _k()
        kind, _, pid = K.queue.queue_head(self.st, False)
        if kind != 1:
            return False
        r = K.rewrite.merge_room(self.st, pid)
        return self._ensure((r[0], r[1], r[2], r[3] + extra_heap, r[4], r[5]))

    # ------------------------------------------------------------------ queue
    def head(self):
        """(kind, count, ident) of the valid queue head without removing it: kind 'pair' with
        ident (a, b), kind 'token' with a token id, or None when the queue is empty."""
        kind, count, ident = _k().queue.queue_head(self.st, False)
        if kind == 0:
            return None
        if kind == 1:
            return "pair", int(count), (int(self.st.pairs.pair_left[ident]), int(self.st.pairs.pair_right[ident]))
        return "token", int(count), int(ident)

    def pop(self):
        """Remove and return the valid head (same shape as `head`)."""
        h = self.head()
        if h is not None:
            _k().queue.queue_head(self.st, True)
        return h

    def best(self):
        """((a, b), count) of the best eligible pair, or None. Only valid when no token items wait."""
        h = self.head()
        if h is None:
            return None
        if h[0] != "pair":
            raise RuntimeError("best() called while a token item heads the queue; use head()")
        return h[2], h[1]

    def head_count(self):
        """Priority of the valid queue head (0 if empty): what Scaffold-BPE compares against."""
        h = self.head()
        return 0 if h is None else h[1]

    def push_token(self, t):
        """Queue a token item for token t with its current frequency (it must be FLAG_SCAFFOLD)."""
        self._ensure((0, 0, 0, 1, 0, 0))
        _k().queue.push_token(self.st.tokens, self.st.heap, self.st.meta, int(t))

    # ------------------------------------------------------------------ operations
    def merge(self, a, b, new=None):
        """Merge every occurrence of (a, b). The output token is `new` if given (replay), else the
        existing token (ident(a), bytes(a)+bytes(b)) if any (a duplicate-string merge), else a new
        token with that identity. Returns (new_id, merged_count, created)."""
        K = _k()
        a, b = int(a), int(b)
        if new is not None and new > self.n_tokens:
            raise ValueError(f"replayed merge output {new} skips ids (next id is {self.n_tokens})")
        while True:
            status, out, merged, created = K.rewrite.merge_step(self.st, a, b, -1 if new is None else int(new))
            if status == S.STOP_LENGTH_CONFLICT:
                raise NewbpeError(self._length_conflict(a, b))
            if status != S.NO_ROOM:
                break
            pid = K.tables.pair_find(self.st.pairs, a, b)
            nb = int(self.st.tokens.tok_blen[a] + self.st.tokens.tok_blen[b])
            self._ensure(K.rewrite.merge_room(self.st, pid) if pid >= 0 else (0, 0, 0, 0, 1, nb))
        self.merge_events.append((a, b, int(out), int(merged)))
        return int(out), int(merged), bool(created)

    def merge_best(self, min_count=1):
        """Merge the best eligible pair (operation 1 of the engine contract) in one kernel call.
        Returns ((a, b), new_id, merged_count, created), or None when no pair has count >= min_count
        (or a Scaffold token item heads the queue: use head() then)."""
        K = _k()
        while True:
            status, a, b, new, merged, created = K.loops.merge_best_step(self.st, int(min_count))
            if status == S.STOP_LENGTH_CONFLICT:
                raise NewbpeError(self._length_conflict(int(a), int(b)))
            if status != S.NO_ROOM:
                break
            self._grow_for_head()
        if status != 0:
            return None
        self.merge_events.append((int(a), int(b), int(new), int(merged)))
        return (int(a), int(b)), int(new), int(merged), bool(created)

    def _length_conflict(self, a=None, b=None):
        """The message of a merge (a, b) (default: the head pair) that spells an existing token of
        another length (tables.py, "Lengths")."""
        if a is None:
            a, b = self.best()[0]
        t = self.find_token(self.token_bytes(a) + self.token_bytes(b), self.token_ident(a))
        return (f"merge {self.token_bytes(a)!r} + {self.token_bytes(b)!r} spells token {t}, which covers "
                f"{self.token_len(t)} base unit(s), not {self.token_len(a) + self.token_len(b)}: a special or "
                f"base token of several characters is spelled inside a word (build the engine with base_lengths)")

    def replace(self, token, pieces, check=True):
        """Replace every occurrence of `token` by `pieces` (token ids whose bytes concatenate to
        the token's, the first with the token's identity flag; check=False skips verifying that, for
        callers that derive the pieces from the token's own parents). Needs track_tokens=True.
        Returns the number of occurrences replaced."""
        K = _k()
        pieces = np.asarray(pieces, dtype=np.int64)
        if check and (b"".join(self.token_bytes(p) for p in pieces) != self.token_bytes(token) or
                      (len(pieces) and self.token_ident(pieces[0]) != self.token_ident(token))):
            raise ValueError(f"pieces {pieces.tolist()} do not spell token {token}")
        if not self.st.meta[S.M_TRACK_TOKENS]:
            raise RuntimeError("replace() needs an engine built with track_tokens=True")
        self._ensure(K.rewrite.replace_room(self.st, int(token), len(pieces)))
        return int(K.rewrite.replace_token(self.st, int(token), pieces))

    def replay(self, merges, progress=None):
        """Apply a merge list in order (a, b[, new]) whatever the current counts, then the engine
        carries on from there. Returns the merged count of each."""
        out = []
        for i, m in enumerate(merges):
            new = int(m[2]) if len(m) > 2 else None
            out.append(self.merge(m[0], m[1], new)[1])
            if progress and i % 1000 == 0:
                progress("replay", i, len(merges))
        return out

    def replay_strings(self, merges, skip_rule="reference", progress=None):
        """Replay merges given as (left bytes, right bytes) in order whatever their counts, with
        SuperBPE's skip rule (supertokens.md §2.3 step 3: "reference" or "zero_count"), inside numba
        (loops.run_replay; the Python loop of `merge` calls it replaces is the reference in
        tests/test_superbpe.py). The strings become integer keys here, once: key_tok[key] is the token
        spelling a string (the initial tokens, then each token a replayed merge creates; tokens are
        told apart by bytes alone, as in SuperBPE, whose identity flags are all 0). Returns the
        number of merges skipped."""
        if skip_rule not in ("reference", "zero_count"):
            raise ValueError(f"skip_rule must be 'reference' or 'zero_count', not {skip_rule!r}")
        K = _k()
        keys = {}
        flat = [keys.setdefault(s, len(keys)) for left, right in merges for s in (left, right, left + right)]
        rows = np.array(flat, dtype=np.int64).reshape(len(merges), 3)
        initial = {data: t for t, data in enumerate(self.vocab_bytes())}
        key_tok = np.array([initial.get(s, -1) for s in keys], dtype=np.int64)
        out = Rows(4, len(merges))
        info = np.zeros(K.loops.R_SIZE, dtype=np.int64)

        def step(i, max_steps):
            status, j, out.n = K.loops.run_replay(self.st, rows, key_tok, skip_rule == "reference", i, max_steps,
                                                  out.array, out.n, info)
            return status, j, j - i
        drive(step, lambda: self._ensure(info[:6]), 0, len(merges), (out,),
              progress and (lambda _, i, n: progress("replay", i, n)),
              conflict=lambda: self._length_conflict(int(info[K.loops.R_A]), int(info[K.loops.R_B])))
        self.merge_events.extend(map(tuple, out.rows().tolist()))
        return int(info[K.loops.R_SKIPPED])

    def run_bpe(self, visible, target, min_count=1, progress=None, report_every=1000):
        """Plain greedy BPE inside numba (loops.run_bpe) until `visible` reaches `target`
        (duplicate-string merges do not count). Returns (visible, stop) with stop in {'done',
        'empty', 'min_frequency'}."""
        K = _k()
        out = Rows(4, target - visible)

        def step(visible, max_steps):
            n = out.n
            status, visible, out.n = K.loops.run_bpe(self.st, visible, target, min_count, max_steps, out.array, n)
            return status, visible, out.n - n
        visible, stop = drive(step, self._grow_for_head, visible, target, (out,), progress, report_every,
                              conflict=self._length_conflict)
        self.merge_events.extend(map(tuple, out.rows().tolist()))
        return visible, stop

    def run_scaffold(self, visible, target, min_count=1, head_after=True, progress=None,
                     report_every=1000, max_steps=None):
        """Scaffold-BPE's loop inside numba (loops.run_scaffold) until `visible` non-scaffold
        tokens reach `target`, or for at most `max_steps` iterations (debug stepping). Returns
        (visible, stop, events) with events an (n, 5) int64 array of (kind, token, freq, head,
        merge index), kind in {'flag': 1, 'unflag_pop': 2, 'rederive': 3}; stop in {'done',
        'empty', 'min_frequency', 'steps'}."""
        K = _k()
        out = Rows(4, target - visible)
        log = Rows(5, 2 * (target - visible), need=3)      # <= 3 events per iteration

        def step(visible, max_steps):
            status, visible, out.n, log.n, done = K.loops.run_scaffold(
                self.st, visible, target, min_count, max_steps, bool(head_after), out.array, out.n, log.array,
                log.n)
            return status, visible, done
        # a scaffold merge may push up to 4 token items besides the merge's pairs
        visible, stop = drive(step, lambda: self._grow_for_head(extra_heap=4), visible, target, (out, log),
                              progress, report_every, max_steps, self._length_conflict)
        events = log.rows().copy()
        events[:, 4] += len(self.merge_events)          # merge index over the whole run
        self.merge_events.extend(map(tuple, out.rows().tolist()))
        return visible, stop, events

    def run_picky(self, present, target, picky, threshold, min_count=1, max_steps=1 << 62):
        """Picky BPE's merges inside numba (loops.run_picky) until `present` reaches `target`, a
        merge leaves a constituent to remove ('removal'), or `max_steps` merges. `picky` packs the
        quirk options (`picky_options`). Returns (present, stop, merges, stats) with merges the
        (a, b, new, merged) rows done and stats [merges, restorations, duplicates, a passed, b passed]
        (the last two: the removal test of the last merge's constituents, on stop 'removal')."""
        K = _k()
        out = Rows(4, 256)                  # a removal stops the loop early: most calls merge a few
        stats = np.zeros(5, dtype=np.int64)

        def step(present, max_steps):
            n = out.n
            status, present, out.n = K.loops.run_picky(self.st, present, target, min_count, max_steps, picky,
                                                       float(threshold), out.array, n, stats)
            return status, present, out.n - n
        present, stop = drive(step, self._grow_for_head, present, target, (out,), None, None, max_steps,
                              self._length_conflict)
        rows = list(map(tuple, out.rows().tolist()))
        self.merge_events.extend(rows)
        return present, stop, rows, stats.tolist()

    @staticmethod
    def picky_options(*, ios_ge, child_total, self_pair_ios, count_duplicates):
        """Picky's quirk options as the int64 array `run_picky` and `picky_passes` take, packed by
        name (loops.picky_options)."""
        return _k().loops.picky_options(ios_ge=ios_ge, child_total=child_total, self_pair_ios=self_pair_ios,
                                        count_duplicates=count_duplicates)

    def picky_passes(self, x, merged, new, self_pair, picky, threshold):
        """Picky's removal test for constituent x after a merge (loops.picky_passes)."""
        return bool(_k().loops.picky_passes(self.st, int(x), int(merged), int(new), bool(self_pair), picky,
                                            float(threshold)))

    def best_pair_count(self):
        """Count of the best eligible pair by a full scan (debug checks; ignores the queue)."""
        return int(_k().queue.best_pair_count(self.st))

    # ------------------------------------------------------------------ read access
    @property
    def n_tokens(self):
        return int(self.st.meta[S.M_TOKENS])

    def token_freq(self, t):
        return int(self.st.tokens.tok_freq[t])

    def token_freqs(self):
        return self.st.tokens.tok_freq[:self.n_tokens].copy()

    def token_bytes(self, t):
        off, n = int(self.st.tokens.tok_boff[t]), int(self.st.tokens.tok_blen[t])
        return bytes(self.st.tokens.pool[off:off + n])

    def token_ident(self, t):
        """The identity flag of token t (0 unless the base was built with `base_idents`)."""
        return int(self.st.tokens.tok_ident[t])

    def token_idents(self):
        """Identity flags of every token (a list of int)."""
        return self.st.tokens.tok_ident[:self.n_tokens].tolist()

    def find_token(self, data, ident=0):
        """Id of the token (ident, data), or None."""
        t = int(_k().tables.find_bytes(self.st, np.frombuffer(bytes(data), dtype=np.uint8), int(ident)))
        return None if t < 0 else t

    def token_len(self, t):
        return int(self.st.tokens.tok_len[t])

    def parents(self, t):
        return int(self.st.tokens.tok_left[t]), int(self.st.tokens.tok_right[t])

    def flags(self, t):
        return int(self.st.tokens.tok_flags[t])

    def token_flags(self):
        """Flags of every token (a list of int)."""
        return self.st.tokens.tok_flags[:self.n_tokens].tolist()

    def set_flag(self, t, flag, on=True):
        if on:
            self.st.tokens.tok_flags[t] |= flag
        else:
            self.st.tokens.tok_flags[t] &= ~flag

    def pair_count(self, a, b):
        pid = _k().tables.pair_find(self.st.pairs, int(a), int(b))
        return 0 if pid < 0 else int(self.st.pairs.pair_count[pid])

    def pair_was_queued(self, a, b):
        """Whether pair (a, b) ever had a queue entry: a positive count when the queue was built, or
        raised to a positive count by a merge (SuperBPE's replay rule, supertokens.md §2.3 step 3: the
        fork skips an inherited merge whose pair never had one). Single engine only (a partition of
        `PartitionedEngine` has no queue)."""
        pid = _k().tables.pair_find(self.st.pairs, int(a), int(b))
        return pid >= 0 and (int(self.st.pairs.pair_flags[pid]) & S.PAIR_QUEUED) != 0

    def n_vetoed_pairs(self):
        """How many pairs the veto has discarded (each once, for good)."""
        flags = self.st.pairs.pair_flags[:int(self.st.meta[S.M_PAIRS])]
        return int(np.count_nonzero(flags & S.PAIR_VETOED))

    def pair_counts(self):
        """{(a, b): count} of every pair with a non-zero count."""
        left, right, count = _k().tables.live_pairs(self.st)
        return {(int(a), int(b)): int(c) for a, b, c in zip(left, right, count)}

    def segmentation(self):
        """The current segmentation of every word: a list of token-id lists."""
        tokens, offsets = _k().rewrite.segmentation(self.st)
        return [tokens[offsets[w]:offsets[w + 1]].tolist() for w in range(len(offsets) - 1)]

    def word_counts(self):
        return self.st.words.word_count

    def vocab_bytes(self):
        n = self.n_tokens
        pool = self.st.tokens.pool.tobytes()
        return [pool[o:o + k] for o, k in zip(self.st.tokens.tok_boff[:n].tolist(), self.st.tokens.tok_blen[:n].tolist())]

    def memory_bytes(self):
        """Bytes held by the engine's arrays."""
        return sum(a.nbytes for g in (self.st.words, self.st.tokens, self.st.pairs, self.st.heap) for a in g) + \
            self.st.meta.nbytes
