"""Picky BPE (specs/picky.md): the spec's golden log and statistics table, and its invariants."""
import pytest
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe.engine import FLAG_ABSENT, FLAG_ATOMIC
from newbpe.trainers import picky

from conftest import BUNDLED, lines_of
from test_engine import check_exact, recount

SPECIALS = ["<PAD>", "<UNK>", "<BOS>", "<EOS>"]
TOY = {"would": 97, "could": 61, "should": 43, "old": 23, "bold": 11, "mould": 2, "cold": 17, "hold": 29,
       "told": 41, "sold": 7, "world": 19, "word": 13, "wood": 5}


def toy_counts():
    return newbpe.WordCounts.from_dict({"\u2581" + w: c for w, c in TOY.items()}, pretokenizer="whitespace",
                                       units="chars")


def log(run):
    s = lambda t: run.engine.token_bytes(t).decode()
    return " ".join(f"+{s(e[1])}|{s(e[2])}" if e[0] == "M" else f"-{s(e[1])}>" + "|".join(map(s, e[2]))
                    for e in run.events)


def test_toy_event_log_reference_compat():
    """specs/picky.md §9.1, computed with the reference code (README §4 ties)."""
    run = picky.fit(toy_counts(), 30, SPECIALS, threshold=0.9, compat="reference", unk_token="<UNK>")
    assert log(run) == (
        "+l|d +o|u +ou|ld -ou>o|u +▁|w +o|ld +▁w|ould +▁|c +▁c|ould +▁|s +h|ould -ould>o|u|ld +▁s|hould "
        "-hould>h|o|u|ld +t|old +▁|told -told>t|old +▁w|o -▁w>▁|w +▁wo|r +h|old +▁|hold -hold>h|old +▁|old "
        "+▁wor|ld -ld>l|d +▁c|old -▁c>▁|c +▁wor|d -▁wor>▁wo|r +b|old")
    assert (run.stats["merge_events"], run.stats["removal_events"], run.present) == (22, 9, 30)


def test_toy_threshold_one_is_plain_bpe():
    run = picky.fit(toy_counts(), 30, SPECIALS, threshold=1.0, compat="reference", unk_token="<UNK>")
    assert log(run) == ("+l|d +o|u +ou|ld +▁|w +o|ld +▁w|ould +▁|c +▁c|ould +▁|s +h|ould +▁s|hould +t|old "
                        "+▁|told")


@pytest.fixture(scope="module")
def shakespeare_words():
    return newbpe.count(str(BUNDLED / "en" / "tinyshakespeare.txt"), pretokenizer="whitespace", units="chars")


# specs/picky.md §9.2: (V, T) -> merges, splits, restorations, corpus tokens (reference code, run)
TABLE = {(1000, 1.0): (932, 0, 0, 391357), (1000, 0.9): (999, 67, 0, 384913), (1000, 0.8): (1023, 91, 2, 383383),
         (1000, 0.7): (1061, 129, 13, 381950), (1000, 0.6): (1103, 171, 25, 380765),
         (2000, 1.0): (1932, 0, 0, 326993), (2000, 0.9): (2149, 217, 0, 319227), (2000, 0.8): (2222, 290, 6, 317686),
         (2000, 0.7): (2314, 382, 30, 316838), (2000, 0.6): (2432, 500, 84, 316285)}


@pytest.mark.parametrize("vocab_size,threshold", sorted(TABLE))
def test_statistics_table_reference_compat(shakespeare_words, vocab_size, threshold):
    assert len(shakespeare_words) == 25670
    run = picky.fit(shakespeare_words, vocab_size, SPECIALS, threshold=threshold, compat="reference",
                    unk_token="<UNK>")
    got = (run.stats["merge_events"], run.stats["removal_events"], run.stats["restorations"],
           int(run.engine.token_freqs().sum()))
    assert got == TABLE[(vocab_size, threshold)]
    assert run.present == vocab_size


