"""SuperBPE (`--algo superbpe`): the acceptance invariants of supertokens.md §6 (1-5, 8, 9) and its
one-line errors."""
import json
import warnings

import pytest
import regex
from click.testing import CliRunner
from hypothesis import given, strategies as st
from tokenizers import Regex, Tokenizer as HFTokenizer, pre_tokenizers, trainers

import newbpe
from newbpe.cli import main
from newbpe.errors import NewbpeError
from newbpe.export.hf import hf_untrained, to_hf_dict
from newbpe.pretokenizers import PreTokenizer
from newbpe.pretokenizers.presets import PATTERNS
from newbpe.trainers import bpe, superbpe
from newbpe.trainers.base import count_words, prepare

from conftest import lines_of

SPECIALS = ["<|endoftext|>"]
GOLDEN_TEXT = "By the way, I paid $12345 for it...  Really?!\nNew line:   done."
GOLDEN_CHUNKS = ['By the way, I paid $', '123', '45', ' for it', '...', ' ', ' Really', '?!\n', 'New line:', '  ',
                 ' done.']
stable_chars = st.characters(blacklist_categories=("Cs", "Co", "Cn"), max_codepoint=0x2FFFF)
fuzz_text = st.lists(st.one_of(st.text(stable_chars, max_size=60),
                               st.sampled_from(["\r\n", "  \n ", "Answer: yes", "12345", "   x", "...!", " of the"])),
                     max_size=6).map("".join)


def merge_strings(tok):
    v = tok.vocabulary
    return [(v.tokens[a], v.tokens[b]) for a, b, _ in v.merges]


@pytest.fixture(scope="module")
def lines(shakespeare):
    return lines_of(shakespeare[:300_000])


@pytest.fixture(scope="module")
def model(lines):
    return newbpe.train(lines, "superbpe", 1200, special_tokens=SPECIALS, transition=600)


@pytest.fixture(scope="module")
def stage1(lines):
    return superbpe.train_stage1(lines, 1200, SPECIALS)


# ---------------------------------------------------------------------------- §6.5: REGEX2
def test_regex2_golden_python_and_hf():
    assert PreTokenizer("superbpe_stage2").split(GOLDEN_TEXT) == GOLDEN_CHUNKS
    hf = pre_tokenizers.Split(Regex(PATTERNS["superbpe_stage2"]), "isolated")
    assert [p for p, _ in hf.pre_tokenize_str(GOLDEN_TEXT)] == GOLDEN_CHUNKS
    # the python `regex` matches alone are only the isolated pieces: the gaps are chunks too
    assert regex.findall(PATTERNS["superbpe_stage2"], GOLDEN_TEXT) != GOLDEN_CHUNKS


def test_no_token_crosses_a_stage2_chunk_boundary(model, lines):
    chunks = set()
    split = PreTokenizer("superbpe_stage2").split
    for line in lines:
        chunks.update(c.encode() for c in split(line))
    text = b"\x00".join(chunks)
    v = model.vocabulary
    for t in v.tokens[v.n_base:]:
        assert t in text, t                                   # every token lies inside a chunk
        if any(48 <= c <= 57 for c in t):
            assert t.isdigit() and len(t) <= 3, t             # digit groups of <= 3 stay alone


# ---------------------------------------------------------------------------- §6.1, §6.2
def hf_stage1(lines, vocab_size, specials, observed=False):
    hf = hf_untrained("superbpe_stage1")
    kw = {} if observed else {"initial_alphabet": pre_tokenizers.ByteLevel.alphabet()}
    hf.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                      show_progress=False, **kw))
    return json.loads(hf.to_str())["model"]


