"""Truncated vocabularies (`Tokenizer.truncated`, `metrics.truncated_curve`, `newbpe eval
--truncate`: SuperBPE's analysis, supertokens.md §2.5 and §5) and the tiktoken export of pre-tokenizers
that do not cover every character (superbpe_stage2)."""
import json

import pytest
import regex
from click.testing import CliRunner
from hypothesis import given, strategies as st

import newbpe
from newbpe.cli import main
from newbpe.export.tiktoken import check_tiktoken, load_tiktoken_encoding, save_tiktoken
from newbpe.metrics import evaluate, truncated_curve
from newbpe.pretokenizers import PreTokenizer, covering_pattern

from conftest import lines_of

SPECIALS = ["<|endoftext|>"]


@pytest.fixture(scope="module")
def lines(shakespeare):
    return lines_of(shakespeare[:200_000])


@pytest.fixture(scope="module")
def bpe_model(lines):
    return newbpe.train(lines, "bpe", 900, special_tokens=SPECIALS, pretokenizer="gpt2")


@pytest.fixture(scope="module")
def superbpe_model(lines):
    return newbpe.train(lines, "superbpe", 900, special_tokens=SPECIALS, transition=400)


# ---------------------------------------------------------------------------- truncation
@pytest.mark.parametrize("n", [1, 57, 300])
def test_truncated_bpe_equals_a_shorter_training_run(bpe_model, lines, n):
    """The first N merges of a BPE run do not depend on how far it goes (bpe.md), so the model cut
    to N merges is the model trained to that size: same tokens, merges and ids."""
    short = newbpe.train(lines, "bpe", 257 + n, special_tokens=SPECIALS, pretokenizer="gpt2")
    cut = bpe_model.truncated(n)
    assert cut.vocab_size == short.vocab_size == 257 + n
    assert cut.vocabulary.tokens == short.vocabulary.tokens
    assert cut.vocabulary.merges == short.vocabulary.merges
    for text in lines[:50] + ["<|endoftext|> hello there"]:
        assert cut.encode(text, allowed_special="all") == short.encode(text, allowed_special="all")


def test_truncated_to_no_merge_is_the_base_vocabulary(bpe_model):
    cut = bpe_model.truncated(0)
    assert cut.vocab_size == 257 and cut.vocabulary.merges == []
    assert cut.encode("ab") == [cut.token_to_id(b"a"), cut.token_to_id(b"b")]


def test_truncating_to_every_merge_keeps_the_model(superbpe_model, heldout_en):
    full = superbpe_model.truncated(len(superbpe_model.vocabulary.merges))
    a, b = full.to_dict(), superbpe_model.to_dict()
    assert {k: v for k, v in a.items() if k != "stats"} == {k: v for k, v in b.items() if k != "stats"}
    for text in lines_of(heldout_en)[:100]:
        assert full.encode(text) == superbpe_model.encode(text)


def test_truncated_superbpe_keeps_its_pipeline_and_round_trips(superbpe_model, tmp_path):
    cut = superbpe_model.truncated(450)       # past the 399 inherited merges: some superwords
    assert cut.pretokenizer.name == "superbpe_stage2" and cut.special_tokens == SPECIALS
    assert cut.vocab_size == 1 + 256 + 450
    text = "By the way, I paid $12345 for it...  Really?!\nNew line:   done. é 日本"
    assert cut.decode(cut.encode(text)) == text
    cut.save(tmp_path / "cut")                # a model of its own: saves, reloads, exports exactly
    again = newbpe.load(tmp_path / "cut")
    assert again.encode(text) == cut.encode(text)
    from tokenizers import Tokenizer as HFTokenizer
    hf = HFTokenizer.from_file(str(tmp_path / "cut" / "tokenizer.json"))
    assert hf.encode(text).ids == cut.encode(text)


@given(st.text(max_size=80))
def test_truncated_round_trip(superbpe_model, text):
    cut = superbpe_model.truncated(200)
    assert cut.decode(cut.encode(text)) == text


@pytest.mark.parametrize("n", [-1, 10**9, 2.5, True, "3"])
def test_bad_merge_counts_are_one_line_errors(bpe_model, n):
    with pytest.raises(newbpe.NewbpeError, match="n_merges must be an integer"):
        bpe_model.truncated(n)


def test_models_that_hide_tokens_cannot_be_truncated(lines):
    picky = newbpe.train(lines[:400], "picky", 400)
    with pytest.raises(newbpe.NewbpeError, match="cannot be truncated"):
        picky.truncated(10)