@pytest.mark.parametrize("threshold", [0.9, 0.7])
def test_default_options_invariants(shakespeare_words, threshold):
    run = picky.fit(shakespeare_words, 1500, SPECIALS, threshold=threshold, unk_token="<UNK>")
    e = run.engine
    # exact accounting: present tokens == vocab_size; #MERGE = (V - initial) + removals + duplicates - restorations
    assert run.present == 1500
    assert sum(1 for t in range(e.n_tokens) if not e.flags(t) & FLAG_ABSENT) == 1500
    initial = run.base.n_base
    assert run.stats["merge_events"] == (1500 - initial) + run.stats["removal_events"] + \
        run.stats["duplicate_merges"]
    # atomic tokens are never removed; every SPLIT directly follows its MERGE, at most two per MERGE
    follow = 0
    for ev in run.events:
        if ev[0] == "M":
            follow = 0
            continue
        follow += 1
        assert follow <= 2 and not e.flags(ev[1]) & FLAG_ATOMIC
    # token frequencies and pair counts equal a recount of the final segmentation
    check_exact(e)
    assert all(not e.flags(t) & FLAG_ABSENT for t in recount(e)[1])


def test_threshold_one_equals_bpe_merges_byte_level(shakespeare):
    lines = lines_of(shakespeare)
    wc = newbpe.count(iter(lines))
    run = picky.fit(wc, 1200, threshold=1.0)
    tok = newbpe.train(wc, vocab_size=1200)
    assert run.stats["removal_events"] == 0
    assert [tuple(e[1:]) for e in run.events] == [tuple(m) for m in tok.merges]


@settings(max_examples=25)
@given(st.dictionaries(st.text("abcd", min_size=1, max_size=9), st.integers(1, 30), min_size=1, max_size=12),
       st.sampled_from([0.5, 0.7, 0.9]), st.sampled_from(["sequential", "simultaneous"]))
def test_counts_stay_exact_on_random_corpora(words, threshold, order):
    wc = newbpe.WordCounts.from_dict(words, pretokenizer="none", units="chars")
    run = picky.fit(wc, 4 + 12, (), threshold=threshold, check_order=order, unknown_chars="drop")
    check_exact(run.engine)


def test_bad_options():
    with pytest.raises(newbpe.NewbpeError, match="compat"):
        picky.fit(toy_counts(), 30, SPECIALS, compat="nope")
    with pytest.raises(newbpe.NewbpeError, match="threshold"):
        picky.fit(toy_counts(), 30, SPECIALS, threshold=1.5)


# ---------------------------------------------------------------------------------------------- encoding
import numpy as np  # noqa: E402

from newbpe.encoders.replay import ReplayEncoder  # noqa: E402


def sequential_replay(units, events):
    """Plain reference: apply every event of the log in order (spec §4, equivalent form)."""
    seq = list(units)
    for ev in events:
        if ev[0] == "M":
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == ev[1] and seq[i + 1] == ev[2]:
                    out.append(ev[3])
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seq = out
        else:
            seq = [p for t in seq for p in (ev[2] if t == ev[1] else [t])]
    return seq


@pytest.mark.parametrize("units,threshold,order", [("chars", 0.7, "sequential"), ("bytes", 0.9, "sequential"),
                                                   ("bytes", 0.6, "simultaneous")])
def test_replay_reproduces_every_training_segmentation(units, threshold, order):
    pretok = "whitespace" if units == "chars" else "gpt2"
    wc = newbpe.count(str(BUNDLED / "en" / "tinyshakespeare.txt"), pretokenizer=pretok, units=units)
    run = picky.fit(wc, 1500, SPECIALS if units == "chars" else (), threshold=threshold, check_order=order,
                    unk_token="<UNK>")
    enc = ReplayEncoder(run.events, run.engine.n_tokens)
    ids, out_offsets = enc.encode_units(run.base.units_ids, run.base.offsets, threads=2)
    seg = run.engine.segmentation()
    assert [ids[out_offsets[w]:out_offsets[w + 1]].tolist() for w in range(len(seg))] == seg
    # the fast replay equals full sequential replay of the log
    for w in range(0, len(seg), 97):
        word = run.base.units_ids[run.base.offsets[w]:run.base.offsets[w + 1]]
        assert sequential_replay(word.tolist(), run.events) == seg[w]


@pytest.fixture(scope="module")
def picky_model(shakespeare):
    return newbpe.train(lines_of(shakespeare), algo="picky", vocab_size=1200, threshold=0.7,
                        special_tokens=["<|endoftext|>"])


any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@given(st.lists(st.one_of(any_text, st.sampled_from(["<|endoftext|>", " the", "should", "  \n"])),
                max_size=6).map("".join))
