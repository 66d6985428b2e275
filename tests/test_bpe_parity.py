"""Merges identical to HF `BpeTrainer` (bpe.md §12-13), and the BPE trainer's invariants."""
import json

import pytest
from hypothesis import given, settings, strategies as st
from tokenizers import pre_tokenizers, trainers

import newbpe
from newbpe.export.hf import hf_untrained, to_hf_dict

from conftest import lines_of, read_prefix, shared

SPECIALS = ["<|endoftext|>", "<pad>"]


def hf_train(lines, vocab_size, preset, specials=SPECIALS, **kw):
    hf = hf_untrained(preset)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), **kw)
    hf.train_from_iterator(lines, trainer)
    return json.loads(hf.to_str())["model"]


def assert_parity(lines, vocab_size, preset, specials=SPECIALS, hf_kw=None, **kw):
    ours = to_hf_dict(newbpe.train(lines, vocab_size=vocab_size, pretokenizer=preset,
                                   special_tokens=specials, **kw))["model"]
    theirs = hf_train(lines, vocab_size, preset, specials, **(hf_kw or {}))
    assert ours["vocab"] == theirs["vocab"]
    assert ours["merges"] == theirs["merges"]
    return ours


@pytest.mark.parametrize("preset", ["gpt2", "cl100k", "o200k"])
def test_parity_tinyshakespeare(shakespeare, preset):
    assert_parity(lines_of(shakespeare), 3000, preset)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["gpt2", "cl100k", "o200k"])
def test_parity_gutenberg_slice(preset):
    text = read_prefix(shared("en/gutenberg_50MB.txt"), 3_000_000)
    assert_parity(lines_of(text), 8000, preset)


@pytest.mark.slow
def test_parity_python_code():
    text = read_prefix(shared("code/cpython311_stdlib_py.txt"), 2_000_000)
    assert_parity(lines_of(text), 6000, "cl100k")


corpus_text = st.lists(st.sampled_from(list("aab  \n\t\r.,'sS1234😀中文é\u0301") + ["\r\n", "  ", "'s", "aaaaaaa"]),
                       min_size=1, max_size=40).map("".join)


@settings(max_examples=30)
@given(st.lists(corpus_text, min_size=1, max_size=30), st.sampled_from(["gpt2", "cl100k", "o200k"]),
       st.integers(260, 330))
def test_parity_fuzzed_corpora(lines, preset, vocab_size):
    assert_parity(lines, vocab_size, preset)


def test_min_frequency_golden():
    words = {"ab": 3, "cd": 2, "ef": 1}
    with pytest.warns(UserWarning, match="min_frequency"):
        tok = newbpe.train(words, vocab_size=1000, pretokenizer="none", min_frequency=2)
    assert [tuple(m) for m in to_hf_dict(tok)["model"]["merges"]] == [("a", "b"), ("c", "d")]


def test_min_frequency_matches_hf(shakespeare):
    lines = lines_of(shakespeare)[:3000]
    assert_parity(lines, 2000, "gpt2", min_frequency=5, hf_kw={"min_frequency": 5})


@pytest.mark.parametrize("length", [2, 3, 4, 6])
def test_max_token_length_hf_mode_matches_hf(shakespeare, length):
    lines = lines_of(shakespeare)[:2000]
    assert_parity(lines, 800, "gpt2", max_token_length=length, max_token_length_mode="hf",
                  hf_kw={"max_token_length": length})


@pytest.mark.parametrize("length", [1, 2, 5])
def test_max_token_length_exact_never_exceeds(shakespeare, length):
    tok = newbpe.train(lines_of(shakespeare)[:2000], vocab_size=800, max_token_length=length)
    assert max(len(t) for t in tok.vocab.values() if t not in [s.encode() for s in tok.special_tokens]) <= length
    if length == 1:
        assert tok.info()["num_merges"] == 0


def test_merges_respect_creation_order(shakespeare):
    tok = newbpe.train(lines_of(shakespeare), vocab_size=1500)
    known = set(range(tok.n_specials + tok.n_alphabet))
    for a, b, c in tok.merges:
        assert a in known and b in known
        known.add(c)


