"""The partitioned merge loop (engine.PartitionedEngine) gives exactly the single engine's result:
same merges (a, b, new, merged), same token ids and bytes, same frequencies, for any number of
partitions, on the serial and the parallel rewrite path; and HF parity holds on it."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe._threads import threads_limit
from newbpe.engine import Engine, PartitionedEngine, partitioned
from newbpe.export.hf import to_hf_dict
from newbpe.trainers import bpe
from newbpe.trainers.base import layout

from conftest import BUNDLED, lines_of, read_prefix, shared
from test_bpe_parity import SPECIALS, hf_train

TINY = {"aaaa": 3, "aaaaaaa": 2, "aaab": 2, "abab": 2, "ba": 5, "ab": 5, "a": 1, "bbbb": 1, "abba": 3,
        "ccc": 4, "cab": 2, "bca": 2, "zz": 1}
# threshold 0: every merge rewrites its partitions in parallel; None: never; 3: a mix
THRESHOLDS = [0, None, 3]


def build_both(word_counts, partitions, threshold, **veto):
    base = layout(word_counts)
    args = (base.units_ids, base.offsets, base.counts, base.base_token_bytes(), base.n_specials)
    return base, Engine.build(*args, **veto), PartitionedEngine.build(*args, partitions=partitions,
                                                                      parallel_threshold=threshold, **veto)


def assert_same_run(word_counts, vocab_size, partitions, threshold, min_count=1, **veto):
    base, single, parts = build_both(word_counts, partitions, threshold, **veto)
    stop_single = single.run_bpe(base.n_base, vocab_size, min_count)
    stop_parts = parts.run_bpe(base.n_base, vocab_size, min_count)
    assert stop_parts == stop_single
    assert parts.merge_events == single.merge_events
    assert parts.n_tokens == single.n_tokens
    assert parts.vocab_bytes() == single.vocab_bytes()
    assert parts.token_freqs().tolist() == single.token_freqs().tolist()
    assert parts.pair_counts() == single.pair_counts()
    parts.check_tokens()
    return single, parts


@pytest.mark.parametrize("partitions", [2, 3])
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_tiny_ties_and_self_overlaps(partitions, threshold):
    wc = newbpe.count(TINY, pretokenizer="none")
    single, _ = assert_same_run(wc, 400, partitions, threshold)
    assert len(single.merge_events) > 10              # the table is merged down to whole words


@pytest.mark.parametrize("partitions", [2, 3])
@pytest.mark.parametrize("name", ["en/tinyshakespeare.txt", "he/heq_contexts_val_test.txt",
                                  "ar/hadith_malik_muwatta_plain.txt"])
def test_bundled_corpora(name, partitions):
    wc = newbpe.count(lines_of((BUNDLED / name).read_text(encoding="utf-8")), pretokenizer="gpt2")
    assert_same_run(wc, 1500, partitions, 200)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_veto_and_min_frequency(shakespeare, threshold):
    wc = newbpe.count(lines_of(shakespeare)[:3000], pretokenizer="gpt2")
    assert_same_run(wc, 1200, 2, threshold, max_token_length=4)
    assert_same_run(wc, 1200, 3, threshold, max_token_length=3, max_token_length_mode="hf")
    _, parts = assert_same_run(wc, 100_000, 2, threshold, min_count=7)
    assert parts.merge_events[-1][3] >= 7


words = st.text(alphabet="abcé ", min_size=1, max_size=9)


@settings(max_examples=40)
@given(st.dictionaries(words, st.integers(1, 6), min_size=1, max_size=40), st.sampled_from([2, 3]),
       st.sampled_from(THRESHOLDS), st.integers(258, 330), st.sampled_from([None, 3]))
def test_fuzzed_word_tables(table, partitions, threshold, vocab_size, max_len):
    wc = newbpe.count(table, pretokenizer="none")
    assert_same_run(wc, vocab_size, partitions, threshold, max_token_length=max_len)


def test_split_words_balances_slots():
    offsets = np.array([0, 5, 6, 7, 20, 21, 22, 23, 30])
    for p in (1, 2, 3, 5, 12):
        bounds = partitioned.split_words(offsets, p)
        assert len(bounds) == p + 1 and bounds[0] == 0 and bounds[-1] == 8
        assert all(x <= y for x, y in zip(bounds, bounds[1:]))
    assert partitioned.split_words(offsets, 2) == [0, 4, 8]          # 24 slots | 14 slots
    assert partitioned.split_words(np.array([0]), 3) == [0, 0, 0, 0]


def test_pools_grow_mid_run(shakespeare, monkeypatch):
    """The STOP_ROOM paths (a partition's pools, the global queue) run and keep the result exact."""
    calls = {"queue": 0, "part": 0}
    grow_queue, ensure = PartitionedEngine._grow_queue, Engine._ensure

    def spy_queue(self, need):
        calls["queue"] += 1
        return grow_queue(self, need)

    def spy_ensure(self, room):
        if self.st.heap.heap_count.size == 16:          # a partition (built without a queue)
            calls["part"] += 1
        return ensure(self, room)

    monkeypatch.setattr(PartitionedEngine, "_grow_queue", spy_queue)
    monkeypatch.setattr(Engine, "_ensure", spy_ensure)
    wc = newbpe.count(lines_of(shakespeare), pretokenizer="gpt2")
    base, _, parts = build_both(wc, 2, 0)
    calls["part"] = 0                                   # count the merge loop's growth only
    parts.run_bpe(base.n_base, 3000)
    assert calls["queue"] > 0 and calls["part"] > 0
    assert_same_run(wc, 3000, 2, 0)


def test_hf_parity_on_partitioned_path(shakespeare):
    lines = lines_of(shakespeare)
    wc = newbpe.count(lines, pretokenizer="gpt2", special_tokens=SPECIALS)
    ours = to_hf_dict(bpe.train(wc, 3000, SPECIALS, _partitions=2, _parallel_threshold=0))["model"]
    theirs = hf_train(lines, 3000, "gpt2")
    assert ours["vocab"] == theirs["vocab"]
    assert ours["merges"] == theirs["merges"]


def spy_partitioned_builds(monkeypatch):
    """A list that records the partition count of every PartitionedEngine built from now on."""
    built = []
    original = PartitionedEngine.build.__func__

    def spy(cls, *a, **kw):
        built.append(kw["partitions"])
        return original(cls, *a, **kw)

    monkeypatch.setattr(PartitionedEngine, "build", classmethod(spy))
    return built


def test_trainer_uses_partitions_when_told(shakespeare, monkeypatch):
    built = spy_partitioned_builds(monkeypatch)
    wc = newbpe.count(lines_of(shakespeare)[:2000], pretokenizer="gpt2")
    one = bpe.train(wc, 800, _partitions=1)
    assert built == []
    monkeypatch.setattr(bpe, "PARTITION_MIN_WORDS", 1)
    assert bpe.partitions_for(len(wc), 1) == 1 and bpe.partitions_for(len(wc), 2) == 2
    with threads_limit(2):
        two = bpe.train(wc, 800)
    assert built == [2]
    assert one.merges == two.merges and one.tokens == two.tokens
    assert one.stats == two.stats


def model_json(tok, tmp_path, name):
    tok.save(tmp_path / name)
    return (tmp_path / name / "model.json").read_bytes()


def test_threads_give_identical_model_json(tmp_path, monkeypatch):
    """newbpe.train with threads=1 and threads=2 on a few MB: byte-identical model.json, with the
    partitioned path switched on for threads=2 (PARTITION_MIN_WORDS) at the default parallel
    threshold."""
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    text = read_prefix(shared("en/gutenberg_50MB.txt"), 4_000_000)
    path = tmp_path / "slice.txt"
    path.write_text(text, encoding="utf-8")
    built = spy_partitioned_builds(monkeypatch)
    monkeypatch.setattr(bpe, "PARTITION_MIN_WORDS", 20_000)
    one = model_json(newbpe.train([str(path)], vocab_size=8000, threads=1), tmp_path, "t1")
    assert built == []
    two = model_json(newbpe.train([str(path)], vocab_size=8000, threads=2), tmp_path, "t2")
    assert built == [2]
    assert one == two
    assert json.loads(one)["stats"]["word_types"] >= 20_000


def test_default_partition_policy():
    """Partitions from PARTITION_MIN_WORDS unique words with >= 2 threads (measured: pays from
    ~600k words on 2 cores, not at 150-195k), one partition per thread; else the single engine."""
    m = bpe.PARTITION_MIN_WORDS
    assert m is not None and 195_000 < m <= 606_000
    assert bpe.partitions_for(m, 2) == 2 and bpe.partitions_for(m, 4) == 4
    assert bpe.partitions_for(m - 1, 2) == 1 and bpe.partitions_for(10**7, 1) == 1
