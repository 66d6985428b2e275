"""Encoding results and the tokenizer API items of issue 16 (item 3): offsets are exact spans of the
input (hypothesis), decode(skip_special_tokens=), decode_batch, encode_ordinary, tiktoken's
allowed/disallowed_special, get_vocab() in HF's string form, token_to_id in both forms, len/n_vocab."""
import warnings

import pytest
from hypothesis import given, strategies as st

import newbpe
from newbpe.errors import NewbpeError

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from(
    ["Hello world", "  two  spaces\n\tand tabs ", "wörld ünïcode 日本語", "<eos> inside<eos>", ""])


@pytest.fixture(scope="module")
def models(shakespeare):
    lines = shakespeare.splitlines(keepends=True)[:3000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "bpe": newbpe.train(lines, vocab_size=500, special_tokens=["<eos>"]),
            "picky": newbpe.train(lines, algo="picky", vocab_size=500, special_tokens=["<eos>"]),
            "scaffold_lbpe": newbpe.train(lines, algo="scaffold", vocab_size=500, encoder="lbpe",
                                          special_tokens=["<eos>"]),
            "observed": newbpe.train(lines, vocab_size=300, byte_alphabet="observed"),
            "chars": newbpe.train(lines, vocab_size=300, units="chars", pretokenizer="whitespace",
                                  special_tokens=["<unk>", "<eos>"]),
        }


def _check_spans(tok, text, enc):
    data = text.encode("utf-8", "surrogateescape")
    assert len(enc.ids) == len(enc.tokens) == len(enc.byte_offsets) == len(enc.offsets)
    last = 0
    for i, (s, e), (cs, ce) in zip(enc.ids, enc.byte_offsets, enc.offsets):
        assert last <= s <= e <= len(data)
        last = e
        tb = tok.vocab[i]
        if tok.decoder.type == "metaspace":
            tb = tb.replace("▁".encode(), b" ")
        span = data[s:e]
        if i == tok.token_to_id("<unk>") and tok.units == "chars":
            assert len(span.decode("utf-8", "surrogateescape")) == 1
            continue
        if not span.startswith(tb[:1]):
            tb = tb.lstrip(b" ")                # the model's own space (metaspace)
        assert span[:1] == tb[:1] and span[-1:] == tb[-1:]      # starts and ends with the token's bytes
        it = iter(span)
        assert all(b in it for b in tb)                         # spells it, gaps only where input is dropped
        assert text[cs:ce].encode("utf-8", "surrogateescape").find(data[s:e]) >= 0


@pytest.mark.parametrize("name", ["bpe", "picky", "scaffold_lbpe"])
@given(text=TEXT)
def test_byte_offsets_are_exact_spans(models, name, text):
    tok = models[name]
    enc = tok.encode(text, return_offsets=True, allowed_special="all")
    assert enc.ids == tok.encode(text, allowed_special="all")
    data = text.encode("utf-8")
    # full byte alphabet, lossless pre-tokenizer: the spans tile the input and spell each token
    assert b"".join(data[s:e] for s, e in enc.byte_offsets) == data
    for i, (s, e) in zip(enc.ids, enc.byte_offsets):
        assert data[s:e] == tok.vocab[i]
    _check_spans(tok, text, enc)
    assert enc.tokens == tok.token_strings(enc.ids)


