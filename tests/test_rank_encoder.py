"""Tests for newbpe.encoders.rank (rank-based BPE, HF merge_all semantics) and the piece
cache in newbpe.encoders._cache.

The oracle is `reference_encode`, a deliberately naive Python transcription of the rule:
repeatedly merge the adjacent pair with the lowest rank (leftmost on ties) until no pair
has a rule. HF tokenizers is used as a second, independent oracle.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newbpe.encoders import _cache
from newbpe.encoders.rank import (
    CACHE_MAX_UNITS,
    HEAP_THRESHOLD,
    RankEncoder,
    _merge_heap,
    _merge_linear,
    build_merge_table,
    lookup_merge,
)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

A, B, C, D = 0, 1, 2, 3


# --------------------------------------------------------------------------------------
# helpers and the reference implementation


def reference_encode(merges, seq, token_units=None):
    """Lowest-rank-leftmost merge loop in plain Python (later duplicate pairs win)."""
    rules = {}
    for rank, (left, right, out) in enumerate(merges):
        rules[(left, right)] = (rank, out)
    if token_units is not None and len(seq) > 1:
        for token_id, units in enumerate(token_units):
            if units is not None and list(units) == list(seq):
                return [token_id]
    symbols = list(seq)
    while True:
        best = None
        for i in range(len(symbols) - 1):
            rule = rules.get((symbols[i], symbols[i + 1]))
            if rule is not None and (best is None or rule[0] < best[0]):
                best = (rule[0], i, rule[1])
        if best is None:
            return symbols
        _, i, out = best
        symbols[i:i + 2] = [out]


def pack(seqs):
    units = np.array([u for s in seqs for u in s], dtype=np.int64)
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seqs], out=offsets[1:])
    return units, offsets


def encode_many(encoder, seqs, threads=1):
    units, offsets = pack(seqs)
    ids, out_offsets = encoder.encode_units(units, offsets, threads=threads)
    assert ids.dtype == np.int64 and out_offsets.dtype == np.int64
    assert out_offsets.shape == (len(seqs) + 1,) and out_offsets[0] == 0
    assert out_offsets[-1] == ids.size
    return [ids[out_offsets[i]:out_offsets[i + 1]].tolist() for i in range(len(seqs))]


def encode_one(encoder, seq):
    return encode_many(encoder, [seq])[0]


def make_encoder(merges, n_tokens, **kwargs):
    return RankEncoder(np.array(merges, dtype=np.int64).reshape(-1, 3), n_tokens, **kwargs)


@st.composite
def merge_lists(draw, max_base=4, max_merges=40):
    """A valid merge list over unit sequences: every merge joins two existing tokens; if
    the joined sequence already is a token, the merge outputs that id (duplicate-string
    merges), so the same pair may also be listed twice. Returns (n_tokens, token_units,
    merges) where token_units[i] is token i's unit tuple."""
    n_base = draw(st.integers(1, max_base))
    token_units = [(u,) for u in range(n_base)]
    index = {t: i for i, t in enumerate(token_units)}
    merges = []
    # Mostly merge a pair that occurs in a small evolving corpus, like a BPE trainer
    # does: merges of independent random pairs rarely interact, and then bugs such as
    # acting on stale heap entries go unnoticed (measured: 2/300 vs 45/300 caught).
    corpus = draw(st.lists(st.lists(st.integers(0, n_base - 1), min_size=1, max_size=10),
                           min_size=1, max_size=20))
    for _ in range(draw(st.integers(0, max_merges))):
        pairs = [(w[i], w[i + 1]) for w in corpus for i in range(len(w) - 1)]
        if pairs and draw(st.integers(0, 4)) > 0:
            left, right = pairs[draw(st.integers(0, len(pairs) - 1))]
        else:
            left = draw(st.integers(0, len(token_units) - 1))
            right = draw(st.integers(0, len(token_units) - 1))
        units = token_units[left] + token_units[right]
        if units not in index:
            index[units] = len(token_units)
            token_units.append(units)
        merges.append((left, right, index[units]))
        corpus = [replace_pair(w, left, right, index[units]) for w in corpus]
    return len(token_units), token_units, merges


