"""Exported tokenizer.json loads in stock `tokenizers` and gives our ids; tiktoken likewise."""
import json

import pytest
from hypothesis import given, strategies as st
from tokenizers import Tokenizer as HFTokenizer

import newbpe
from newbpe.export.hf import save_hf, to_hf_dict
from newbpe.export.tiktoken import check_tiktoken, load_tiktoken_encoding, save_tiktoken
from newbpe.model import Tokenizer

from conftest import BUNDLED, lines_of, read_prefix, shared

SPECIALS = ["<|endoftext|>", "<pad>"]
# HF's Oniguruma and Python's regex may disagree on code points assigned in only one Unicode version;
# the fuzz text stays in long-assigned ranges (bpe README §5.1) and avoids U+001C–U+001F for the
# whitespace setup (see export/hf.py).
stable_chars = st.characters(blacklist_categories=("Cs", "Co", "Cn"), max_codepoint=0x2FFFF)
fuzz_text = st.lists(st.one_of(st.text(stable_chars, max_size=60),
                               st.sampled_from(["\r\n", "  \n ", "'S", "'ll", "12345", "   x", "\t\t"])),
                     max_size=6).map("".join)


def hf_of(tok, tmp_path, name):
    d = tmp_path / name
    save_hf(tok, d)
    return HFTokenizer.from_file(str(d / "tokenizer.json"))


@pytest.fixture(scope="module")
def models(shakespeare):
    lines = lines_of(shakespeare)
    out = {p: newbpe.train(lines, vocab_size=1500, pretokenizer=p, special_tokens=SPECIALS)
           for p in ["gpt2", "cl100k", "o200k", "none"]}
    out["ignore_merges"] = Tokenizer.from_dict({**out["cl100k"].to_dict(),
                                               "options": {**out["cl100k"].options, "ignore_merges": True}})
    return out


@pytest.fixture(scope="module")
def hf_models(models, tmp_path_factory):
    base = tmp_path_factory.mktemp("hf")
    return {k: hf_of(v, base, k) for k, v in models.items()}


@pytest.mark.parametrize("name", ["gpt2", "cl100k", "o200k", "none", "ignore_merges"])
def test_hf_ids_equal_ours_on_heldout_text(models, hf_models, name, heldout_en):
    tok, hf = models[name], hf_models[name]
    texts = lines_of(heldout_en)[:400] + [heldout_en[:5000]]
    for text in texts:
        assert hf.encode(text).ids == tok.encode(text), text


@pytest.mark.parametrize("lang", ["he", "ar", "ms"])
def test_hf_ids_equal_ours_on_other_languages(models, hf_models, lang):
    text = "".join(p.read_text(encoding="utf-8")[:20000] for p in sorted((BUNDLED / lang).glob("*.txt")))
    for name in ["gpt2", "o200k"]:
        assert hf_models[name].encode(text).ids == models[name].encode(text)


@pytest.mark.slow
def test_hf_ids_equal_ours_on_gutenberg():
    text = read_prefix(shared("en/gutenberg_50MB.txt"), 2_000_000)
    tok = newbpe.train(lines_of(text[:1_000_000]), vocab_size=4000, pretokenizer="cl100k")
    hf = HFTokenizer.from_str(tok.to_hf())
    held = text[1_000_000:1_300_000]
    assert hf.encode(held).ids == tok.encode(held)


@given(fuzz_text)
def test_hf_ids_equal_ours_on_fuzz(models, hf_models, text):
    for name in ["gpt2", "cl100k", "o200k", "ignore_merges"]:
        assert hf_models[name].encode(text).ids == models[name].encode(text, allowed_special="all")


def test_hf_decoder_roundtrip_and_added_tokens(models, hf_models):
    hf = hf_models["gpt2"]
    text = "Hello <|endoftext|> world\n"
    ids = hf.encode(text).ids
    assert ids == models["gpt2"].encode(text, allowed_special="all")
    assert models["gpt2"].special_tokens[0] == "<|endoftext|>" and ids.count(0) == 1
    assert hf.decode(ids, skip_special_tokens=False) == text
    added = to_hf_dict(models["gpt2"])["added_tokens"]
    assert [(a["id"], a["content"], a["special"]) for a in added] == [(0, "<|endoftext|>", True), (1, "<pad>", True)]


def test_hf_export_of_char_whitespace_model(shakespeare, tmp_path):
    tok = newbpe.train(lines_of(shakespeare), vocab_size=500, pretokenizer="whitespace", units="chars")
    hf = hf_of(tok, tmp_path, "ws")
    for line in lines_of(shakespeare)[:500] + ["Zebra quux ünknown 😀 chars"]:
        assert hf.encode(line).ids == tok.encode(line)
        assert hf.decode(hf.encode(line).ids, skip_special_tokens=False) == tok.decode(tok.encode(line))


def test_duplicate_merges_roundtrip_through_hf(tmp_path):
    """A model whose merge list reuses a token string (bpe.md §6.4) loads in HF and encodes alike."""
    from test_engine import duplicate_merge_engine
    e = duplicate_merge_engine()[0]
    k = 0
    tokens = e.vocab_bytes()
    merges = [(a, b, n) for a, b, n, _ in e.merge_events]
    tok = Tokenizer(algo="bpe", units="chars", pretokenizer="none", special_tokens=[], n_alphabet=3,
                    tokens=tokens, merges=merges, options={"unknown_chars": "drop"})
    assert len(merges) == len(set(m[2] for m in merges)) + 1 + k
    hf = hf_of(tok, tmp_path, "dup")
    for text in ["abc", "abcabc", "bcab", "cabcb"]:
        assert hf.encode(text).ids == tok.encode(text)


def test_tiktoken_export_matches(models, tmp_path, heldout_en):
    tok = newbpe.train(lines_of(heldout_en), vocab_size=800, pretokenizer="cl100k")
    assert check_tiktoken(tok) == []
    save_tiktoken(tok, tmp_path, name="t")
    enc = load_tiktoken_encoding(tmp_path, name="t")
    for line in lines_of(heldout_en)[:300]:
        assert enc.encode_ordinary(line) == tok.encode(line)


def test_tiktoken_refuses_hidden_or_partial_alphabets(heldout_en):
    tok = newbpe.train({"abc": 5}, vocab_size=258, pretokenizer="none", byte_alphabet="observed")
    assert check_tiktoken(tok)
    with pytest.raises(newbpe.NewbpeError):
        save_tiktoken(tok, "/tmp/never-written")