def test_picky_roundtrip_and_only_present_tokens(picky_model, text):
    ids = picky_model.encode(text, allowed_special="all")
    assert picky_model.decode(ids) == text
    assert all(0 <= i < picky_model.vocab_size for i in ids)
    removed = {t for t in range(len(picky_model.tokens)) if picky_model.flags[t] & FLAG_ABSENT}
    assert not removed & {picky_model.model_ids[i] for i in ids}


@given(st.binary(max_size=200))
def test_picky_bytes_roundtrip(picky_model, data):
    assert picky_model.decode_bytes(picky_model.encode_bytes(data)) == data


def test_picky_model_file_and_info(picky_model, tmp_path, heldout_en):
    info = picky_model.info()
    assert info["algorithm"] == "picky" and info["vocab_size"] == 1200
    assert info["removal_events"] > 0 and info["removed_tokens"] <= info["removal_events"]
    assert info["merge_events"] == (1200 - 257) + info["removal_events"] + info["num_duplicate_merges"]
    written = picky_model.save(tmp_path / "m")
    assert [p.split("/")[-1] for p in written] == ["model.json"]        # HF cannot express replay
    back = newbpe.load(tmp_path / "m")
    assert back.encode(heldout_en) == picky_model.encode(heldout_en)
    assert picky_model.encode_batch(lines_of(heldout_en), threads=1) == \
        picky_model.encode_batch(lines_of(heldout_en), threads=2)
    with pytest.raises(newbpe.NewbpeError, match="not exactly expressible"):
        picky_model.to_hf()


def test_whole_word_shortcut_matches_replay_on_training_words(shakespeare):
    lines = lines_of(shakespeare)[:4000]
    strict = newbpe.train(lines, algo="picky", vocab_size=800, threshold=0.7)
    shortcut = newbpe.train(lines, algo="picky", vocab_size=800, threshold=0.7, whole_word_shortcut=True)
    text = "".join(lines[:2000])
    assert strict.encode(text) == shortcut.encode(text)


def test_cli_picky(tmp_path):
    from click.testing import CliRunner
    from newbpe.cli import main
    out = tmp_path / "p"
    r = CliRunner().invoke(main, ["train", "--algo", "picky", "--threshold", "0.7", "--reference-compat",
                                  "--units", "chars", "--pretokenizer", "whitespace", "--vocab-size", "300",
                                  "--progress", "none", "-o", str(out), str(BUNDLED / "en" / "ud_en_pud_test.txt")])
    assert r.exit_code == 0, r.output + r.stderr
    info = newbpe.load(out).info()
    assert info["options"]["threshold"] == 0.7 and info["options"]["self_pair_ios"] == "reference"
    r = CliRunner().invoke(main, ["train", "--algo", "bpe", "--threshold", "0.7", "--vocab-size", "300",
                                  "-o", str(tmp_path / "b"), str(BUNDLED / "en" / "ud_en_pud_test.txt")])
    assert r.exit_code != 0 and "unknown option" in r.stderr


def test_corrupt_event_log_is_rejected(picky_model, tmp_path):
    import json
    d = picky_model.to_dict()
    d["extra"]["events"][3] = ["M", 0, 1, 0]
    (tmp_path / "model.json").write_text(json.dumps(d))
    with pytest.raises(newbpe.ModelFileError, match="event 3"):
        newbpe.load(tmp_path)


def test_approximate_hf_export_records_measured_agreement(picky_model, tmp_path, heldout_en, shakespeare):
    from tokenizers import Tokenizer as HFTokenizer
    from newbpe.export.hf import save_hf
    from newbpe.metrics import agreement
    import json
    texts = lines_of(heldout_en)
    exact = newbpe.train(lines_of(shakespeare), vocab_size=800)
    assert agreement(exact, texts) == {"words": 1.0, "tokens": 1.0, "n_words": agreement(exact, texts)["n_words"],
                                       "n_tokens": agreement(exact, texts)["n_tokens"]}
    measured = agreement(picky_model, texts)
    save_hf(picky_model, tmp_path, approximate=True, agreement=measured)
    hf = HFTokenizer.from_file(str(tmp_path / "tokenizer.json"))
    got = json.loads((tmp_path / "tokenizer_config.json").read_text())["newbpe_approximation"]["agreement"]
    assert got == measured
    assert 0.5 < got["words"] < 1.0 and got["words"] <= got["tokens"] <= 1.0
    # the recorded share is what HF actually does: recount it directly on one line
    line = texts[0]
    assert hf.decode(hf.encode(line).ids) == line