def replace_pair(word, left, right, out):
    """Trainer-style update: replace non-overlapping (left, right) from the left."""
    result, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == left and word[i + 1] == right:
            result.append(out)
            i += 2
        else:
            result.append(word[i])
            i += 1
    return result


def sequences(n_base_max, min_size=0, max_size=40):
    return st.lists(st.integers(0, n_base_max - 1), min_size=min_size, max_size=max_size)


# --------------------------------------------------------------------------------------
# hand-computed goldens


def test_golden_chain():
    # a b -> 3 (ab), ab c -> 4 (abc)
    enc = make_encoder([(A, B, 3), (3, C, 4)], 5)
    assert encode_one(enc, [A, B, C]) == [4]
    assert encode_one(enc, [A, B]) == [3]
    assert encode_one(enc, [A, B, A, B]) == [3, 3]
    assert encode_one(enc, [C, A, B]) == [C, 3]
    assert encode_one(enc, [A, B, C, A, B]) == [4, 3]
    assert encode_one(enc, [B, A]) == [B, A]
    assert encode_one(enc, [C]) == [C]
    assert encode_one(enc, []) == []


def test_golden_runs_merge_leftmost():
    enc = make_encoder([(A, A, 3)], 4)
    assert encode_one(enc, [A, A, A]) == [3, A]
    assert encode_one(enc, [A, A, A, A]) == [3, 3]
    assert encode_one(enc, [A, A, A, A, A]) == [3, 3, A]
    enc = make_encoder([(A, A, 3), (3, 3, 4)], 5)
    assert encode_one(enc, [A] * 3) == [3, A]
    assert encode_one(enc, [A] * 4) == [4]
    assert encode_one(enc, [A] * 7) == [4, 3, A]


def test_golden_lowest_rank_first_not_leftmost_first():
    # (b, c) has the lower rank, so it wins over the leftmost pair (a, b).
    enc = make_encoder([(B, C, 3), (A, B, 4)], 5)
    assert encode_one(enc, [A, B, C]) == [A, 3]
    assert encode_one(enc, [A, B, A, B, C]) == [4, A, 3]


def test_golden_later_rank_enables_earlier_rule():
    # rank 0: b c -> BC; 1: a b -> AB; 2: AB c -> ABC; 3: ABC d -> ABCD; 4: a BC -> ABC.
    # "abcd": b c first, then only rank 4 applies and makes ABC, which enables rank 3.
    # Applying merges once each in rank order would stop at [ABC, d].
    BC, AB, ABC, ABCD = 4, 5, 6, 7
    merges = [(B, C, BC), (A, B, AB), (AB, C, ABC), (ABC, D, ABCD), (A, BC, ABC)]
    enc = make_encoder(merges, 8)
    assert encode_one(enc, [A, B, C, D]) == [ABCD]
    assert encode_one(enc, [A, B, C]) == [ABC]
    assert encode_one(enc, [D, A, B, C, D, A, B]) == [D, ABCD, AB]


def test_golden_duplicate_pair_later_rank_wins():
    # (a, b) listed at rank 0 and rank 2: rank 2 (and its output 5) is the one that counts,
    # so (b, c) at rank 1 now comes first.
    enc = make_encoder([(A, B, 3), (B, C, 4), (A, B, 5)], 6)
    assert encode_one(enc, [A, B, C]) == [A, 4]
    assert encode_one(enc, [A, B]) == [5]


