"""Memory follows the longest piece, not the corpus or the longest line (issue 12).

Engine: words are laid out in bounded steps, the pair occurrence index is rebuilt from the slots
(tests force that on every merge and compare with the default run), and the word table costs a
bounded number of bytes per unit. Training on one long piece is measured in a subprocess against a
tiny-input baseline. The cutting of long lines and texts is tested in test_cuts.py.
"""
import json
import os
import subprocess
import sys
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe.engine import engine as engine_mod      # the module: pool constants, S
from newbpe.engine import Engine, PartitionedEngine

from conftest import ROOT, BUNDLED
from test_engine import build, build_flagged, check_exact, reference_bpe, flagged_words, extra_base


def tighten(mp):
    """Pools so small that every merge rebuilds the occurrence index (and Picky's token lists)
    and every word is laid out 3 units at a time."""
    mp.setattr(engine_mod, "BUILD_STEP", 3)
    mp.setattr(engine_mod, "LIST_FRACTION", 1 << 30)
    mp.setattr(engine_mod, "SMALL_TABLE", 0)
    mp.setattr(engine_mod, "LIST_SLACK", 1)
    mp.setattr(engine_mod, "TOKEN_LIST_DIV", 1 << 30)
    mp.setattr(engine_mod, "LIST_CLOSE", 0)           # the pool never grows into the index's memory


WORDS = st.dictionaries(st.text("abcd", min_size=1, max_size=40), st.integers(1, 6), min_size=1, max_size=12)


@given(WORDS)
def test_rebuilt_occurrence_index_gives_the_same_merges(words):
    reference, alpha = build(words)
    reference.run_bpe(len(alpha), len(alpha) + 30)
    with pytest.MonkeyPatch.context() as mp:
        tighten(mp)
        tight, _ = build(words)
        tight.run_bpe(len(alpha), len(alpha) + 30)
    assert tight.merge_events == reference.merge_events
    assert tight.segmentation() == reference.segmentation()
    check_exact(tight)
    if len(tight.merge_events) > 2:
        assert tight.index_rebuilds > 1          # the build's own, then merges'


@given(WORDS, st.integers(0, 10**6))
def test_rebuilt_token_lists_keep_replace_exact(words, seed):
    rng = random.Random(seed)
    with pytest.MonkeyPatch.context() as mp:
        tighten(mp)
        e, _ = build(words, track_tokens=True, allow_remerge=True)
        for _ in range(12):
            b = e.best()
            if b is None:
                break
            new, merged, created = e.merge(*b[0])
            if rng.random() < 0.5 and e.token_len(new) > 1:
                before = e.token_freq(new)
                assert e.replace(new, list(e.parents(new))) == before
                assert new not in {t for seg in e.segmentation() for t in seg}
            check_exact(e)


@pytest.mark.parametrize("algo,kw", [("picky", {"threshold": 0.8}), ("scaffold", {}), ("bpe", {})])
def test_trainers_give_the_same_model_with_tight_pools(algo, kw, shakespeare):
    lines = shakespeare.splitlines(keepends=True)[:400]
    reference = newbpe.train(lines, algo=algo, vocab_size=400, **kw)
    with pytest.MonkeyPatch.context() as mp:
        tighten(mp)
        tight = newbpe.train(lines, algo=algo, vocab_size=400, **kw)
    assert tight.to_dict() == reference.to_dict()


