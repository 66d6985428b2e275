"""The merge engine's operations, checked against from-scratch recounts."""
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

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


# ---------------------------------------------------------------------------------------------- identity flags
# A token is (identity flag, bytes) (design.md; ByteSpan §6): the same bytes under two flags are two
# tokens, a merge's token takes its left part's flag, an existing (flag, bytes) is reused — also a
# base token of several bytes (ByteSpan's "0x20 b", its seeded spans), given its length in bytes.

def build_flagged(words, extra_base=()):
    """Engine arguments for {word: count} with words as tuples of (flag, bytes) units; base ids follow
    the sorted (flag, bytes) of every unit plus `extra_base` tokens that are no unit. Returns
    (args, base_idents, base_lengths, base) with lengths in bytes."""
    base = sorted({u for w in words for u in w} | set(extra_base))
    index = {t: i for i, t in enumerate(base)}
    units, offsets, counts = [], [0], []
    for w, c in words.items():
        units += [index[u] for u in w]
        offsets.append(len(units))
        counts.append(c)
    args = (np.array(units, dtype=np.int64), np.array(offsets), np.array(list(counts), dtype=np.int64),
            [b for _, b in base])
    return args, [f for f, _ in base], [len(b) for _, b in base], base


def reference_bpe(args, flags, target):
    """Greedy BPE from scratch on (flag, bytes) identity: every step recounts the pairs (overlapping
    windows weighted by word count), takes the highest count, ties to the smallest (a, b), never a pair
    merged before; merges left to right, non-overlapping; the token (flag(a), bytes(a) + bytes(b)) is
    reused when it exists. Runs until `target` tokens. Returns (events, tokens, segmentation)."""
    units, offsets, counts, base = args
    tokens = list(zip(flags, base))
    index = {t: i for i, t in enumerate(tokens)}
    words = [units[offsets[w]:offsets[w + 1]].tolist() for w in range(len(counts))]
    done, events = set(), []
    while len(tokens) < target:
        pairs = {}
        for w, c in zip(words, counts.tolist()):
            for x, y in zip(w, w[1:]):
                pairs[(x, y)] = pairs.get((x, y), 0) + c
        live = [(-c, p) for p, c in pairs.items() if p not in done]
        if not live:
            break
        a, b = min(live)[1]
        done.add((a, b))
        ident = (tokens[a][0], tokens[a][1] + tokens[b][1])
        if ident not in index:
            index[ident] = len(tokens)
            tokens.append(ident)
        new, merged = index[ident], 0
        for k, (w, c) in enumerate(zip(words, counts.tolist())):
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == (a, b):
                    out.append(new)
                    merged += c
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[k] = out
        events.append((a, b, new, merged))
    return events, tokens, words


# units: one byte under either flag, and a few two-byte base units; extra: base tokens that are no unit
UNITS = [(f, x) for f in (0, 1) for x in (b"a", b"b", b" ")] + [(1, b" a"), (0, b"ab")]
flagged_words = st.dictionaries(st.lists(st.sampled_from(UNITS), min_size=1, max_size=8).map(tuple),
                                st.integers(1, 6), min_size=1, max_size=10)
extra_base = st.sets(st.sampled_from([(f, x) for f in (0, 1) for x in (b"ab", b"ba", b" a", b"aa", b"aab")]),
                     max_size=3)


@settings(max_examples=80, deadline=None)
@given(flagged_words, extra_base, st.integers(1, 25))
def test_flagged_tokens_follow_the_left_part_and_match_a_recount(words, extra, n_merges):
    from newbpe.engine import PartitionedEngine
    args, flags, lengths, base = build_flagged(words, extra)
    e = Engine.build(*args, base_idents=flags, base_lengths=lengths)
    assert e.token_idents() == flags
    target = len(base) + n_merges
    events, tokens, segmentation = reference_bpe(args, flags, target)
    e.run_bpe(len(base), target)
    assert e.merge_events == events
    assert list(zip(e.token_idents(), e.vocab_bytes())) == tokens
    assert e.segmentation() == segmentation
    check_exact(e)
    for t in range(len(base), e.n_tokens):                  # flags follow the left part
        left, right = e.parents(t)
        assert e.token_ident(t) == e.token_ident(left)
        assert e.token_bytes(t) == e.token_bytes(left) + e.token_bytes(right)
    assert len(set(tokens)) == len(tokens)                  # (flag, bytes) unique, bytes alone need not be
    for t, (f, data) in enumerate(tokens):
        assert e.find_token(data, f) == t
    p = PartitionedEngine.build(*args, base_idents=flags, base_lengths=lengths, partitions=2,
                                parallel_threshold=0)
    p.run_bpe(len(base), target)
    assert p.merge_events == events and p.token_idents() == e.token_idents()
    p.check_tokens()


