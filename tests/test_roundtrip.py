"""decode(encode(x)) == x for arbitrary text and bytes, byte- and char-level, with specials."""
import pytest
from hypothesis import given, strategies as st

import newbpe

from conftest import lines_of

SPECIALS = ["<|endoftext|>", "<pad>"]
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
mixed_text = st.lists(st.one_of(any_text, st.sampled_from(SPECIALS + ["\r\n", "  \n", "'s", "aaaaaaaaaaaaaaaa"])),
                      max_size=8).map("".join)


@pytest.fixture(scope="module")
def byte_models(shakespeare):
    lines = lines_of(shakespeare)
    return {p: newbpe.train(lines, vocab_size=1200, pretokenizer=p, special_tokens=SPECIALS)
            for p in ["gpt2", "cl100k", "o200k", "none", r"regex:\w+|\W"]}


@pytest.fixture(scope="module")
def char_model(shakespeare):
    return newbpe.train(lines_of(shakespeare), vocab_size=400, pretokenizer="cl100k", units="chars",
                        special_tokens=SPECIALS)


@given(mixed_text)
def test_byte_level_roundtrip_every_pretokenizer(byte_models, text):
    for tok in byte_models.values():
        assert tok.decode(tok.encode_ordinary(text)) == text
        assert tok.decode(tok.encode(text, allowed_special="all")) == text


@given(mixed_text)
def test_specials_are_single_ids_only_when_allowed(byte_models, text):
    tok = byte_models["gpt2"]
    ids = tok.encode(text, allowed_special="all")
    assert ids.count(0) == text.count("<|endoftext|>")
    assert 0 not in tok.encode_ordinary(text)  # tiktoken semantics: ordinary text only when not disallowed
    if any(s in text for s in tok.special_tokens):   # tiktoken's default: special text raises (issue 16)
        with pytest.raises(newbpe.NewbpeError, match="special token"):
            tok.encode(text)
    else:
        assert tok.encode(text) == tok.encode_ordinary(text)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_roundtrip(byte_models, data):
    for tok in byte_models.values():
        assert tok.decode_bytes(tok.encode_bytes(data)) == data


@given(any_text)
def test_ids_are_below_vocab_size(byte_models, text):
    tok = byte_models["cl100k"]
    assert all(0 <= i < tok.vocab_size for i in tok.encode(text))


@given(st.lists(st.sampled_from(sorted(set("First Citizen: Before we proceed any further, hear me speak.\n"))),
                max_size=100).map("".join))
def test_char_level_roundtrip_on_known_characters(char_model, text):
    assert char_model.decode(char_model.encode(text)) == text


@given(any_text)
def test_char_level_unknown_characters_become_unk(char_model, text):
    ids = char_model.encode(text)
    unk = char_model.special_tokens.index("<unk>")
    known = set(char_model.vocabulary.char_units())
    assert ids.count(unk) == sum(c not in known for c in text)


def test_whitespace_pretokenizer_normalises_whitespace(shakespeare):
    tok = newbpe.train(lines_of(shakespeare), vocab_size=500, pretokenizer="whitespace", units="chars")
    text = "  Before we\tproceed \n any further "
    assert tok.decode(tok.encode(text)) == " ".join(text.split())


def test_encode_batch_equals_encode_and_threads_agree(byte_models, heldout_en):
    tok = byte_models["gpt2"]
    texts = lines_of(heldout_en)[:300]
    one = [tok.encode(t) for t in texts]
    assert tok.encode_batch(texts, threads=1) == one
    assert tok.encode_batch(texts, threads=2) == one


def test_invalid_utf8_training_input_survives(tmp_path):
    data = b"caf\xc3\xa9 \xff\xfe broken \xe2\x82 bytes\n" * 50 + b"plain text here\n" * 50
    path = tmp_path / "bin.txt"
    path.write_bytes(data)
    tok = newbpe.train(str(path), vocab_size=300)
    assert tok.decode_bytes(tok.encode_bytes(data)) == data
    assert any(b"\xff" in t for t in tok.vocab.values() if len(t) > 1)


def test_char_units_warn_on_invalid_utf8(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"abc \xff\xfe abc abd\n" * 20)
    with pytest.warns(UserWarning, match="replacement"):
        newbpe.train([str(path)], vocab_size=20, units="chars", threads=1)