@pytest.mark.parametrize("alphabet", ["full", "observed"])
def test_stage1_equals_hf_bpetrainer_with_regex1(lines, alphabet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = superbpe.train_stage1(lines, 900, SPECIALS, byte_alphabet=alphabet)
    theirs = hf_stage1(lines, 900, SPECIALS, observed=alphabet == "observed")
    mine = to_hf_dict(ours)["model"]
    assert mine["merges"] == theirs["merges"] and mine["vocab"] == theirs["vocab"]


def test_inherited_merges_equal_stage1_and_transition_is_t_minus_1(model, stage1, lines):
    assert model.stats["skipped_merges"] == 0 and model.stats["inherit_merges_requested"] == 599
    assert model.stats["inherited_merges"] == 599
    assert merge_strings(model)[:599] == merge_strings(stage1)[:599]
    assert merge_strings(model)[599] != merge_strings(stage1)[599]
    same = newbpe.train(lines, "superbpe", 1200, special_tokens=SPECIALS, inherit_merges=599)
    assert same.to_dict() == {**model.to_dict(), "options": same.to_dict()["options"]}
    assert same.options["inherit_merges"] == 599 and model.options["transition"] == 600


def test_stats_and_info(model):
    info = model.info()
    assert info["algorithm"] == "superbpe" and info["pretokenizer"] == "superbpe_stage2"
    assert info["new_merges"] == len(model.vocabulary.merges) - 599
    assert info["tokens_with_inner_space"] > 0 and info["filtered_merges"] >= 0
    assert sum(info["words_per_token"].values()) == model.vocab_size - len(SPECIALS)
    assert max(int(n) for n in info["words_per_token"]) <= 4


# ---------------------------------------------------------------------------- §6.3 replay goldens
def bpe_model(tmp_path, name, lines):
    tok = newbpe.train(lines, "bpe", 256 + 8, pretokenizer="superbpe_stage1")
    tok.save(tmp_path / name, hf=False)
    return tmp_path / name


def train_on(lines, stage1, k, vocab=256 + 6, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = newbpe.train(lines, "superbpe", vocab, inherit_merges=k, stage1=str(stage1), **kw)
    return tok, [a + b"+" + b for a, b in merge_strings(tok)]


def test_replay_skips_a_pair_that_never_occurs_and_later_ranks_shift(tmp_path):
    s1 = bpe_model(tmp_path, "s1", ["xy\n"] * 5 + ["ab\n"] * 4 + ["bc\n"] * 3)
    assert [a + b"+" + b for a, b in merge_strings(newbpe.load(s1))][:3] == [b"x+y", b"a+b", b"b+c"]
    tok, merges = train_on(["abc\n"] * 5, s1, 3)
    assert merges[:2] == [b"a+b", b"b+c"] and tok.stats["skipped_merges"] == 1
    assert tok.stats["inherited_merges"] == 2


def test_replay_skips_a_merge_whose_part_is_not_a_token(tmp_path):
    s1 = bpe_model(tmp_path, "s1", ["xy\n"] * 6 + ["xyz\n"] * 5 + ["ab\n"] * 4)
    assert [a + b"+" + b for a, b in merge_strings(newbpe.load(s1))][:3] == [b"x+y", b"xy+z", b"a+b"]
    tok, merges = train_on(["abz\n"] * 5, s1, 3)        # "x y" never occurs, so "xy" is no token
    assert merges[0] == b"a+b" and tok.stats["skipped_merges"] == 2


def test_replay_records_a_pair_consumed_by_an_earlier_replayed_merge(tmp_path):
    s1 = bpe_model(tmp_path, "s1", ["ab\n"] * 4 + ["bc\n"] * 3)
    tok, merges = train_on(["abc\n"] * 5, s1, 2)
    assert merges[:2] == [b"a+b", b"b+c"] and tok.stats["skipped_merges"] == 0
    assert tok.encode("abc\n") == [tok.token_to_id("abc\n")] or len(tok.encode("abc\n")) < 4
    # "zero_count" skips it (its count dropped to 0 after "a b")
    tok, merges = train_on(["abc\n"] * 5, s1, 2, replay_skip="zero_count")
    assert merges[0] == b"a+b" and merges[1] != b"b+c" and tok.stats["skipped_merges"] == 1


def test_replay_on_its_own_pretokenization_reproduces_it(lines):
    """A merge list replayed on the word table it was trained on skips nothing and gives the same
    segmentation (filters on: replayed merges are exempt)."""
    table = count_words(lines, (), "superbpe_stage2", "bytes")
    opts = {**bpe.OPTIONS}
    base, ref = prepare(table, 256 + 300, (), opts)
    ref.run_bpe(base.n_base, base.n_base + 300)
    merges = [(ref.token_bytes(a), ref.token_bytes(b)) for a, b, _, _ in ref.merge_events]
    _, eng = prepare(table, 256 + 300, (), opts, max_words=1, forbid_substrings=[b": ", b" "])
    assert superbpe.replay(eng, merges) == 0
    assert eng.segmentation() == ref.segmentation()
    assert [m[:3] for m in eng.merge_events] == [m[:3] for m in ref.merge_events]


def replay_reference(engine, merges, skip_rule="reference"):
    """The plain-Python replay (§2.3 step 3) that `Engine.replay_strings` (loops.run_replay) runs in
    numba: one `Engine.merge` call per inherited merge, parts resolved through a dict of bytes."""
    by_bytes = {engine.token_bytes(t): t for t in range(engine.n_tokens)}
    skipped = 0
    for left, right in merges:
        a, b = by_bytes.get(left), by_bytes.get(right)
        if a is None or b is None or (not engine.pair_was_queued(a, b) if skip_rule == "reference"
                                      else engine.pair_count(a, b) <= 0):
            skipped += 1
            continue
        new, _, created = engine.merge(a, b)
        if created:
            by_bytes[left + right] = new
    return skipped


def engine_snapshot(engine):
    return (engine.merge_events, engine.segmentation(), engine.pair_counts(), engine.vocab_bytes(),
            engine.token_freqs().tolist())


part = st.text("ab: c", min_size=1, max_size=3).map(str.encode)


@given(words=st.dictionaries(st.text("ab: c", min_size=1, max_size=14), st.integers(1, 4), min_size=1, max_size=12),
       data=st.data(), rule=st.sampled_from(["reference", "zero_count"]), tight=st.booleans())
def test_kernel_replay_equals_the_python_reference(words, data, rule, tight):
    """Hypothesis corpora and merge lists (parts that are no token, pairs that never occur, pairs
    consumed by earlier merges, duplicate strings; filters on): the numba replay skips, records and
    rewrites exactly as the Python reference, then greedy BPE carries on identically. Parts are
    mostly substrings of the words, so that merges apply. tight: pools and output table so small that
    the replay stops for room repeatedly (index rebuilds, the list pool growing into the index's
    memory, the output doubling)."""
    subs = sorted({w[i:j].encode() for w in words for i in range(len(w)) for j in range(i + 1, min(i + 4, len(w) + 1))})
    merges = data.draw(st.lists(st.tuples(st.one_of(st.sampled_from(subs), part), st.one_of(st.sampled_from(subs), part)),
                                max_size=40))
    from newbpe.engine import engine as engine_mod
    table = newbpe.WordCounts.from_dict(words, pretokenizer="none")
    opts = {**bpe.OPTIONS}
    with pytest.MonkeyPatch.context() as mp:
        if tight:
            from newbpe.engine import driver
            mp.setattr(engine_mod, "LIST_FRACTION", 1 << 30)
            mp.setattr(engine_mod, "SMALL_TABLE", 0)
            mp.setattr(engine_mod, "LIST_SLACK", 1)
            mp.setattr(driver, "FIRST_ROWS", 1)           # the output table grows too
        engines = [prepare(table, 1000, (), opts, max_words=2, forbid_substrings=[b": "])[1] for _ in range(2)]
        events = []
        assert engines[0].replay_strings(merges, rule, lambda *e: events.append(e)) == \
            replay_reference(engines[1], merges, rule)
        assert events[-1] == ("replay", len(merges), len(merges))
        assert engine_snapshot(engines[0]) == engine_snapshot(engines[1])
        for e in engines:
            e.run_bpe(e.n_tokens, e.n_tokens + 20)
        assert engine_snapshot(engines[0]) == engine_snapshot(engines[1])


def test_kernel_replay_gives_the_python_reference_model(tmp_path, monkeypatch, lines):
    """The whole training with the numba replay writes the model.json bytes of the Python reference
    replay (both skip rules; these lines skip nothing, the hypothesis test above covers skips)."""
    out = []
    for rule in ("reference", "zero_count"):
        for python in (False, True):
            if python:
                monkeypatch.setattr(superbpe, "replay", lambda e, m, r, progress=None: replay_reference(e, m, r))
            tok = newbpe.train(lines[:3000], "superbpe", 900, transition=400, replay_skip=rule)
            monkeypatch.undo()
            tok.save(tmp_path / f"{rule}{python}", hf=False)
            out.append((tmp_path / f"{rule}{python}" / "model.json").read_bytes())
    assert out[0] == out[1] and out[2] == out[3]


def test_kernel_replay_reports_a_length_conflict():
    """A replayed merge that spells a token of another length (a multi-byte special inside a word
    can not happen in SuperBPE, so build the conflict directly) is the same one-line error as
    Engine.merge's."""
    from newbpe.engine import Engine
    e = Engine.build([1, 2], [0, 2], [3], [b"ab", b"a", b"b"], 0)
    with pytest.raises(NewbpeError, match="spells token 0"):
        e.replay_strings([(b"a", b"b")])


# ---------------------------------------------------------------------------- §6.4 filters
def test_new_merges_obey_the_filters_and_inherited_ones_are_exempt(tmp_path, lines):
    # a stage-1 BPE without pre-tokenization learns multi-word tokens and ": "
    s1 = newbpe.train(lines, "bpe", 256 + 400, pretokenizer="none")
    s1.save(tmp_path / "s1", hf=False)
    inherited = [a + b for a, b in merge_strings(s1)[:300]]
    assert any(b": " in t for t in inherited) or any(len(t.split()) > 2 for t in inherited)
    tok = newbpe.train(lines, "superbpe", 256 + 700, inherit_merges=300, stage1=str(tmp_path / "s1"),
                       max_words=2)
    n = tok.stats["inherited_merges"]
    v = tok.vocabulary
    new = [v.tokens[c] for _, _, c in v.merges[n:]]
    assert len(new) > 300 and tok.stats["filtered_merges"] > 0
    for t in new:
        assert b": " not in t and len([w for w in t.split(b" ") if w]) <= 2, t
    kept = {v.tokens[c] for _, _, c in v.merges[:n]}
    assert any(b": " in t or len([w for w in t.split(b" ") if w]) > 2 for t in kept)


def test_default_filter_is_four_words_and_colon_space(model):
    v = model.vocabulary
    for _, _, c in v.merges[599:]:
        t = v.tokens[c]
        assert b": " not in t and len([w for w in t.split(b" ") if w]) <= 4, t


# ---------------------------------------------------------------------------- §6.8 round trip, HF
@given(fuzz_text)
def test_roundtrip(model, text):
    assert model.decode(model.encode(text)) == text


@pytest.fixture(scope="module")
def hf_model(model, tmp_path_factory):
    d = tmp_path_factory.mktemp("hf")
    model.save(d)
    return HFTokenizer.from_file(str(d / "tokenizer.json")), json.loads((d / "tokenizer.json").read_text())


def test_hf_export_writes_the_stage2_pretokenizer(hf_model):
    spec = hf_model[1]["pre_tokenizer"]
    assert spec["type"] == "Sequence"
    split, byte_level = spec["pretokenizers"]
    assert split["type"] == "Split" and split["behavior"] == "Isolated"
    assert split["pattern"]["Regex"] == PATTERNS["superbpe_stage2"]
    assert byte_level["type"] == "ByteLevel" and byte_level["use_regex"] is False


def test_hf_ids_equal_ours_on_heldout_text(model, hf_model, heldout_en):
    hf = hf_model[0]
    for text in lines_of(heldout_en)[:300] + [heldout_en[:5000], GOLDEN_TEXT]:
        assert hf.encode(text).ids == model.encode(text), text


@given(fuzz_text)
def test_hf_ids_equal_ours_on_fuzz(model, hf_model, text):
    assert hf_model[0].encode(text).ids == model.encode(text)


# ---------------------------------------------------------------------------- §6.9 determinism
def test_deterministic_across_threads_and_file_order(tmp_path, shakespeare):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(shakespeare[:60_000])
    b.write_text(shakespeare[60_000:120_000])
    out = []
    for files, threads in (([a, b], 1), ([b, a], 2), ([a, b], 2)):
        tok = newbpe.train([str(f) for f in files], "superbpe", 700, transition=300, threads=threads)
        tok.save(tmp_path / f"m{len(out)}", hf=False)
        out.append((tmp_path / f"m{len(out)}" / "model.json").read_bytes())
    assert out[0] == out[1] == out[2]


# ---------------------------------------------------------------------------- errors before counting
class Untouchable:
    """A source that fails the test if anything reads it (errors must come before counting)."""

    def __iter__(self):
        raise AssertionError("the corpus was read")


@pytest.mark.parametrize("options, message", [
    ({"transition": 0}, "transition"), ({"transition": -3}, "transition"), ({"transition": 1}, "inherits no merge"),
    ({"transition": 1000}, "below vocab_size"), ({"inherit_merges": 1000}, "below vocab_size"),
    ({"inherit_merges": 0}, "inherit_merges"), ({}, "exactly one"),
    ({"inherit_merges": 5, "transition": 6}, "exactly one"),
    ({"transition": 10, "max_words": 0}, "max_words"),
    ({"transition": 10, "replay_skip": "never"}, "replay_skip"),
    ({"transition": 10, "forbid_substrings": [""]}, "forbid_substrings"),
    ({"transition": 10, "stage1": "/nonexistent/model"}, "stage1"),
])
def test_bad_options_are_one_line_errors_before_counting(options, message):
    with pytest.raises(NewbpeError, match=message) as e:
        newbpe.train(Untouchable(), "superbpe", 1000, **options)
    assert "\n" not in str(e.value)


def test_stage1_that_is_not_byte_level_bpe_is_refused(tmp_path, lines):
    chars = newbpe.train(lines[:200], "bpe", 120, units="chars", pretokenizer="whitespace")
    chars.save(tmp_path / "chars", hf=False)
    with pytest.raises(NewbpeError, match="not byte-level rank BPE") as e:
        newbpe.train(Untouchable(), "superbpe", 1000, transition=10, stage1=str(tmp_path / "chars"))
    assert "\n" not in str(e.value)
    with pytest.raises(NewbpeError, match="needs text"):
        newbpe.train({"abc": 3}, "superbpe", 1000, transition=10)


# ---------------------------------------------------------------------------- CLI
def test_cli_train_transition_and_extend(tmp_path, shakespeare):
    corpus = tmp_path / "c.txt"
    corpus.write_text(shakespeare[:80_000])
    run = CliRunner()
    r = run.invoke(main, ["train", str(corpus), "--algo", "superbpe", "--vocab-size", "600", "--transition", "200",
                          "-o", str(tmp_path / "m"), "--progress", "none"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    tok = newbpe.load(tmp_path / "m")
    assert tok.algo == "superbpe" and tok.stats["inherit_merges_requested"] == 199
    assert (tmp_path / "m" / "tokenizer.json").exists()
    r = run.invoke(main, ["info", "-m", str(tmp_path / "m")], catch_exceptions=False)
    assert "skipped_merges" in r.output and "words_per_token" in r.output
    # extend the saved HF tokenizer.json of a stage-1 BPE
    s1 = newbpe.train([str(corpus)], "bpe", 500, pretokenizer="superbpe_stage1")
    s1.save(tmp_path / "s1")
    r = run.invoke(main, ["train", str(corpus), "--algo", "superbpe", "--vocab-size", "600", "--option",
                          "inherit_merges=200", "--stage1", str(tmp_path / "s1" / "tokenizer.json"), "-o",
                          str(tmp_path / "m2"), "--progress", "none"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    tok2 = newbpe.load(tmp_path / "m2")
    assert merge_strings(tok2)[:200] == merge_strings(s1)[:200]
    r = run.invoke(main, ["train", str(corpus), "--algo", "superbpe", "--vocab-size", "600", "--transition", "0",
                          "-o", str(tmp_path / "m3")])
    assert r.exit_code != 0 and "transition" in r.output and len(r.output.strip().splitlines()) == 1
