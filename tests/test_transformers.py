"""transformers, exactly, for every method (issue 16 item 2). `tok.save_pretrained(dir)` writes the fast
tokenizer where stock HF expresses the model and newbpe's `NewbpeTokenizer` (auto_map + shim) otherwise;
both load in `AutoTokenizer` and give newbpe's ids on held-out text, with roles, the bos/eos template,
padding, truncation, batch calls, decode and a save_pretrained round trip. transformers comes from
the `test` / `hf` extras (.ci/run installs them)."""
import json
import warnings

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

import newbpe
from newbpe.hf_transformers import NewbpeTokenizer

ROLES = {"bos": "<s>", "eos": "<|endoftext|>", "pad": "<pad>"}


def _train(kind, en, he):
    common = dict(special_tokens=["<|endoftext|>"], roles=ROLES, add_bos=True, add_eos=True)
    if kind == "bpe":
        return newbpe.train(en, vocab_size=600, **common)
    if kind == "bpe_lbpe":
        return newbpe.train(en, vocab_size=600, encoder="lbpe", **common)
    if kind == "picky":
        return newbpe.train(en, algo="picky", vocab_size=600, **common)
    if kind == "scaffold":
        return newbpe.train(en, algo="scaffold", vocab_size=600, **common)
    if kind == "scaffold_lbpe":
        return newbpe.train(en, algo="scaffold", vocab_size=600, encoder="lbpe", **common)
    if kind == "splinter":
        return newbpe.train(he, vocab_size=600, splinter="he", **common)
    if kind == "superbpe":
        return newbpe.train(en, "superbpe", 900, transition=600, **common)
    if kind == "supertoken":
        return newbpe.train(en, algo="supertoken", vocab_size=600, **common)
    if kind == "bytespan":
        return newbpe.train(en[:1500], algo="bytespan", vocab_size=1000, **common)
    raise ValueError(kind)


KINDS = ["bpe", "bpe_lbpe", "picky", "scaffold", "scaffold_lbpe", "splinter", "superbpe", "supertoken", "bytespan"]
FAST = {"bpe", "superbpe", "supertoken", "bytespan"}