@pytest.mark.parametrize("name", ["observed", "chars"])
@given(text=TEXT)
def test_offsets_where_input_is_dropped(models, name, text):
    tok = models[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = tok.encode(text, return_offsets=True, disallowed_special=())
    _check_spans(tok, text, enc)


def test_offsets_bytes_input_and_surrogateescape(models):
    tok = models["bpe"]
    raw = b"ab\xff\xfe c\xc3\xa9"
    enc = tok.encode(raw, return_offsets=True)
    assert b"".join(raw[s:e] for s, e in enc.byte_offsets) == raw
    text = raw.decode("utf-8", "surrogateescape")
    enc2 = tok.encode(text, return_offsets=True)
    assert enc2.ids == enc.ids and enc2.byte_offsets == enc.byte_offsets
    assert [text[a:b] for a, b in enc2.offsets][-1].endswith("é")


def test_offsets_template_and_split_characters(models, tmp_path):
    tok = models["bpe"]
    tok2 = newbpe.train(["x y z"] * 5, vocab_size=270, roles={"bos": "<s>", "eos": "</s>"}, add_bos=True, add_eos=True)
    enc = tok2.encode("x y", return_offsets=True, add_special_tokens=True)
    assert enc.offsets[0] == (0, 0) and enc.offsets[-1] == (0, 0) and enc.special_tokens_mask[0] == 1
    enc = tok.encode("日", return_offsets=True)      # byte tokens inside one character cover it
    assert all(o == (0, 1) for o in enc.offsets)


def test_offsets_none_where_a_transform_changes_the_text():
    from newbpe.preprocessors.nfc import NFC
    tok = newbpe.train(["cafe\u0301 latte"] * 20, vocab_size=270)
    tok.set_transforms([NFC()])
    assert tok.encode("latte", return_offsets=True).offsets is not None
    enc = tok.encode("cafe\u0301", return_offsets=True)
    assert enc.offsets is None and enc.byte_offsets is None and enc.ids == tok.encode("cafe\u0301")


def test_disallowed_special_follows_tiktoken(models):
    tok = models["bpe"]
    with pytest.raises(NewbpeError, match="special token '<eos>'"):
        tok.encode("a<eos>b")
    with pytest.raises(NewbpeError):
        tok.encode_batch(["ok", "a<eos>b"])
    with pytest.raises(NewbpeError):
        tok.encode("a<eos>b", disallowed_special=["<eos>"])
    ordinary = tok.encode_ordinary("a<eos>b")
    assert ordinary == tok.encode("a<eos>b", disallowed_special=()) and tok.vocab_size - 1 >= max(ordinary)
    assert 0 not in ordinary
    assert tok.encode("a<eos>b", allowed_special="all") == tok.encode("a") + [0] + tok.encode("b")
    assert tok.encode("a<eos>b", allowed_special={"<eos>"}) == tok.encode("a<eos>b", allowed_special="all")
    assert tok.encode_bytes(b"a<eos>b") == ordinary
    with pytest.raises(NewbpeError):
        tok.encode(b"a<eos>b")


def test_decode_skip_special_and_batch(models):
    tok = models["bpe"]
    ids = tok.encode("a<eos>b", allowed_special="all")
    assert tok.decode(ids) == "a<eos>b"
    assert tok.decode(ids, skip_special_tokens=True) == "ab"
    assert tok.decode_batch([ids, []], skip_special_tokens=True) == ["ab", ""]
    assert tok.decode_batch([ids]) == ["a<eos>b"]


def test_vocab_forms_and_sizes(models):
    tok = models["bpe"]
    vocab = tok.get_vocab()
    assert len(vocab) == len(tok) == tok.n_vocab == tok.vocab_size
    assert sorted(vocab.values()) == list(range(len(tok)))
    wid = tok.token_to_id(" t")
    assert wid is not None and tok.token_to_id("Ġt") == wid == vocab["Ġt"] == tok.token_to_id(b" t")
    assert tok.token_to_id("<eos>") == 0 and vocab["<eos>"] == 0
    assert tok.token_to_id("no such token") is None
    picky = models["picky"]
    assert len(picky.get_vocab()) == len(picky) < len(picky.vocabulary)
    from tokenizers import Tokenizer as HF
    hf = HF.from_str(tok.to_hf())
    assert hf.get_vocab() == vocab


def _hf_variant(tok, tmp_path, **flags):
    import json
    tok.save_hf(tmp_path)
    d = json.loads((tmp_path / "tokenizer.json").read_text())
    d["pre_tokenizer"].update(flags.get("pre", {}))
    d["post_processor"].update(flags.get("post", {}))
    (tmp_path / "tokenizer.json").write_text(json.dumps(d))
    from tokenizers import Tokenizer as HF
    return HF.from_file(str(tmp_path / "tokenizer.json"))


@pytest.mark.parametrize("prefix", [True, False])
@pytest.mark.parametrize("trim", [True, False])
def test_import_honours_byte_level_flags(models, tmp_path, heldout_en, prefix, trim):
    hf = _hf_variant(models["bpe"], tmp_path, pre={"add_prefix_space": prefix}, post={"trim_offsets": trim})
    tok = newbpe.load(tmp_path / "tokenizer.json")
    texts = heldout_en.splitlines()[:200] + ["Hello world", "", " x", "a<eos>b<eos>", "  two  spaces"]
    assert [tok.encode(t, allowed_special="all") for t in texts] == [hf.encode(t).ids for t in texts]
    for t in texts[:60] + ["Hello  world  "]:
        got, want = tok.encode(t, allowed_special="all", return_offsets=True), hf.encode(t)
        assert got.tokens == want.tokens
        if trim:     # HF's untrimmed offsets give the added prefix space a span over the first character
            assert got.offsets == want.offsets
    assert tok.decode(tok.encode("Hello")) == hf.decode(hf.encode("Hello").ids)
    tok.save(tmp_path / "again")            # the flags go back out in the export
    from tokenizers import Tokenizer as HF
    again = HF.from_file(str(tmp_path / "again" / "tokenizer.json"))
    assert [again.encode(t).ids for t in texts] == [hf.encode(t).ids for t in texts]


def test_import_refuses_flags_it_cannot_honour(models, tmp_path):
    import json
    tok = newbpe.train(["hello world"] * 5, vocab_size=270, pretokenizer="cl100k")
    tok.save_hf(tmp_path)
    d = json.loads((tmp_path / "tokenizer.json").read_text())
    d["pre_tokenizer"]["pretokenizers"][-1]["add_prefix_space"] = True
    (tmp_path / "tokenizer.json").write_text(json.dumps(d))
    with pytest.raises(NewbpeError, match=r"add_prefix_space=true\) after another pre-tokenizer"):
        newbpe.load(tmp_path / "tokenizer.json")
    d["pre_tokenizer"]["pretokenizers"][-1].update(add_prefix_space=False, use_regex=True)
    (tmp_path / "tokenizer.json").write_text(json.dumps(d))
    with pytest.raises(NewbpeError, match=r"use_regex=true\) after another pre-tokenizer"):
        newbpe.load(tmp_path / "tokenizer.json")


def test_misnamed_file_error_says_what_loads(models, tmp_path):
    models["bpe"].save_hf(tmp_path)
    (tmp_path / "tokenizer.json").rename(tmp_path / "my_tok.json")
    with pytest.raises(NewbpeError, match="reads a model directory or its model.json, and an HF.*looks like an HF"):
        newbpe.load(tmp_path / "my_tok.json")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(NewbpeError, match="reads a model directory") as e:
        newbpe.load(tmp_path / "other.json")
    assert "looks like" not in str(e.value)


def test_import_reads_roles_from_config(tmp_path):
    tok = newbpe.train(["hello world"] * 5, vocab_size=270, roles={"eos": "</s>", "pad": "<pad>"})
    tok.save(tmp_path / "m")
    (tmp_path / "m" / "model.json").unlink()
    again = newbpe.load(tmp_path / "m")
    assert again.roles == {"eos": "</s>", "pad": "<pad>"}
