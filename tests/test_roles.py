"""Special-token roles and the bos/eos template (issue 16 item 1): API, CLI, model.json, HF export."""
import json

import pytest
from click.testing import CliRunner

import newbpe
from newbpe.cli import main
from newbpe.errors import ModelFileError, NewbpeError


@pytest.fixture(scope="module")
def lines(shakespeare):
    return shakespeare.splitlines(keepends=True)[:2000]


def test_roles_add_missing_specials_and_round_trip(lines, tmp_path):
    tok = newbpe.train(lines, vocab_size=400, special_tokens=["<|endoftext|>"],
                       roles={"bos": "<s>", "eos": "<|endoftext|>", "pad": "<pad>"}, add_bos=True, add_eos=True)
    assert tok.special_tokens == ["<|endoftext|>", "<s>", "<pad>"]
    assert tok.roles == {"bos": "<s>", "eos": "<|endoftext|>", "pad": "<pad>"}
    plain = tok.encode("To be")
    assert tok.encode("To be", add_special_tokens=True) == [1] + plain + [0]
    assert tok.encode_batch(["To be", ""], add_special_tokens=True) == [[1] + plain + [0], [1, 0]]
    tok.save(tmp_path / "m")
    d = json.loads((tmp_path / "m" / "model.json").read_text())
    assert d["roles"] == tok.roles and d["template"] == {"add_bos": True, "add_eos": True}
    again = newbpe.load(tmp_path / "m")
    assert again.roles == tok.roles and again.template == tok.template
    assert again.encode("To be", add_special_tokens=True) == [1] + plain + [0]
    smap = json.loads((tmp_path / "m" / "special_tokens_map.json").read_text())
    assert smap["bos_token"] == "<s>" and smap["eos_token"] == "<|endoftext|>" and smap["pad_token"] == "<pad>"
    config = json.loads((tmp_path / "m" / "tokenizer_config.json").read_text())
    assert config["eos_token"] == "<|endoftext|>" and config["add_bos_token"] is True
    hf = json.loads((tmp_path / "m" / "tokenizer.json").read_text())
    assert hf["post_processor"]["type"] == "Sequence"
    from tokenizers import Tokenizer as HF
    h = HF.from_file(str(tmp_path / "m" / "tokenizer.json"))
    assert h.encode("To be").ids == [1] + plain + [0]


def test_model_without_roles_writes_no_role_fields(lines, tmp_path):
    tok = newbpe.train(lines, vocab_size=300)
    tok.save(tmp_path / "m")
    d = json.loads((tmp_path / "m" / "model.json").read_text())
    assert "roles" not in d and "template" not in d
    assert tok.encode("To be", add_special_tokens=True) == tok.encode("To be")


def test_set_roles_on_trained_model(lines):
    tok = newbpe.train(lines, vocab_size=300, special_tokens=["<eos>", "<pad>"])
    tok.set_roles({"eos": "<eos>"}, add_eos=True)
    assert tok.encode("a", add_special_tokens=True)[-1] == 0
    tok.set_roles({"pad": "<pad>"})
    assert tok.roles == {"eos": "<eos>", "pad": "<pad>"}
    tok.set_roles({"pad": None})
    assert tok.roles == {"eos": "<eos>"}
    with pytest.raises(NewbpeError, match="not a special token of this model"):
        tok.set_roles({"bos": "<s>"})
    with pytest.raises(NewbpeError, match="needs a bos token"):
        tok.set_roles(add_bos=True)


@pytest.mark.parametrize("roles, add_bos, msg", [
    ({"eos": ""}, False, "non-empty"),
    ({"cls": "<c>"}, False, "unknown special-token role"),
    ([("eos", "a"), ("eos", "b")], False, "given twice with different tokens"),
    ({}, True, "needs a bos token"),
    ("eos", False, "roles must be a dict"),
])
def test_bad_roles_are_one_line_errors(lines, roles, add_bos, msg):
    with pytest.raises(NewbpeError, match=msg) as e:
        newbpe.train(lines, vocab_size=300, roles=roles, add_bos=add_bos)
    assert "\n" not in str(e.value)


def test_model_file_roles_validated(lines, tmp_path):
    tok = newbpe.train(lines, vocab_size=300, roles={"eos": "<eos>"})
    tok.save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    d = json.loads(path.read_text())
    for bad, msg in (({"eos": "<nope>"}, "not special tokens"), ({"foo": "<eos>"}, "unknown"), ([1], "objects")):
        path.write_text(json.dumps(dict(d, roles=bad)))
        with pytest.raises(ModelFileError, match=msg):
            newbpe.load(tmp_path / "m")
    path.write_text(json.dumps(dict(d, template={"add_bos": True})))
    with pytest.raises(ModelFileError, match="needs a bos"):
        newbpe.load(tmp_path / "m")


def test_cli_roles(tmp_path, shakespeare):
    corpus = tmp_path / "c.txt"
    corpus.write_text(shakespeare[:60000])
    r = CliRunner().invoke(main, ["train", "--vocab-size", "300", "--eos", "<|endoftext|>", "--pad", "<pad>",
                                  "--add-eos", "-o", str(tmp_path / "m"), str(corpus)])
    assert r.exit_code == 0, r.output
    tok = newbpe.load(tmp_path / "m")
    assert tok.special_tokens == ["<|endoftext|>", "<pad>"] and tok.template == {"add_eos": True}
    for args, msg in ((["--eos", "a", "--eos", "b"], "given twice"), (["--bos", ""], "non-empty"),
                      (["--add-bos"], "needs a bos")):
        r = CliRunner().invoke(main, ["train", "--vocab-size", "300", *args, "-o", str(tmp_path / "x"), str(corpus)])
        assert r.exit_code != 0 and msg in r.output and "Traceback" not in r.output


def test_unk_role_of_a_char_model_is_its_unknown_token(lines):
    tok = newbpe.train(lines, vocab_size=200, units="chars", pretokenizer="whitespace", roles={"unk": "[UNK]"})
    assert tok.unk_token == "[UNK]" and "<unk>" not in tok.special_tokens
    assert tok.encode("a\u4e16b")[1] == tok.token_to_id("[UNK]")
    from newbpe.roles import hf_special_map
    assert hf_special_map(tok)["unk_token"] == "[UNK]"


def test_info_shows_roles(lines):
    tok = newbpe.train(lines, vocab_size=300, roles={"eos": "</s>"}, add_eos=True)
    assert tok.info()["roles"] == {"eos": "</s>"} and tok.info()["template"] == {"add_eos": True}
    assert "roles" not in newbpe.train(lines, vocab_size=300).info()
