"""Model files written by earlier versions keep loading and encoding identically (issue 13). The
fixtures in tests/fixtures/models/ were saved by newbpe at format version 1 (before the pipeline
section existed), with the ids that version gave on two texts."""
import json
from pathlib import Path

import pytest

import newbpe

FIXTURES = Path(__file__).parent / "fixtures" / "models"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
NAMES = sorted(k for k in EXPECTED if ":" not in k)


@pytest.mark.parametrize("name", NAMES)
def test_version_1_model_encodes_as_it_did(name, tmp_path):
    raw = json.loads((FIXTURES / name / "model.json").read_text(encoding="utf-8"))
    assert raw["format_version"] == 1 and "pipeline" not in raw
    tok = newbpe.load(FIXTURES / name)
    texts = EXPECTED[name + ":texts"]
    assert [tok.encode(t) for t in texts] == EXPECTED[name]
    if tok.pretokenizer.lossless:
        assert [tok.decode(tok.encode(t)) for t in texts] == texts
    tok.save(tmp_path / "v2", hf=False)                 # re-saved in the current format: same ids
    again = newbpe.load(tmp_path / "v2")
    assert [again.encode(t) for t in texts] == EXPECTED[name]
    d = json.loads((tmp_path / "v2" / "model.json").read_text(encoding="utf-8"))
    assert d["format_version"] == 2
    stages = d["pipeline"]
    assert {"type"} <= set(stages["pretokenizer"]) and stages["encoder"]["type"] == tok.default_encoder
    assert stages["decoder"]["type"] in ("bytes", "metaspace")
    assert all(t["type"] == "splinter" for t in stages["transforms"])
    assert (name == "splinter_he") == bool(stages["transforms"])


def test_pipeline_stages_round_trip_with_type_tags():
    from newbpe.decoders import decoder_from_dict
    from newbpe.pretokenizers import PreTokenizer
    for spec in ("gpt2", "cl100k", "o200k", "whitespace", "none", "superbpe_stage2"):
        p = PreTokenizer(spec)
        back = PreTokenizer.from_dict(p.to_dict())
        assert (back.name, back.pattern) == (p.name, p.pattern) and "type" in p.to_dict()
        assert decoder_from_dict(p.decoder().to_dict()).to_dict() == p.decoder().to_dict()
    custom = PreTokenizer.from_dict({"type": "regex", "pattern": "gpt2"})     # a regex that spells a preset name
    assert custom.name == "regex" and custom.split("xgpt2y") == ["x", "gpt2", "y"]
    old = PreTokenizer.from_dict({"name": "regex", "pattern": r"\w+"})      # version-1 form
    assert old.name == "regex" and old.pattern == r"\w+"
    changed = PreTokenizer.from_dict({"type": "preset", "name": "gpt2", "pattern": r"\w+"})
    assert changed.name == "regex" and changed.pattern == r"\w+"      # a model keeps its meaning


def _flagged_model():
    """A hand-made model whose alphabet holds byte 'a' twice: plain (identity flag 0) and as a
    continuation (flag 1), and merges that build 'aa' under both flags."""
    from newbpe.model import Tokenizer
    tokens = [b"<s>", b"a", b"b", b"a", b"aa", b"aa"]
    idents = [0, 0, 0, 1, 0, 1]
    merges = [(1, 3, 4), (3, 3, 5)]           # flags follow the left part
    return Tokenizer(algo="bpe", units="bytes", pretokenizer="none", special_tokens=["<s>"], n_alphabet=3,
                     tokens=tokens, merges=merges, idents=idents)


def test_identity_flags_make_distinct_tokens_in_the_model_file(tmp_path):
    tok = _flagged_model()
    v = tok.vocabulary
    assert v.model_id_of((0, b"aa")) == 4 and v.model_id_of((1, b"aa")) == 5 and v.key(3) == (1, b"a")
    d = tok.to_dict()
    assert d["idents"] == [0, 0, 0, 1, 0, 1]
    back = newbpe.Tokenizer.from_dict(d)
    assert back.vocabulary.idents == v.idents and back.tokens == tok.tokens
    dup = dict(d, idents=[0, 0, 0, 0, 0, 1])          # now two (0, b"a") base units
    with pytest.raises(newbpe.ModelFileError, match="distinct single bytes"):
        newbpe.Tokenizer.from_dict(dup)
    dup = dict(d, tokens=d["tokens"][:5] + [d["tokens"][4]], idents=[0, 0, 0, 1, 0, 0],
               merges=[[1, 3, 4], [1, 3, 5]])                   # two (0, b"aa") tokens
    with pytest.raises(newbpe.ModelFileError, match="same identity"):
        newbpe.Tokenizer.from_dict(dup)
    wrong = dict(d, idents=[0, 0, 0, 1, 1, 0])        # merge 0's output flag differs from its left part's
    with pytest.raises(newbpe.ModelFileError, match="identity flag"):
        newbpe.Tokenizer.from_dict(wrong)
    with pytest.raises(newbpe.NewbpeError, match="identity flags"):
        tok.to_hf()
    from newbpe.export.hf import hf_exact
    from newbpe.export.tiktoken import check_tiktoken
    assert not hf_exact(tok) and check_tiktoken(tok)