def test_golden_ignore_merges():
    # b c first, then no rule joins a and BC, although "abc" is a token.
    BC, AB, ABC = 3, 4, 5
    merges = [(B, C, BC), (A, B, AB), (AB, C, ABC)]
    token_units = [[A], [B], [C], [B, C], [A, B], [A, B, C], None]  # 6: a special token
    plain = make_encoder(merges, 7)
    ignoring = make_encoder(merges, 7, token_units=token_units, ignore_merges=True)
    assert encode_one(plain, [A, B, C]) == [A, BC]
    assert encode_one(ignoring, [A, B, C]) == [ABC]
    # Not a whole token: merges as usual.
    assert encode_one(ignoring, [A, B, C, C]) == [A, BC, C]
    assert encode_one(ignoring, [A, B]) == [AB]
    # The special token has no units; its id passes through like any unit.
    assert encode_many(ignoring, [[6], [A, B, C], [6, A, B]]) == [[6], [ABC], [6, AB]]


def test_golden_passthrough_and_empty_pieces():
    UNK = 4
    enc = make_encoder([(A, B, 3)], 5)
    assert encode_many(enc, [[A, UNK, B], [], [A, B, UNK, A, B], [UNK]]) == [
        [A, UNK, B], [], [3, UNK, 3], [UNK]]
    ids, offsets = enc.encode_units(np.zeros(0, np.int64), np.zeros(1, np.int64))
    assert ids.size == 0 and offsets.tolist() == [0]


def test_offsets_need_not_start_at_zero():
    enc = make_encoder([(A, B, 3)], 4)
    units = np.array([C, C, A, B, A, B, C], dtype=np.int64)
    ids, offsets = enc.encode_units(units, np.array([2, 4, 7]))
    assert ids.tolist() == [3, 3, C] and offsets.tolist() == [0, 1, 3]
    ids2, offsets2 = enc.encode_units(units, np.array([2, 4, 7]), threads=2)
    assert ids2.tolist() == ids.tolist() and offsets2.tolist() == offsets.tolist()


def test_invalid_inputs_rejected():
    enc = make_encoder([(A, B, 3)], 4)
    with pytest.raises(ValueError):
        enc.encode_units(np.array([A, 4]), np.array([0, 2]))  # id >= n_tokens
    with pytest.raises(ValueError):
        enc.encode_units(np.array([A, -1]), np.array([0, 2]))
    with pytest.raises(ValueError):
        enc.encode_units(np.array([A, B]), np.array([0, 3]))  # past the end
    with pytest.raises(ValueError):
        enc.encode_units(np.array([A, B]), np.array([0, 2, 1]))  # decreasing
    with pytest.raises(ValueError):
        enc.encode_units(np.array([A, B]), np.array([0, 2]), threads=0)
    with pytest.raises(ValueError):
        make_encoder([(A, B, 4)], 4)  # output id out of range
    with pytest.raises(ValueError):
        make_encoder([(A, B, 3)], 4, ignore_merges=True)  # needs token_units


def test_merge_table_lookup():
    merges = np.array([(A, B, 3), (B, C, 4), (A, B, 5), (3, 4, 6)], dtype=np.int64)
    table, bits = build_merge_table(merges)
    assert lookup_merge(table, bits, A, B) == (2 << 32) | 5
    assert lookup_merge(table, bits, B, C) == (1 << 32) | 4
    assert lookup_merge(table, bits, 3, 4) == (3 << 32) | 6
    assert lookup_merge(table, bits, B, A) == -1
    assert lookup_merge(table, bits, 4, 3) == -1
    # Large ids: the key packs left into the high 32 bits.
    big = np.array([(2**31 - 1, 0, 7), (0, 2**31 - 1, 8)], dtype=np.int64)
    table, bits = build_merge_table(big)
    assert lookup_merge(table, bits, 2**31 - 1, 0) == 7
    assert lookup_merge(table, bits, 0, 2**31 - 1) == (1 << 32) | 8
    assert lookup_merge(table, bits, 0, 0) == -1


# --------------------------------------------------------------------------------------
# property tests against the Python reference


