"""model.json: exact save/load, strict validation, atomic writes."""
import json

import pytest

import newbpe
from newbpe.errors import ModelFileError
from newbpe.model import FORMAT_VERSION

from conftest import lines_of


@pytest.fixture(scope="module")
def tok(shakespeare):
    return newbpe.train(lines_of(shakespeare)[:5000], vocab_size=600, special_tokens=["<s>", "</s>"])


def test_save_load_is_exact(tok, tmp_path, heldout_en):
    written = tok.save(tmp_path / "m")
    assert {p.split("/")[-1] for p in written} == {"model.json", "tokenizer.json", "tokenizer_config.json",
                                                   "special_tokens_map.json"}
    back = newbpe.load(tmp_path / "m")
    assert back.to_dict() == tok.to_dict()
    assert back.encode(heldout_en) == tok.encode(heldout_en)
    assert newbpe.load(tmp_path / "m" / "model.json").vocab == tok.vocab


def test_model_records_everything(tok):
    d = tok.to_dict()
    for key in ("format", "format_version", "algo", "units", "pipeline", "special_tokens", "options",
                "tokens", "merges", "model_ids", "flags", "stats"):
        assert key in d
    assert set(d["pipeline"]) == {"transforms", "pretokenizer", "encoder", "decoder"}
    assert d["options"]["max_token_length_mode"] == "exact"
    info = tok.info()
    assert info["algorithm"] == "bpe" and info["vocab_size"] == 600 and info["num_merges"] == len(tok.merges)


def corrupt_variants(d):
    yield "truncated", None
    yield "newer", {**d, "format_version": FORMAT_VERSION + 1}
    yield "not newbpe", {**d, "format": "something-else"}
    yield "missing field", {k: v for k, v in d.items() if k != "merges"}
    yield "bad merge", {**d, "merges": d["merges"][:-1] + [[0, 1, 2]]}
    yield "bad base64", {**d, "tokens": d["tokens"][:-1] + ["%%%"]}
    yield "bad ids", {**d, "model_ids": d["model_ids"] + [10**9]}


@pytest.mark.parametrize("case", ["truncated", "newer", "not newbpe", "missing field", "bad merge",
                                  "bad base64", "bad ids"])
def test_bad_model_files_give_clear_errors(tok, tmp_path, case):
    d = tok.to_dict()
    content = dict(corrupt_variants(d))[case]
    path = tmp_path / "model.json"
    text = json.dumps(d) if content is None else json.dumps(content)
    path.write_text(text[: len(text) // 2] if content is None else text)
    with pytest.raises(ModelFileError) as err:
        newbpe.load(tmp_path)
    assert "\n" not in str(err.value)
    if case == "newer":
        assert "newer" in str(err.value)


def test_missing_model_dir(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        newbpe.load(tmp_path / "nope")


def test_save_is_atomic(tok, tmp_path, monkeypatch):
    target = tmp_path / "m"
    tok.save(target)
    before = (target / "model.json").read_bytes()
    import newbpe.modelfile as model          # its `json` is the json module Tokenizer.save uses

    def boom(*a, **k):
        raise RuntimeError("crash while serialising")
    monkeypatch.setattr(model.json, "dumps", boom)
    with pytest.raises(RuntimeError):
        tok.save(target)
    assert (target / "model.json").read_bytes() == before
    assert not [p for p in target.iterdir() if p.name.startswith(".tmp-")]