def long_word(n):
    """One word of n bytes of English (Shakespeare without line breaks, repeated)."""
    text = (BUNDLED / "en" / "tinyshakespeare.txt").read_bytes().replace(b"\n", b" ")
    return (text * (n // len(text) + 1))[:n]


def test_engine_on_one_long_word_costs_a_few_bytes_per_unit(monkeypatch):
    """Structural bound, independent of the machine: the engine's arrays for one word of n units
    (as on tables of SMALL_TABLE pairs and more). Before issue 12's fix they took ~130 bytes per
    unit (a pair table sized for the word's length, linked occurrence nodes doubling with the
    merges, two int32 arrays per slot more)."""
    monkeypatch.setattr(engine_mod, "SMALL_TABLE", 0)
    n = 1 << 20
    wc = newbpe.WordCounts.from_dict({long_word(n): 1}, pretokenizer="none")
    from newbpe.trainers.base import layout
    base = layout(wc)
    e = Engine.build(base.unit_data, base.offsets, base.counts, base.base_token_bytes(), unit_map=base.unit_map)

    def bound():        # sym + slot_pair + index: 12 bytes per unit, list pool 1; pair tables per pair
        return 13.5 * n + 256 * int(e.st.meta[engine_mod.S.M_PAIRS]) + (1 << 20)
    assert e.memory_bytes() < bound()
    e.run_bpe(256, 600)
    assert e.memory_bytes() < bound()
    pairs = int(e.st.meta[engine_mod.S.M_PAIRS])
    assert len(e.st.pairs.ptab) <= 8 * (pairs + 2 * e.n_tokens + 2)     # the pairs met, not the word's length
    check_exact(e)


def test_list_pool_grows_only_into_the_memory_the_index_freed(monkeypatch):
    """Rebuilds that come close together give the pool the bytes the shrinking index freed
    (Engine._rebuild_index): fewer rebuilds, the same merges, and index + pool never above their
    size after the build."""
    monkeypatch.setattr(engine_mod, "SMALL_TABLE", 0)
    wc = newbpe.WordCounts.from_dict({long_word(1 << 18): 1}, pretokenizer="none")
    from newbpe.trainers.base import layout
    base = layout(wc)
    runs = []
    for close in (0, engine_mod.LIST_CLOSE):
        monkeypatch.setattr(engine_mod, "LIST_CLOSE", close)
        e = Engine.build(base.unit_data, base.offsets, base.counts, base.base_token_bytes(), unit_map=base.unit_map)
        budget, sizes = e._index_budget, []
        rebuild = e._rebuild_index

        def watched():
            rebuild()
            p = e.st.pairs
            sizes.append(p.idx_slot.nbytes + p.occ_slot.nbytes + p.occ_next.nbytes)
        e._rebuild_index = watched
        e.run_bpe(256, 1000)
        check_exact(e)
        assert max(sizes) <= budget
        runs.append((e.merge_events, e.index_rebuilds, len(e.st.pairs.occ_slot)))
    assert runs[0][0] == runs[1][0]
    assert runs[1][1] < runs[0][1] and runs[1][2] > runs[0][2]


def test_word_table_layout_helpers_agree_with_a_scan():
    """word_of (block index + binary search) and prev_start (tail markers) on a table with words
    of very different lengths, after merges and replacements."""
    words = {"a" * 700: 2, "ab": 3, "b": 1, "abba" * 50: 1, "ba": 4, "bab" * 90: 2}
    e, _ = build(words, track_tokens=True, allow_remerge=True)
    for _ in range(15):
        b = e.best()
        if b is None:
            break
        new = e.merge(*b[0])[0]
        if e.token_len(new) > 3:
            e.replace(new, list(e.parents(new)))
    check_layout(e)
    check_exact(e)


def check_layout(e):
    """Every symbol start's word (word_of) and previous symbol (prev_start) agree with a scan."""
    from newbpe.engine import slots
    sym = e.st.words.sym
    shift = int(e.st.meta[engine_mod.S.M_BLOCK_SHIFT])
    w, prev = 0, -1
    for s in range(len(sym)):
        if sym[s] >= 0:
            assert slots.word_of(e.st.words, shift, s) == w
            assert slots.prev_start(sym, s) == prev
            prev = s
        elif sym[s] == engine_mod.S.SEP:
            assert e.st.words.word_end[w] == s
            w, prev = w + 1, -1


@settings(max_examples=40, deadline=None)
@given(flagged_words, extra_base, st.integers(1, 25))
def test_identity_flags_and_base_lengths_with_tail_markers_and_tight_pools(words, extra, n_merges):
    """Base units covering several slots (base_lengths) end in a tail marker like merged tokens, so
    the (flag, bytes) identity tests of test_engine hold with words laid out 3 units at a time and the
    occurrence index rebuilt on every merge, for the single engine and partitions."""
    args, flags, lengths, base = build_flagged(words, extra)
    target = len(base) + n_merges
    events, tokens, segmentation = reference_bpe(args, flags, target)
    with pytest.MonkeyPatch.context() as mp:
        tighten(mp)
        e = Engine.build(*args, base_idents=flags, base_lengths=lengths)
        check_layout(e)
        e.run_bpe(len(base), target)
        p = PartitionedEngine.build(*args, base_idents=flags, base_lengths=lengths, partitions=2,
                                    parallel_threshold=0)
        p.run_bpe(len(base), target)
    assert e.merge_events == events
    assert list(zip(e.token_idents(), e.vocab_bytes())) == tokens
    assert e.segmentation() == segmentation
    check_layout(e)
    check_exact(e)
    assert p.merge_events == events and p.token_idents() == e.token_idents()
    p.check_tokens()


def test_base_lengths_with_byte_units_through_unit_map():
    """unit_map (byte words passed as bytes) with base_lengths: the same table as unit ids."""
    data = np.frombuffer(b"abxab" + b"ab", dtype=np.uint8)
    offsets, counts = np.array([0, 5, 7]), np.array([3, 2])
    base = [b"a", b"b", b"x", b"ab"]
    unit_map = np.full(256, -1, np.int32)
    unit_map[[ord("a"), ord("b"), ord("x")]] = [0, 1, 2]
    lengths = [1, 1, 1, 2]
    mapped = Engine.build(data, offsets, counts, base, base_lengths=lengths, unit_map=unit_map)
    ids = Engine.build(unit_map[data], offsets, counts, base, base_lengths=lengths)
    for e in (mapped, ids):
        e.run_bpe(4, 8)
        check_layout(e)
        check_exact(e)
    assert mapped.merge_events == ids.merge_events and mapped.segmentation() == ids.segmentation()


# ------------------------------------------------------------------------------- peak RSS
RSS_SCRIPT = r"""
import json, resource, sys
import newbpe
path, vocab = sys.argv[1], int(sys.argv[2])
newbpe.train([path], vocab_size=vocab, pretokenizer="none", threads=1)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
"""


def peak_rss(path, vocab):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(path), str(vocab)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_training_on_one_long_piece_peaks_under_20x_its_size(tmp_path):
    """Peak RSS growth over a tiny-input run, training with pretokenizer 'none' on one 8 MB line.
    Measured ~15x (the word table ~12 bytes per unit, counting's copies); it was ~140x."""
    n = 8 << 20
    big, tiny = tmp_path / "big.txt", tmp_path / "tiny.txt"
    big.write_bytes(long_word(n))
    tiny.write_bytes(long_word(2000))
    peak_rss(tiny, 300)                                 # compile / load every kernel first
    baseline = min(peak_rss(tiny, 300), peak_rss(tiny, 300))
    growth = peak_rss(big, 300) - baseline
    assert growth < 20 * n, f"peak RSS grew {growth / n:.1f}x the piece's size"


ENCODE_RSS_SCRIPT = r"""
import json, resource, sys
import newbpe
tok = newbpe.load(sys.argv[1])
data = open(sys.argv[2], "rb").read()
for _ in tok.iter_encoded([data]):
    pass
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
"""


def encode_peak_rss(model, path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", ENCODE_RSS_SCRIPT, str(model), str(path)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_encoding_one_long_piece_peaks_under_40x_its_size(tmp_path):
    """Peak RSS growth over a tiny-input run, encoding one 8 MB piece (pretokenizer 'none': it
    cannot be cut) with the rank encoder's heap path. Measured ~16x on main's shared driver (int32
    units, int64 output, links in the output slots, int32 ranks and a compacted heap); it was ~55x
    (int64 symbols, links, pair values, a 3n heap, the whole text held as str and bytes)."""
    n = 8 << 20
    model = tmp_path / "m"
    newbpe.train([long_word(200_000).decode()], vocab_size=400, pretokenizer="none").save(model)
    big, tiny = tmp_path / "big.txt", tmp_path / "tiny.txt"
    big.write_bytes(long_word(n))
    tiny.write_bytes(long_word(2000))
    encode_peak_rss(model, tiny)
    baseline = min(encode_peak_rss(model, tiny), encode_peak_rss(model, tiny))
    growth = encode_peak_rss(model, big) - baseline
    assert growth < 40 * n, f"peak RSS grew {growth / n:.1f}x the piece's size"