@SETTINGS
@given(data=st.data(), bpe=merge_lists())
def test_matches_reference(data, bpe):
    n_tokens, token_units, merges = bpe
    n_base = sum(1 for t in token_units if len(t) == 1)
    seqs = data.draw(st.lists(sequences(n_base), max_size=8))
    enc = make_encoder(merges, n_tokens)
    assert encode_many(enc, seqs) == [reference_encode(merges, s) for s in seqs]


@SETTINGS
@given(data=st.data(), bpe=merge_lists())
def test_matches_reference_ignore_merges(data, bpe):
    n_tokens, token_units, merges = bpe
    n_base = sum(1 for t in token_units if len(t) == 1)
    # Mix whole tokens (which ignore_merges must emit as-is) with random sequences.
    tokens = st.sampled_from(token_units).map(list)
    seqs = data.draw(st.lists(st.one_of(sequences(n_base), tokens), max_size=8))
    enc = make_encoder(merges, n_tokens, token_units=token_units, ignore_merges=True)
    assert encode_many(enc, seqs) == [reference_encode(merges, s, token_units) for s in seqs]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), bpe=merge_lists(max_base=3))
def test_long_pieces_match_reference(data, bpe):
    # Long enough for the heap path and above the cache limit.
    n_tokens, token_units, merges = bpe
    n_base = sum(1 for t in token_units if len(t) == 1)
    seq = data.draw(sequences(n_base, min_size=HEAP_THRESHOLD, max_size=CACHE_MAX_UNITS + 60))
    enc = make_encoder(merges, n_tokens)
    assert encode_one(enc, seq) == reference_encode(merges, seq)


@SETTINGS
@given(data=st.data(), bpe=merge_lists(max_base=3))
def test_both_paths_match_reference_at_every_length(data, bpe):
    # Force each path for all piece lengths, so the heap is also tested on tiny pieces and
    # the linear rescan on long ones.
    n_tokens, token_units, merges = bpe
    n_base = sum(1 for t in token_units if len(t) == 1)
    seqs = data.draw(st.lists(sequences(n_base, max_size=120), min_size=1, max_size=5))
    expected = [reference_encode(merges, s) for s in seqs]
    for threshold in (2, 10**9):
        enc = make_encoder(merges, n_tokens)
        enc.heap_threshold = threshold
        assert encode_many(enc, seqs) == expected, threshold


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), bpe=merge_lists(max_base=3, max_merges=60))
def test_heap_equals_linear_on_long_sequences(data, bpe):
    n_tokens, token_units, merges = bpe
    n_base = sum(1 for t in token_units if len(t) == 1)
    n = data.draw(st.integers(2, 3000))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Runs of one unit stress the equal-rank, leftmost-first rule.
    if data.draw(st.booleans()):
        units = rng.integers(0, n_base, n).astype(np.int64)
    else:
        units = np.repeat(rng.integers(0, n_base, n), rng.integers(1, 50, n))[:n].astype(np.int64)
    merges = np.array(merges, dtype=np.int64).reshape(-1, 3)
    table, bits = build_merge_table(merges)
    out_lin = np.full(n, -7, np.int64)
    out_heap = np.full(n, -7, np.int64)
    m_lin = _merge_linear(units, 0, n, table, bits, out_lin, 0, np.empty(n, np.int64))
    m_heap = _merge_heap(units, 0, n, table, bits, np.ascontiguousarray(merges[:, 2]), out_heap, 0)
    assert m_lin == m_heap
    assert out_lin[:m_lin].tolist() == out_heap[:m_heap].tolist()


def test_million_unit_piece():
    # a^(2^20) with a, aa, aaaa, ... collapses to a single token; O(n^2) would not finish.
    merges = [(0, 0, 1)] + [(k, k, k + 1) for k in range(1, 20)]
    enc = make_encoder(merges, 21)
    n = 1 << 20
    ids, offsets = enc.encode_units(np.zeros(n, np.int64), np.array([0, n]))
    assert ids.tolist() == [20]
    ids, _ = enc.encode_units(np.zeros(n + 3, np.int64), np.array([0, n + 3]))
    assert ids.tolist() == [20, 1, 0]


