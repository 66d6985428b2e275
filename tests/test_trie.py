"""The shared token trie (newbpe/encoders/_trie.py) on its own: every lookup equals a naive scan
over the token list (first listed wins between tokens with the same units)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from newbpe.encoders._trie import NO_PAYLOAD, ROOT, build_trie, pack_units, trie_build, trie_child, \
    trie_exact, trie_longest, trie_nodes, trie_payload, trie_token

SETTINGS = settings(max_examples=150, deadline=None)

units_st = st.lists(st.integers(0, 4), min_size=1, max_size=6)
vocab_st = st.dictionaries(st.integers(10, 60), units_st, max_size=25)
text_st = st.lists(st.integers(0, 5), max_size=14)           # unit 5 is in no token


def first_listed(vocab):
    """unit tuple -> lowest id spelling it (build_trie lists ids in increasing order)."""
    out = {}
    for t in sorted(vocab):
        out.setdefault(tuple(vocab[t]), t)
    return out


def naive_longest(vocab, text, start, stop):
    spelled = first_listed(vocab)
    for length in range(stop - start, 0, -1):
        t = spelled.get(tuple(text[start:start + length]))
        if t is not None:
            return t, length
    return -1, 0


@SETTINGS
@given(vocab_st, text_st, st.data())
def test_longest_match_equals_a_naive_scan(vocab, text, data):
    trie = build_trie(vocab)
    units = np.array(text, dtype=np.int64)
    start = data.draw(st.integers(0, len(text)))
    stop = data.draw(st.integers(start, len(text)))
    assert tuple(trie_longest(trie, units, start, stop)) == naive_longest(vocab, text, start, stop)


@SETTINGS
@given(vocab_st, text_st)
def test_exact_match_and_payloads(vocab, text):
    payload = {t: 1000 + 7 * t for t in vocab}
    trie = build_trie(vocab, payload)
    spelled = first_listed(vocab)
    units = np.array(text, dtype=np.int64)
    for start in range(len(text)):
        for stop in range(start + 1, len(text) + 1):
            assert trie_exact(trie, units, start, stop) == spelled.get(tuple(text[start:stop]), -1)
    for seq, t in spelled.items():                  # walking a token's units reaches its node
        node = ROOT
        for u in seq:
            node = trie_child(trie, node, u)
            assert node > ROOT
        assert trie_token(trie, node) == t and trie_payload(trie, node) == payload[t]


def test_nodes_prefixes_and_missing_payload():
    vocab = {7: [1, 2, 3], 8: [1, 2], 9: [1, 2, 3], 3: [4]}
    trie = build_trie(vocab, {9: 5})
    assert trie_nodes(trie) == 5                    # root, 1, 1-2, 1-2-3, 4
    node = trie_child(trie, trie_child(trie, ROOT, 1), 2)
    assert trie_token(trie, node) == 8 and trie_payload(trie, node) == NO_PAYLOAD
    node = trie_child(trie, node, 3)
    assert trie_token(trie, node) == 7              # 7 and 9 spell the same units: 7 is listed first
    assert trie_token(trie, trie_child(trie, ROOT, 1)) == -1 and trie_child(trie, ROOT, 2) == -1
    units = np.array([1, 2, 3, 1, 2, 4], dtype=np.int64)
    assert tuple(trie_longest(trie, units, 0, 6)) == (7, 3)
    assert tuple(trie_longest(trie, units, 0, 2)) == (8, 2)
    assert tuple(trie_longest(trie, units, 3, 6)) == (8, 2)
    assert tuple(trie_longest(trie, units, 1, 6)) == (-1, 0)


def test_empty_trie_and_flat_arrays():
    trie = build_trie({})
    assert trie_nodes(trie) == 1
    assert tuple(trie_longest(trie, np.array([1, 2], dtype=np.int64), 0, 2)) == (-1, 0)
    flat, offsets, ids = pack_units({5: [3, 4], 2: np.array([1])})
    assert flat.tolist() == [1, 3, 4] and offsets.tolist() == [0, 1, 3] and ids.tolist() == [2, 5]
    trie = trie_build(flat, offsets, ids, np.array([10, 20], dtype=np.int64))
    assert trie_exact(trie, np.array([3, 4], dtype=np.int64), 0, 2) == 5