def test_reference_compat_flag_and_info_examples(tmp_path):
    run_a = picky.fit(toy_counts(), 30, SPECIALS, reference_compat=True, unk_token="<UNK>")
    run_b = picky.fit(toy_counts(), 30, SPECIALS, compat="reference", unk_token="<UNK>")
    assert log(run_a) == log(run_b) and run_a.opts["self_pair_ios"] == "reference"
    from click.testing import CliRunner
    from newbpe.cli import main
    tok = newbpe.train(toy_counts(), algo="picky", vocab_size=30, special_tokens=SPECIALS, reference_compat=True,
                       unk_token="<UNK>")
    tok.save(tmp_path / "m")
    r = CliRunner().invoke(main, ["info", "-m", str(tmp_path / "m")])
    assert r.exit_code == 0 and "tokens not in the vocabulary (9" in r.output and "'ould'" in r.output


def test_reference_model_import_matches_reference_encoder():
    """specs/picky.md §10.10: a reference-format model encodes exactly as the reference encoder
    (fixture made by running pchizhov/picky_bpe locally; see tests/fixtures/picky_reference)."""
    from pathlib import Path
    from newbpe.export.picky_reference import load_reference
    fix = Path(__file__).parent / "fixtures" / "picky_reference"
    tok = load_reference(fix / "model_v500_t07.json.gz")
    assert tok.vocab_size == 500 and tok.info()["removal_events"] == 21
    lines = (fix / "heldout.txt").read_text(encoding="utf-8").splitlines()
    expected = [[int(x) for x in l.split()] for l in (fix / "expected_ids.txt").read_text().split("\n")]
    assert tok.encode_batch(lines) == expected
    assert tok.encode_batch(lines, threads=2) == expected
    assert tok.decode(tok.encode("  hear me   speak ")) == "hear me speak"


@settings(max_examples=15)
@given(st.dictionaries(st.text("abcde", min_size=2, max_size=10), st.integers(1, 40), min_size=2, max_size=14),
       st.sampled_from([0.5, 0.7, 0.9]), st.sampled_from(["sequential", "simultaneous"]))
def test_every_event_keeps_counts_exact_and_splits_into_present_pieces(words, threshold, order):
    """specs/picky.md §10.6 and §10.8, checked after every MERGE and its SPLITs."""
    wc = newbpe.WordCounts.from_dict(words, pretokenizer="none", units="chars")
    from newbpe.trainers.base import layout
    from newbpe.engine import Engine
    base = layout(wc, (), unknown_chars="drop")
    engine = Engine.build(base.units_ids, base.offsets, base.counts, base.base_token_bytes(), 0,
                          allow_remerge=True, track_tokens=True)
    class CheckedRun(picky.PickyRun):
        def remove(self, x):                    # pieces must be present or atomic at split time
            super().remove(x)
            assert all(engine.flags(p) & FLAG_ATOMIC or not engine.flags(p) & FLAG_ABSENT for p in self.events[-1][2])
    run = CheckedRun(engine, base.n_base, picky.resolve_options({"threshold": threshold, "check_order": order}))
    for _ in range(25):
        n_events = len(run.events)
        run.run(10**9, max_steps=1)                # one MERGE (in numba) and the SPLITs it causes
        if len(run.events) == n_events:
            break
        check_exact(engine)
        assert run.present == sum(1 for t in range(engine.n_tokens) if not engine.flags(t) & FLAG_ABSENT)


def test_option_array_is_packed_by_name():
    """The kernels' option array (engine/loops.py P_*) is packed by name, not by position."""
    from newbpe.engine import Engine, loops
    p = Engine.picky_options(ios_ge=True, child_total=False, self_pair_ios="occupancy", count_duplicates=True)
    assert len(p) == loops.P_SIZE and p.dtype.name == "int64"
    assert (p[loops.P_GE], p[loops.P_CHILD_TOTAL], p[loops.P_COUNT_DUP]) == (1, 0, 1)
    assert p[loops.P_SELF_MODE] == loops.SELF_OCCUPANCY
    run = picky.fit(toy_counts(), 30, SPECIALS, threshold=0.9, compat="reference", unk_token="<UNK>")
    assert run.packed.tolist() == Engine.picky_options(ios_ge=False, child_total=False, self_pair_ios="reference",
                                                       count_duplicates=True).tolist()