# --------------------------------------------------------------------------------------
# parity with HF tokenizers


@st.composite
def char_bpe(draw, max_base=4):
    """A merge list from merge_lists() in HF's string form: (vocab, merges, alphabet)."""
    _, token_units, merges = draw(merge_lists(max_base=max_base))
    strings = ["".join("abcdefgh"[u] for u in units) for units in token_units]
    vocab = {string: i for i, string in enumerate(strings)}
    hf_merges = [(strings[left], strings[right]) for left, right, _ in merges]
    alphabet = "".join(string for string in strings if len(string) == 1)
    return vocab, hf_merges, alphabet


def hf_and_ours(vocab, merges, ignore_merges):
    from tokenizers import Tokenizer, models, pre_tokenizers

    hf = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), ignore_merges=ignore_merges))
    hf.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    id_merges = [(vocab[l], vocab[r], vocab[l + r]) for l, r in merges]
    token_units = [None] * len(vocab)
    for token, i in vocab.items():
        token_units[i] = [vocab[ch] for ch in token]
    ours = make_encoder(id_merges, len(vocab), token_units=token_units,
                        ignore_merges=ignore_merges)
    return hf, ours


def ours_on_text(enc, vocab, text, threads=1):
    pieces = [[vocab[ch] for ch in word] for word in text.split()]
    return [i for piece in encode_many(enc, pieces, threads=threads) for i in piece]


@SETTINGS
@given(data=st.data(), bpe=char_bpe(), ignore_merges=st.booleans())
def test_parity_with_hf(data, bpe, ignore_merges):
    vocab, merges, alphabet = bpe
    texts = data.draw(st.lists(st.text(alphabet=alphabet + " ", max_size=60), min_size=1, max_size=5))
    hf, ours = hf_and_ours(vocab, merges, ignore_merges)
    for text in texts:
        assert ours_on_text(ours, vocab, text) == hf.encode(text).ids, text


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), bpe=char_bpe(max_base=2), ignore_merges=st.booleans())
def test_parity_with_hf_long_words(data, bpe, ignore_merges):
    vocab, merges, alphabet = bpe
    text = data.draw(st.text(alphabet=alphabet, min_size=HEAP_THRESHOLD, max_size=600))
    hf, ours = hf_and_ours(vocab, merges, ignore_merges)
    assert ours_on_text(ours, vocab, text) == hf.encode(text).ids


def test_parity_with_hf_fixed_example():
    # Includes duplicate-string merges (ab+c and a+bc both make abc) and a repeated pair.
    vocab = {"a": 0, "b": 1, "c": 2, "d": 3, "bc": 4, "ab": 5, "abc": 6, "abcd": 7, "cd": 8}
    merges = [("b", "c"), ("a", "b"), ("ab", "c"), ("abc", "d"), ("a", "bc"), ("c", "d"),
              ("b", "c")]
    for ignore_merges in (False, True):
        hf, ours = hf_and_ours(vocab, merges, ignore_merges)
        for text in ["abcd", "abc", "abcdabcd", "aabbccdd abcd cd", "dcba", "abcdc", "bcd"]:
            assert ours_on_text(ours, vocab, text) == hf.encode(text).ids, (text, ignore_merges)


# --------------------------------------------------------------------------------------
# threads and cache