def test_curve_is_evaluate_of_each_truncated_model(superbpe_model, heldout_en):
    texts = lines_of(heldout_en)[:200]
    rows = truncated_curve(superbpe_model, texts, [600, 0, 300])
    assert [r["merges"] for r in rows] == [600, 0, 300]
    for r in rows:
        assert r == {"merges": r["merges"], "vocab_size": 257 + r["merges"],
                     **evaluate(superbpe_model.truncated(r["merges"]), texts)}
    by_n = {r["merges"]: r["bytes_per_token"] for r in rows}
    assert by_n[0] == 1.0 and by_n[0] < by_n[300] < by_n[600]   # base bytes only: one byte a token
    # a callable gives fresh texts for every N (a generator would be spent after the first)
    assert truncated_curve(superbpe_model, lambda: iter(texts), [600, 0, 300]) == rows


def test_curve_checks_every_n_before_encoding(superbpe_model):
    def texts():
        raise AssertionError("read before the merge counts were checked")
    with pytest.raises(newbpe.NewbpeError):
        truncated_curve(superbpe_model, texts, [10, 10**9])


def test_cli_eval_truncate(superbpe_model, tmp_path, heldout_en):
    superbpe_model.save(tmp_path / "m")
    held = tmp_path / "held.txt"
    held.write_text(heldout_en[:20_000], encoding="utf-8")
    run = CliRunner()
    r = run.invoke(main, ["eval", str(held), "-m", str(tmp_path / "m"), "--truncate", "0", "--truncate", "500",
                          "--json", "-"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["curves"]["m"]
    # eval encodes each line without its line break (newbpe/evaluation/metrics.py)
    want = truncated_curve(superbpe_model, [t.rstrip("\n") for t in lines_of(heldout_en[:20_000])], [0, 500])
    assert rows == [{k: x[k] for k in ("merges", "vocab_size", "bytes_per_token")} for x in want]
    r = run.invoke(main, ["eval", str(held), "-m", str(tmp_path / "m"), "--truncate", "99999"])
    assert r.exit_code != 0 and "n_merges must be an integer" in r.output and "Traceback" not in r.output
    r = run.invoke(main, ["eval", "-", "-m", str(tmp_path / "m"), "--truncate", "5"], input="abc\n")
    assert r.exit_code != 0 and "standard input" in r.output


# ---------------------------------------------------------------------------- tiktoken: gaps as pieces
GAPPY = st.text(st.sampled_from(list("ab 1234.,:!?\n\t/é")), max_size=40)


@given(GAPPY)
def test_covering_pattern_yields_the_isolated_pieces(text):
    pre = PreTokenizer("superbpe_stage2")
    assert regex.findall(pre.to_tiktoken(), text) == pre.split(text)
    custom = PreTokenizer(r"regex:\d+|!")
    assert regex.findall(covering_pattern(custom.pattern), text) == custom.split(text)


def test_superbpe_tiktoken_export_equals_newbpe(superbpe_model, tmp_path, heldout_en):
    pytest.importorskip("tiktoken", reason="tiktoken is in the test extra; not installed here")
    assert check_tiktoken(superbpe_model) == []
    save_tiktoken(superbpe_model, tmp_path, name="sb")
    enc = load_tiktoken_encoding(tmp_path, name="sb")
    k = superbpe_model.n_specials                    # tiktoken puts specials after the ranks
    for text in lines_of(heldout_en)[:300] + ["By the way, I paid $12345 for it...  Really?!\nNew line:   done."]:
        assert [i + k for i in enc.encode_ordinary(text)] == superbpe_model.encode(text), text


def test_supertoken_tiktoken_export_equals_newbpe(lines, tmp_path, heldout_en):
    """The supertoken model's pre-tokenizer is `none` (the whole text one piece): tiktoken's
    `[\\s\\S]+` pattern, and its rank rule gives newbpe's ids (supertokens.md §5)."""
    pytest.importorskip("tiktoken", reason="tiktoken is in the test extra; not installed here")
    tok = newbpe.train(lines, "supertoken", 900)
    assert check_tiktoken(tok) == []
    save_tiktoken(tok, tmp_path, name="st")
    enc = load_tiktoken_encoding(tmp_path, name="st")
    for text in lines_of(heldout_en)[:200] + [heldout_en[:3000]]:
        assert enc.encode_ordinary(text) == tok.encode(text)
