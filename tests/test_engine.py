"""The merge engine's operations, checked against from-scratch recounts."""
import random

import numpy as np
import pytest
from hypothesis import given, strategies as st

from newbpe.engine import Engine, FLAG_SCAFFOLD


def build(words, **kw):
    """Engine over {word: count} with single-character units a, b, c … (ids = sorted chars)."""
    alphabet = sorted(set("".join(words)))
    index = {c: i for i, c in enumerate(alphabet)}
    units, offsets, counts = [], [0], []
    for w, c in words.items():
        units += [index[ch] for ch in w]
        offsets.append(len(units))
        counts.append(c)
    e = Engine.build(np.array(units), np.array(offsets), np.array(counts), [a.encode() for a in alphabet], **kw)
    return e, alphabet


def recount(e):
    pairs, freq = {}, {}
    for seg, c in zip(e.segmentation(), e.word_counts()):
        for x in seg:
            freq[x] = freq.get(x, 0) + int(c)
        for x, y in zip(seg, seg[1:]):
            pairs[(x, y)] = pairs.get((x, y), 0) + int(c)
    return pairs, freq


def check_exact(e):
    pairs, freq = recount(e)
    assert e.pair_counts() == pairs
    live = {t: f for t, f in enumerate(e.token_freqs()) if f}
    assert live == freq
    assert all(v >= 0 for v in e.pair_counts().values())


def strings(e, events):
    return [e.token_bytes(a).decode() + " " + e.token_bytes(b).decode() for a, b, *_ in events]


def test_merge_returns_weighted_count_and_handles_runs():
    e, _ = build({"aaaa": 3, "aaa": 2})
    (pair, count) = e.best()
    assert pair == (0, 0) and count == 3 * 3 + 2 * 2        # overlapping windows
    new, merged, created = e.merge(*pair)
    assert created and merged == 3 * 2 + 2 * 1              # non-overlapping merges applied
    assert e.segmentation() == [[new, new], [new, 0]]
    check_exact(e)


def test_max_token_length_goldens():
    words = {"abc": 5, "abcd": 3}

    def run(length, mode):
        e, _ = build(words, max_token_length=length, max_token_length_mode=mode)
        e.run_bpe(4, 100)
        return strings(e, e.merge_events)
    assert run(None, "exact") == ["a b", "ab c", "abc d"]
    # HF observations (bpe.md §6.3)
    assert run(1, "hf") == run(2, "hf") == run(3, "hf") == ["a b", "c d"]
    assert run(4, "hf") == ["a b", "ab c"]
    assert run(1, "exact") == []
    assert run(2, "exact") == ["a b", "c d"]
    assert run(3, "exact") == ["a b", "ab c"]
    assert run(4, "exact") == ["a b", "ab c", "abc d"]


def test_veto_max_words_and_forbidden_substrings():
    e, alpha = build({"a b c d": 10, "x: y": 10}, max_words=2, forbid_substrings=[b": "])
    e.run_bpe(len(alpha), 200)
    made = [e.token_bytes(n) for _, _, n, _ in e.merge_events]
    assert made, "some merges must happen"
    assert all(len(t.split()) <= 2 for t in made)
    assert not any(b": " in t for t in made)


def test_min_frequency_stops_not_skips():
    e, alpha = build({"ab": 3, "cd": 2, "ef": 1})
    visible, stop = e.run_bpe(len(alpha), 100, min_count=2)
    assert strings(e, e.merge_events) == ["a b", "c d"] and stop == "min_frequency"


@given(st.dictionaries(st.text("abc", min_size=1, max_size=10), st.integers(1, 6), min_size=1, max_size=10),
       st.integers(0, 10**6))
def test_pair_counts_and_freqs_stay_exact_through_merges(words, seed):
    e, _ = build(words)
    for _ in range(12):
        b = e.best()
        if b is None:
            break
        e.merge(*b[0])
        check_exact(e)
        assert e.pair_count(*b[0]) == 0


@given(st.dictionaries(st.text("abc", min_size=2, max_size=10), st.integers(1, 6), min_size=1, max_size=10),
       st.integers(0, 10**6))
def test_replace_token_is_exact(words, seed):
    rng = random.Random(seed)
    e, _ = build(words, track_tokens=True, allow_remerge=True)
    for _ in range(10):
        b = e.best()
        if b is None:
            break
        new, merged, created = e.merge(*b[0])
        if rng.random() < 0.4 and e.token_len(new) > 1:
            pieces = list(e.parents(new))
            before = e.token_freq(new)
            assert e.replace(new, pieces) == before
            assert e.token_freq(new) == 0
            check_exact(e)
            assert new not in {t for seg in e.segmentation() for t in seg}
    check_exact(e)


def test_replace_with_more_than_two_pieces_and_adjacent_occurrences():
    e, _ = build({"abab": 2, "cabab": 1}, track_tokens=True)
    ab = e.merge(0, 1)[0]
    abab = e.merge(ab, ab)[0]
    assert e.segmentation() == [[abab], [2, abab]]
    e.replace(abab, [0, 1, ab])
    assert e.segmentation() == [[0, 1, ab], [2, 0, 1, ab]]
    check_exact(e)