@pytest.fixture(scope="module")
def corpora(shakespeare):
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "corpora"
    he = (root / "he" / "ud_he_iahltwiki_dev.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    held_he = (root / "he" / "ud_he_iahltwiki_test.txt").read_text(encoding="utf-8").splitlines()[:150]
    held_en = (root / "en" / "ud_en_pud_test.txt").read_text(encoding="utf-8").splitlines()[:150]
    return shakespeare.splitlines(keepends=True)[:4000], he, held_en, held_he


@pytest.fixture(scope="module", params=KINDS)
def saved(request, corpora, tmp_path_factory):
    en, he, held_en, held_he = corpora
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = _train(request.param, en, he)
    out = tmp_path_factory.mktemp(request.param)
    tok.save_pretrained(out)
    extra = ["Hello<|endoftext|>world <pad>", "", "  spaces\tand\nnewlines ", "日本語 ünïcode"]
    held = (held_he if request.param == "splinter" else held_en) + extra
    return request.param, tok, out, held


def _expected(tok, texts):
    return [tok.encode(t, allowed_special="all", add_special_tokens=True) for t in texts]


def test_auto_tokenizer_is_exact(saved):
    kind, tok, out, held = saved
    config = json.loads((out / "tokenizer_config.json").read_text())
    if kind in FAST:
        hf = AutoTokenizer.from_pretrained(out)
        assert isinstance(hf, PreTrainedTokenizerFast) and not (out / "newbpe_tokenizer.py").exists()
    else:
        assert config["auto_map"]["AutoTokenizer"][0] == "newbpe_tokenizer.NewbpeTokenizer"
        hf = AutoTokenizer.from_pretrained(out, trust_remote_code=True)
        assert type(hf).__name__ == "NewbpeTokenizer"
    want = _expected(tok, held)
    assert hf(held)["input_ids"] == want                     # batch
    assert [hf(t)["input_ids"] for t in held[:30]] == want[:30]   # one by one
    assert [hf.encode(t) for t in held[:10]] == want[:10]
    assert len(hf) == tok.vocab_size == len(tok)
    assert (hf.bos_token, hf.eos_token, hf.pad_token) == ("<s>", "<|endoftext|>", "<pad>")
    assert hf.pad_token_id == tok.token_to_id("<pad>")
    assert [hf.decode(ids, skip_special_tokens=True) for ids in want[:20]] == \
        [tok.decode(ids, skip_special_tokens=True) for ids in want[:20]]
    assert [hf.decode(ids) for ids in want[:20]] == [tok.decode(ids) for ids in want[:20]]


@pytest.mark.parametrize("cls", ["wrapper", "auto"])
def test_padding_truncation_round_trip(saved, tmp_path, cls):
    kind, tok, out, held = saved
    hf = NewbpeTokenizer.from_pretrained(out) if cls == "wrapper" else \
        AutoTokenizer.from_pretrained(out, trust_remote_code=True)
    want = _expected(tok, held[:40])
    batch = hf(held[:40], padding=True)
    longest = max(map(len, want))
    assert all(len(row) == longest for row in batch["input_ids"])
    for row, mask, ids in zip(batch["input_ids"], batch["attention_mask"], want):
        assert row[:len(ids)] == ids and set(row[len(ids):]) <= {hf.pad_token_id}
        assert mask == [1] * len(ids) + [0] * (longest - len(ids))
    cut = hf(held[:40], truncation=True, max_length=8)["input_ids"]
    assert all(len(r) <= 8 for r in cut)
    assert [r[:-1] for r in cut] == [ids[:min(len(ids), 8) - 1] for ids in want]   # eos kept last
    hf.save_pretrained(tmp_path / "again")
    again = NewbpeTokenizer.from_pretrained(tmp_path / "again")
    assert again(held)["input_ids"] == _expected(tok, held) and len(again) == len(tok)
    assert AutoTokenizer.from_pretrained(tmp_path / "again", trust_remote_code=True)(held[:5])["input_ids"] == want[:5]


def test_plain_ids_without_template(saved):
    kind, tok, out, held = saved
    hf = NewbpeTokenizer.from_pretrained(out)
    assert hf(held[:20], add_special_tokens=False)["input_ids"] == \
        [tok.encode(t, allowed_special="all") for t in held[:20]]
    assert hf.convert_tokens_to_ids(hf.tokenize(held[0])) == tok.encode(held[0], allowed_special="all")


def test_cli_export_transformers(tmp_path, shakespeare):
    from click.testing import CliRunner
    from newbpe.cli import main
    corpus = tmp_path / "c.txt"
    corpus.write_text(shakespeare[:80000])
    r = CliRunner().invoke(main, ["train", "--algo", "picky", "--vocab-size", "400", "--eos", "</s>", "--pad", "<pad>",
                                  "-o", str(tmp_path / "m"), str(corpus)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["export", "-m", str(tmp_path / "m"), "--format", "transformers",
                                  "-o", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    hf = AutoTokenizer.from_pretrained(tmp_path / "t", trust_remote_code=True)
    tok = newbpe.load(tmp_path / "m")
    assert hf(["To be, or not"])["input_ids"] == [tok.encode("To be, or not")]
    assert len(hf) == tok.vocab_size == 400


def test_import_newbpe_does_not_import_transformers():
    import subprocess
    import sys
    code = "import sys, newbpe; newbpe.Tokenizer; import newbpe.pretrained; assert 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_offsets_mapping_matches_fast_tokenizer(corpora, tmp_path):
    en, _, held, _ = corpora
    tok = newbpe.train(en, vocab_size=600, special_tokens=["<|endoftext|>"], roles=ROLES, add_eos=True)
    tok.save_pretrained(tmp_path)
    fast, ours = AutoTokenizer.from_pretrained(tmp_path), NewbpeTokenizer.from_pretrained(tmp_path)
    texts = held[:40] + ["Hello<|endoftext|>world", "日本語 ünïcode"]
    want = fast(texts, return_offsets_mapping=True, padding=True)
    got = ours(texts, return_offsets_mapping=True, padding=True)
    assert got["input_ids"] == want["input_ids"]
    assert [[tuple(o) for o in row] for row in got["offset_mapping"]] == \
        [[tuple(o) for o in row] for row in want["offset_mapping"]]
    one = ours(texts[0], return_offsets_mapping=True)
    assert one["input_ids"] == want["input_ids"][0][:len(one["input_ids"])]
    assert [tuple(o) for o in one["offset_mapping"]] == [tuple(o) for o in want["offset_mapping"][0][:len(one["input_ids"])]]