def test_string_table_keys_on_flag_and_bytes():
    a0, a1, b0, ab1 = range(4)
    e = Engine.build(np.array([a1, b0, a0, b0]), np.array([0, 2, 4]), np.array([5, 3]),
                     [b"a", b"a", b"b", b"ab"], base_idents=[0, 1, 0, 1], base_lengths=[1, 1, 1, 2],
                     track_tokens=True)
    assert [e.find_token(b"a", f) for f in (0, 1, 2)] == [a0, a1, None]
    assert e.find_token(b"ab", 1) == ab1 and e.find_token(b"ab") is None and e.find_token(b"b", 1) is None
    assert e.find_token(b"") is None
    # (a1, b0) spells (1, "ab"): the base token is reused, nothing is created
    assert e.merge(a1, b0) == (ab1, 5, False) and e.token_freq(ab1) == 5
    # (a0, b0) spells (0, "ab"): a new token, distinct from (1, "ab")
    new, merged, created = e.merge(a0, b0)
    assert created and merged == 3 and new == 4 and e.token_ident(new) == 0 and e.token_bytes(new) == b"ab"
    assert e.find_token(b"ab", 0) == new and e.find_token(b"ab", 1) == ab1
    assert e.segmentation() == [[ab1], [new]]
    check_exact(e)
    with pytest.raises(ValueError):                         # the first piece must carry the flag
        e.replace(new, [a1, b0])
    assert e.replace(new, [a0, b0]) == 3
    # the table is rebuilt when it grows (rehash): every (flag, bytes) is still found
    e._ensure((0, 0, 0, 0, 50_000, 0))
    assert [e.find_token(d, f) for f, d in [(0, b"a"), (1, b"a"), (0, b"b"), (1, b"ab"), (0, b"ab")]] == \
        [a0, a1, b0, ab1, new]
    with pytest.raises(ValueError):
        Engine.build(np.array([0]), np.array([0, 1]), np.array([1]), [b"a"], base_idents=[0, 1])


def test_merge_spelling_a_longer_base_unit_is_an_error_not_a_corruption():
    """A base token of 2 bytes built with the default length 1 cannot stand for a merge of two
    1-byte units in the word table: the engine says so (it used to reuse its id and corrupt the counts;
    char-mode training reaches this when the text spells the auto-added "<unk>")."""
    from newbpe.errors import NewbpeError
    args = (np.array([0, 1, 2, 0, 1, 2]), np.array([0, 3, 6]), np.array([4, 1]), [b"a", b"b", b"x", b"ab"])
    for run in (lambda e: e.run_bpe(4, 10), lambda e: e.merge(0, 1), lambda e: e.merge_best(),
                lambda e: e.run_scaffold(4, 10)):
        e = Engine.build(*args)
        with pytest.raises(NewbpeError, match=r"b.a. \+ b.b. spells token 3, which covers 1 base unit\(s\), not 2"):
            run(e)
        check_exact(e)                                      # untouched
        assert e.best() == ((0, 1), 5)                      # and the pair is still queued
    from newbpe.engine import PartitionedEngine
    with pytest.raises(NewbpeError, match="spells token 3"):
        PartitionedEngine.build(*args, partitions=2).run_bpe(4, 10)
    e = Engine.build(*args, base_lengths=[1, 1, 1, 2])
    e.run_bpe(4, 10)
    assert e.merge_events == [(0, 1, 3, 5), (3, 2, 4, 5)] and e.segmentation() == [[4], [4]]
    check_exact(e)


def test_flags_zero_change_nothing():
    """base_idents of zeros and base_lengths of ones are the defaults: the same merges."""
    words = {"the": 50, "then": 20, "there": 15, "other": 12, "hat": 9, "that": 30}
    plain, alpha = build(words)
    zeros, _ = build(words, base_idents=[0] * len(alpha), base_lengths=[1] * len(alpha))
    plain.run_bpe(len(alpha), len(alpha) + 12)
    zeros.run_bpe(len(alpha), len(alpha) + 12)
    assert plain.merge_events == zeros.merge_events and zeros.token_idents() == [0] * zeros.n_tokens


@given(st.dictionaries(st.text("abc", min_size=1, max_size=8), st.integers(1, 5), min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=10))
def test_pair_was_queued_matches_a_recount_after_every_merge(words, merges):
    """A pair has had a queue entry iff it had a positive count at build time or after some merge
    (SuperBPE's replay skip rule, supertokens.md §2.3), also for replayed pairs that never occur."""
    e, _ = build(words)
    seen = {p for p, c in recount(e)[0].items() if c > 0}
    for a, b in merges:
        if a >= e.n_tokens or b >= e.n_tokens:
            continue
        e.merge(a, b)
        seen |= {p for p, c in recount(e)[0].items() if c > 0}
        check_exact(e)
    for a in range(e.n_tokens):
        for b in range(e.n_tokens):
            assert e.pair_was_queued(a, b) == ((a, b) in seen), (a, b)


def test_queued_pair_stays_queued_when_its_count_drops_to_zero():
    e, alpha = build({"abc": 3})
    a, b, c = range(3)
    assert e.pair_was_queued(b, c) and not e.pair_was_queued(a, c)
    ab, _, _ = e.merge(a, b)
    assert e.pair_count(b, c) == 0 and e.pair_was_queued(b, c)
    assert e.pair_was_queued(ab, c) and not e.pair_was_queued(c, ab)


def test_veto_discards_a_pair_for_good_and_exempts_explicit_merges():
    """The veto (max_words, forbid_substrings) is decided at the queue head once per pair: a vetoed
    pair is never selected again, while merges made with merge()/replay() (SuperBPE's inherited
    merges) are exempt."""
    e, alpha = build({"x: y": 10, "ab": 3}, forbid_substrings=[b": "], max_words=1)
    idx = {ch: i for i, ch in enumerate(alpha)}
    # explicit merges may create a token the veto forbids
    colon_space, _, created = e.merge(idx[":"], idx[" "])
    assert created and e.token_bytes(colon_space) == b": "
    assert e.pair_was_queued(idx[":"], idx[" "])
    # the loop: (x, ": ") spells "x: " (forbidden), (": ", y) spells ": y" (forbidden and 2 words)
    e.run_bpe(e.n_tokens, e.n_tokens + 10)
    made = [e.token_bytes(n) for _, _, n, _ in e.merge_events[1:]]
    assert made == [b"ab"]
    assert e.n_vetoed_pairs() == 2
    assert e.best() is None                       # vetoed pairs never come back, whatever their count
    assert e.pair_count(idx["x"], colon_space) == 10