@SETTINGS
@given(data=st.data(), bpe=merge_lists(), ignore_merges=st.booleans())
def test_threads_give_identical_results(data, bpe, ignore_merges):
    n_tokens, token_units, merges = bpe
    n_base = sum(1 for t in token_units if len(t) == 1)
    seqs = data.draw(st.lists(sequences(n_base, max_size=70), max_size=40))
    enc = make_encoder(merges, n_tokens, token_units=token_units, ignore_merges=ignore_merges)
    units, offsets = pack(seqs)
    ids1, off1 = enc.encode_units(units, offsets, threads=1)
    for threads in (2, 3, 8):
        ids, off = enc.encode_units(units, offsets, threads=threads)
        assert ids.tolist() == ids1.tolist() and off.tolist() == off1.tolist()
    expected = [reference_encode(merges, s, token_units if ignore_merges else None) for s in seqs]
    assert [ids1[off1[i]:off1[i + 1]].tolist() for i in range(len(seqs))] == expected


def test_threads_identical_on_big_batch():
    rng = np.random.default_rng(1)
    merges = [(0, 1, 4), (4, 2, 5), (3, 3, 6), (6, 6, 7), (5, 0, 8), (1, 2, 9), (0, 9, 5)]
    enc = make_encoder(merges, 10)
    lengths = rng.integers(0, 13, 20000)
    lengths[::997] = 300  # some long, uncached pieces
    units = rng.integers(0, 4, int(lengths.sum())).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids1, off1 = enc.encode_units(units, offsets)
    ids2, off2 = enc.encode_units(units, offsets, threads=2)
    np.testing.assert_array_equal(ids1, ids2)
    np.testing.assert_array_equal(off1, off2)
    for i in range(0, 20000, 501):
        seq = units[offsets[i]:offsets[i + 1]].tolist()
        assert ids1[off1[i]:off1[i + 1]].tolist() == reference_encode(merges, seq)


def test_cache_hit_equals_cold_encode():
    rng = np.random.default_rng(2)
    merges = [(0, 1, 4), (4, 2, 5), (3, 3, 6), (6, 6, 7), (5, 0, 8), (1, 2, 9), (0, 9, 5)]
    vocab_pieces = [rng.integers(0, 4, rng.integers(1, 12)).tolist() for _ in range(50)]
    seqs = [vocab_pieces[i] for i in rng.integers(0, 50, 3000)]
    enc = make_encoder(merges, 10)
    first = encode_many(enc, seqs)
    stats = enc.cache_stats()
    assert stats["hits"] > 0 and stats["entries"] <= 50
    second = encode_many(enc, seqs)  # now nearly all hits
    assert enc.cache_stats()["misses"] == stats["misses"]
    cold = encode_many(make_encoder(merges, 10), seqs)
    assert first == second == cold == [reference_encode(merges, s) for s in seqs]
    enc.clear_cache()
    assert enc.cache_stats()["entries"] == 0
    assert encode_many(enc, seqs) == cold


def test_tiny_cache_clears_and_stays_correct():
    rng = np.random.default_rng(3)
    merges = [(0, 1, 4), (4, 2, 5), (3, 3, 6), (6, 6, 7), (5, 0, 8), (1, 2, 9), (0, 9, 5)]
    seqs = [rng.integers(0, 4, rng.integers(0, 20)).tolist() for _ in range(2000)]
    seqs += seqs[:500]
    for slots, pool in ((2, 1), (4, 16), (8, 64), (16, 5)):
        enc = make_encoder(merges, 10, cache_slots=slots, cache_pool=pool)
        assert encode_many(enc, seqs) == [reference_encode(merges, s) for s in seqs]
        assert encode_many(enc, seqs, threads=2) == encode_many(enc, seqs)
    assert enc.cache_stats()["clears"] > 0


# --------------------------------------------------------------------------------------
# the generic cache


def lookup(cache, key, capacity=64):
    out = np.full(capacity, -9, np.int64)
    got = _cache.cache_lookup(cache, np.array(key, dtype=np.int64), out, 3)
    return None if got < 0 else out[3:3 + got].tolist()