def test_truncating_merges_gives_the_smaller_model(shakespeare):
    lines = lines_of(shakespeare)
    big = newbpe.train(lines, vocab_size=2000)
    small = newbpe.train(lines, vocab_size=1200)
    n = len(small.merges)
    assert big.merges[:n] == small.merges
    assert [big.vocab[i] for i in range(small.vocab_size)] == [small.vocab[i] for i in range(small.vocab_size)]


def test_vocab_size_is_met_exactly(shakespeare):
    tok = newbpe.train(lines_of(shakespeare), vocab_size=777, special_tokens=SPECIALS)
    assert tok.vocab_size == 777


def test_early_stop_warns_with_the_size_reached():
    with pytest.warns(UserWarning, match="stopped at vocab size 258"):
        tok = newbpe.train({"abc": 3}, vocab_size=1000, pretokenizer="none")
    assert tok.vocab_size == 258


def test_counts_above_2_31_train_exactly():
    words = {"aaaa": 2**32 + 5, "ab": 2**40, "ba": 3}
    tok = newbpe.train(words, vocab_size=259, pretokenizer="none")
    merges = [tuple(m) for m in to_hf_dict(tok)["model"]["merges"]]
    # (a,b) = 2**40 beats (a,a) = 3 * (2**32 + 5); then (a,a); then (aa,aa) = 2**32 + 5
    assert merges == [("a", "b"), ("a", "a"), ("aa", "aa")]


def test_char_level_whitespace_bpe_matches_hf(shakespeare):
    """The ▁ setup: char units, words prefixed with ▁; same merges as HF on the same words."""
    lines = lines_of(shakespeare)
    tok = newbpe.train(lines, vocab_size=600, pretokenizer="whitespace", units="chars",
                       special_tokens=["<pad>"], unknown_chars="drop")
    hf = hf_untrained("whitespace", units="chars")
    hf.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=600, special_tokens=["<pad>"],
                                                       show_progress=False))
    theirs = json.loads(hf.to_str())["model"]
    ours = to_hf_dict(tok)["model"]
    assert ours["merges"] == theirs["merges"]
    assert ours["vocab"] == theirs["vocab"]


def test_hand_computed_golden():
    """Worked by hand. Initial pairs: ug 20 (hug 10 + pug 5 + hugs 5), pu 17, un 16, hu 15, gs 5, bu 4.
    1. u g (20). Then un 16, h ug 15, p u 12, p ug 5, ug s 5, b u 4.
    2. u n (16). Then h ug 15, p un 12, p ug 5, ug s 5, b un 4.
    3. h ug (15). 4. p un (12). Then p ug 5 and hug s 5 tie: ids p=79 < hug=258, so
    5. p ug, 6. hug s (5), 7. b un (4)."""
    words = {"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}
    tok = newbpe.train(words, vocab_size=263, pretokenizer="none")
    assert [tuple(m) for m in to_hf_dict(tok)["model"]["merges"]] == [
        ("u", "g"), ("u", "n"), ("h", "ug"), ("p", "un"), ("p", "ug"), ("hug", "s"), ("b", "un")]
    assert tok.vocab_size == 263 and tok.encode("hugs pun") == tok.encode("hugs") + tok.encode(" pun")


def test_limit_alphabet_matches_hf(shakespeare):
    lines = lines_of(shakespeare)
    # 40 keeps the 40 most frequent characters; the counts around the cut are distinct in this text
    tok = newbpe.train(lines, vocab_size=300, pretokenizer="whitespace", units="chars", limit_alphabet=40,
                       unknown_chars="drop")
    hf = hf_untrained("whitespace", units="chars")
    hf.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=300, limit_alphabet=40, show_progress=False))
    theirs = json.loads(hf.to_str())["model"]
    ours = to_hf_dict(tok)["model"]
    assert ours["vocab"] == theirs["vocab"] and ours["merges"] == theirs["merges"]
    assert tok.n_alphabet == 40