def duplicate_merge_engine():
    """bc, a+bc -> abc, remove abc (pieces a b c), then a+b, ab+c spells abc again: a duplicate."""
    e, _ = build({"abc": 5, "bc": 10}, track_tokens=True, allow_remerge=True)
    a, b, c = 0, 1, 2
    bc = e.merge(b, c)[0]
    abc, merged, created = e.merge(a, bc)
    assert created and merged == 5
    e.replace(abc, [a, b, c])
    ab = e.merge(a, b)[0]
    again, merged, created = e.merge(ab, c)
    return e, abc, again, created, merged


def test_duplicate_string_merge_reuses_the_id():
    e, abc, again, created, merged = duplicate_merge_engine()
    assert again == abc and not created and merged == 5
    assert e.token_freq(abc) == 5
    assert len({e.token_bytes(t) for t in range(e.n_tokens)}) == e.n_tokens
    check_exact(e)


def test_resume_by_replay_equals_continuous_training():
    words = {"the": 50, "then": 20, "there": 15, "other": 12, "hat": 9, "that": 30}
    full, alpha = build(words)
    full.run_bpe(len(alpha), len(alpha) + 12)
    replayed, _ = build(words)
    replayed.replay([(a, b) for a, b, *_ in full.merge_events[:5]])
    replayed.run_bpe(len(alpha) + 5, len(alpha) + 12)
    assert [m[:3] for m in replayed.merge_events] == [m[:3] for m in full.merge_events]


def test_head_count_and_token_items():
    e, _ = build({"abab": 10, "ab": 1})
    ab = e.merge(0, 1)[0]
    assert e.token_freq(ab) == 21
    assert e.head_count() == e.best()[1] == 10          # (ab, ab)
    e.set_flag(ab, FLAG_SCAFFOLD)
    e.push_token(ab)
    kind, count, ident = e.head()
    assert (kind, count, ident) == ("token", 21, ab)
    e.set_flag(ab, FLAG_SCAFFOLD, on=False)            # no longer scaffold: its item is stale
    assert e.head()[0] == "pair"


def test_counts_beyond_32_bits_are_exact():
    big = 2**40 + 7
    e, _ = build({"ab": big, "abab": 2**33, "ba": 2**31 + 1})
    (pair, count) = e.best()
    assert pair == (0, 1) and count == big + 2 * 2**33
    new, merged, _ = e.merge(*pair)
    assert merged == big + 2 * 2**33
    assert e.pair_count(new, new) == 2**33
    check_exact(e)


def test_progress_reports_from_the_loop():
    seen = []
    e, alpha = build({"abcdefgh": 5, "bcdefgha": 3})
    e.run_bpe(len(alpha), len(alpha) + 6, progress=lambda *a: seen.append(a), report_every=2)
    assert seen and seen[-1] == ("merges", 6, 6)


# ---------------------------------------------------------------------------------------------- driver
# One grow-and-retry driver (engine/driver.py) runs every merge loop; its output tables start small.

def run_all_loops(lines):
    """Merge events (and Scaffold/Picky logs) of the four merge loops on one word table."""
    import newbpe
    from newbpe.trainers import bpe, picky, scaffold
    wc = newbpe.count(lines, pretokenizer="gpt2")
    out = {"bpe": bpe.train(wc, 1200, _partitions=1).merges,
           "parts": bpe.train(wc, 1200, _partitions=2, _parallel_threshold=0).merges}
    engine, _, events, _ = scaffold.fit(wc, 1200)
    out["scaffold"] = (engine.merge_events, events.tolist())
    run = picky.fit(wc, 1200, threshold=0.6)
    out["picky"] = (run.engine.merge_events, run.events)
    return out


def test_output_tables_grow_on_demand(shakespeare, monkeypatch):
    """With output tables of 2 rows every loop stops for room again and again: same results."""
    from conftest import lines_of
    from newbpe.engine import driver
    lines = lines_of(shakespeare)[:1500]
    expected = run_all_loops(lines)
    grown = []
    original = driver.Rows.grow

    def spy(self):
        grown.append(self.array.shape[1])
        original(self)
    monkeypatch.setattr(driver, "FIRST_ROWS", 2)
    monkeypatch.setattr(driver.Rows, "grow", spy)
    assert run_all_loops(lines) == expected
    assert grown.count(5) >= 3 and grown.count(4) >= 4          # Scaffold's log and every merge table


def test_huge_target_allocates_little():
    """vocab_size=10**9 used to preallocate a (10**9, 4) int64 table (32 GB): now a few MB."""
    import tracemalloc
    from newbpe.engine import PartitionedEngine
    words = {"abcabcab": 3, "bcaab": 2, "cabbage": 4}
    for kind in ("bpe", "scaffold", "parts"):
        e, alpha = build(words)
        tracemalloc.start()
        if kind == "bpe":
            visible, stop = e.run_bpe(len(alpha), 10**9)
        elif kind == "scaffold":
            visible, stop, _ = e.run_scaffold(len(alpha), 10**9)
        else:
            alphabet = sorted(set("".join(words)))
            units = [alphabet.index(ch) for w in words for ch in w]
            offsets = np.cumsum([0] + [len(w) for w in words])
            p = PartitionedEngine.build(np.array(units), offsets, np.array(list(words.values())),
                                        [a.encode() for a in alphabet], partitions=2)
            visible, stop = p.run_bpe(len(alphabet), 10**9)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert stop == "empty" and visible < 100
        assert peak < 16 << 20, (kind, peak)