def test_cache_basics():
    bank = _cache.cache_create(2, 8, 32)
    c0, c1 = _cache.cache_view(bank, 0), _cache.cache_view(bank, 1)
    assert lookup(c0, [1, 2]) is None
    assert _cache.cache_insert(c0, np.array([1, 2]), np.array([7]))
    assert _cache.cache_insert(c0, np.array([2, 1]), np.array([8, 9, 10]))
    assert _cache.cache_insert(c0, np.array([], np.int64), np.array([5]))
    assert lookup(c0, [1, 2]) == [7]
    assert lookup(c0, [2, 1]) == [8, 9, 10]
    assert lookup(c0, []) == [5]
    assert lookup(c0, [1]) is None and lookup(c0, [1, 2, 0]) is None
    assert lookup(c1, [1, 2]) is None  # caches of a bank are independent
    assert not _cache.cache_insert(c0, np.arange(40), np.array([1]))  # can never fit
    assert not _cache.cache_insert(c0, np.zeros(_cache.MAX_LEN + 1, np.int64), np.zeros(0, np.int64))
    _cache.cache_clear(c0)
    assert lookup(c0, [1, 2]) is None
    meta = bank[2][0]
    assert meta[_cache.META_ENTRIES] == 0 and meta[_cache.META_HITS] == 3


def test_hash_distinguishes_high_bits_and_order():
    h = _cache.hash_ids
    keys = [[0], [1 << 40], [1 << 62], [1, 2], [2, 1], [1, 2, 0], []]
    assert len({h(np.array(k, np.int64)) for k in keys}) == len(keys)


@settings(max_examples=80, deadline=None)
@given(n_slots_log=st.integers(1, 4), pool=st.integers(1, 40),
       ops=st.lists(st.tuples(st.booleans(),
                              st.lists(st.integers(0, 3), max_size=4),
                              st.lists(st.integers(0, 2**40), max_size=4)), max_size=60))
def test_cache_against_model(n_slots_log, pool, ops):
    """Model: a dict that is emptied exactly when the cache's capacity rules say so."""
    n_slots = 1 << n_slots_log
    cache = _cache.cache_view(_cache.cache_create(1, n_slots, pool), 0)
    model, used = {}, 0
    for is_insert, key, value in ops:
        if is_insert:
            if tuple(key) in model:
                continue  # the API requires the key to be absent
            need = len(key) + len(value)
            stored = _cache.cache_insert(cache, np.array(key, np.int64), np.array(value, np.int64))
            assert stored == (need <= pool)
            if not stored:
                continue
            if len(model) >= n_slots // 2 or used + need > pool:
                model, used = {}, 0
            model[tuple(key)] = value
            used += need
        else:
            assert lookup(cache, key) == model.get(tuple(key))
    for key, value in model.items():
        assert lookup(cache, list(key)) == value


def test_cache_tells_colliding_keys_apart():
    # Word-wise FNV-1a collides when the second id cancels the first's difference, which
    # lets us check that a hit really compares the key, not just its hash.
    mask = (1 << 64) - 1
    basis, prime = 14695981039346656037, 1099511628211
    x0, x1, y0 = 1, 2, 3
    y1 = x1 ^ (((basis ^ x0) * prime) & mask) ^ (((basis ^ y0) * prime) & mask)
    y1 = y1 - (1 << 64) if y1 >= 1 << 63 else y1  # as int64
    key_x, key_y = np.array([x0, x1], np.int64), np.array([y0, y1], np.int64)
    assert _cache.hash_ids(key_x) == _cache.hash_ids(key_y)
    cache = _cache.cache_view(_cache.cache_create(1, 8, 32), 0)
    assert _cache.cache_insert(cache, key_x, np.array([10]))
    assert lookup(cache, key_y.tolist()) is None
    assert _cache.cache_insert(cache, key_y, np.array([20]))
    assert lookup(cache, key_x.tolist()) == [10]
    assert lookup(cache, key_y.tolist()) == [20]
