"""Scaffold-BPE (specs/scaffold.md): training invariants (§10), goldens, encoding, export."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe.encoders import demolition
from newbpe.encoders.scaffold import demolition_table
from newbpe.engine import FLAG_ATOMIC, FLAG_SCAFFOLD
from newbpe.trainers import scaffold
from newbpe.units import bytes_to_token_string

from conftest import lines_of
from test_bpe_parity import hf_train

@pytest.fixture(scope="module")
def small_lines(shakespeare):
    return lines_of(shakespeare)[:3000]


@pytest.fixture(scope="module")
def scaffold_model(shakespeare):
    return newbpe.train(lines_of(shakespeare), "scaffold", 1500, special_tokens=["<|endoftext|>"])


def test_hand_computed_golden():
    # abc x5, ab x1, xy x3.  1: merge a+b (6) -> ab.  2: merge ab+c (5) -> abc; f(ab) = 1 < head (x,y)=3:
    # ab becomes scaffold (visible stays 257).  3: merge x+y -> xy (visible 258).  4 (only if the target
    # allows): ab's token item heads the queue -> unflagged, no merge.
    words = {"abc": 5, "ab": 1, "xy": 3}
    tok = newbpe.train(words, "scaffold", 258, pretokenizer="none")
    assert [(tok.tokens[a], tok.tokens[b]) for a, b, _ in tok.vocabulary.merges] == [(b"a", b"b"), (b"ab", b"c"), (b"x", b"y")]
    assert tok.vocab_size == 258 and tok.info()["scaffold_tokens"] == 1
    scaffold_tokens = [tok.tokens[i] for i, f in enumerate(tok.flags) if f & FLAG_SCAFFOLD]
    assert scaffold_tokens == [b"ab"]
    assert tok.stats["flag_events"] == 1 and tok.stats["reactivations_pop"] == 0
    assert [tok.id_to_token(i) for i in tok.encode("ab")] == [b"a", b"b"]        # demolished
    assert [tok.id_to_token(i) for i in tok.encode("abc")] == [b"abc"]
    bigger = newbpe.train(words, "scaffold", 259, pretokenizer="none")
    assert bigger.info()["scaffold_tokens"] == 0 and bigger.stats["reactivations_pop"] == 1
    assert len(bigger.vocabulary.merges) == 3                                              # the unflag merged nothing
    assert [bigger.id_to_token(i) for i in bigger.encode("ab")] == [b"ab"]


def test_equal_frequency_is_not_scaffold_under_token_first_and_is_under_pair_first():
    # abc x5, ab x3, xy x3: after merge 2, f(ab) = 3 equals the head (x,y) = 3: not below, so not flagged.
    words = {"abc": 5, "ab": 3, "xy": 3}
    tok = newbpe.train(words, "scaffold", 258, pretokenizer="none")
    assert tok.info()["scaffold_tokens"] == 0
    # with a lower ab count it is flagged, and pair_first lets (x,y) merge before ab's item (3 vs 3 tie)
    words = {"abc": 5, "ab": 1, "xy": 1, "zzxy": 1}
    first = newbpe.train(words, "scaffold", 260, pretokenizer="none", debug=True)
    last = newbpe.train(words, "scaffold", 260, pretokenizer="none", debug=True, scaffold_tie="pair_first")
    assert first.vocab_size == last.vocab_size == 260


def test_merge_list_extends_plain_bpe_and_hf(small_lines):
    tok = newbpe.train(small_lines, "scaffold", 1200, special_tokens=["<|endoftext|>"])
    m = len(tok.vocabulary.merges)
    assert tok.info()["scaffold_tokens"] > 0
    plain = newbpe.train(small_lines, "bpe", 257 + m, special_tokens=["<|endoftext|>"])
    assert plain.vocabulary.merges[:m] == tok.vocabulary.merges
    hf = hf_train(small_lines, 257 + m, "gpt2", ["<|endoftext|>"])
    ours = [[bytes_to_token_string(tok.tokens[a]), bytes_to_token_string(tok.tokens[b])] for a, b, _ in tok.vocabulary.merges]
    assert hf["merges"][:m] == ours


@pytest.mark.parametrize("opts", [{}, {"scaffold_tie": "pair_first"}, {"head_timing": "before_updates"},
                                  {"demolition": "fewest_pieces"}])
def test_debug_mode_checks_every_iteration(small_lines, opts):
    """Invariants 3, 5, 6 are checked inside the trainer after every iteration (debug=True); the
    result equals the fast run's; replaying the flag log gives the final flags."""
    lines = small_lines[:600]
    fast = newbpe.train(lines, "scaffold", 700, **opts)
    checked = newbpe.train(lines, "scaffold", 700, debug=True, **opts)
    assert checked.vocabulary.merges == fast.vocabulary.merges and checked.flags == fast.flags
    events = fast.extra["scaffold_events"]
    replayed = scaffold.replay_flags(events, len(fast.tokens))
    assert replayed.tolist() == [bool(f & FLAG_SCAFFOLD) for f in fast.flags]
    assert fast.vocab_size == 700                                                # invariant 3
    for kind, t, f, h, _ in events:
        if kind == 1:
            assert f < h


def test_debug_check_can_fail(small_lines, monkeypatch):
    """The debug recount really compares: a corrupted frequency is caught."""
    real = scaffold._frequency_recount

    def corrupted(engine, base):
        recount = real(engine, base)
        return lambda: recount() + 1
    monkeypatch.setattr(scaffold, "_frequency_recount", corrupted)
    with pytest.raises(RuntimeError, match="invariant violated"):
        newbpe.train(small_lines[:50], "scaffold", 300, debug=True)


def test_base_units_and_specials_never_scaffold(scaffold_model):
    tok = scaffold_model
    for i in range(tok.n_specials + tok.n_alphabet):
        assert not tok.flags[i] & FLAG_SCAFFOLD
    assert tok.vocab_size == 1500
    assert len(tok.tokens) == 1500 + tok.info()["scaffold_tokens"]
    assert tok.info()["expanded_vocab_size"] == len(tok.tokens)
    # spec §3.4: merges = (N - initial) + |S_final| + merges whose string already existed
    # (num_duplicate_merges counts both plain duplicates and re-derived scaffold tokens)
    assert len(tok.vocabulary.merges) == (1500 - 257) + tok.info()["scaffold_tokens"] + tok.stats["num_duplicate_merges"]
    assert tok.stats["num_duplicate_merges"] >= tok.stats["reactivations_rederive"]


def test_demolition_spells_the_token_with_visible_pieces(scaffold_model):
    tok = scaffold_model
    table = demolition(tok)
    assert len(table) == tok.info()["scaffold_tokens"]
    for t, pieces in table.items():
        assert b"".join(tok.tokens[p] for p in pieces) == tok.tokens[t]
        assert all(not tok.flags[p] & FLAG_SCAFFOLD for p in pieces)
        assert len(pieces) >= 2


def test_fewest_pieces_demolition_golden():
    # tokens: 0 a, 1 b, 2 c, 3 ab, 4 bc, 5 abc (made twice: ab+c first, then a+bc); ab scaffold.
    merges = [(0, 1, 3), (1, 2, 4), (3, 2, 5), (0, 4, 5)]
    flags = [FLAG_ATOMIC] * 3 + [FLAG_SCAFFOLD, 0, FLAG_SCAFFOLD]
    assert demolition_table(merges, flags, "first_merge") == {3: [0, 1], 5: [0, 1, 2]}
    assert demolition_table(merges, flags, "fewest_pieces") == {3: [0, 1], 5: [0, 4]}


@settings(max_examples=60)
@given(st.text())
def test_no_scaffold_token_in_any_output_and_lossless(scaffold_model, text):
    tok = scaffold_model
    for enc in ("scaffold", "lbpe"):
        ids = tok.encode(text, encoder=enc)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert all(not tok.flags[tok.model_ids[i]] & FLAG_SCAFFOLD for i in ids)
        assert tok.decode_bytes(ids) == text.encode("utf-8", "surrogatepass")


def test_scaffold_encoding_is_rank_bpe_then_demolition(scaffold_model, heldout_en):
    from newbpe.encoders.rank import RankEncoder
    tok = scaffold_model
    inner = RankEncoder(np.array(tok.vocabulary.merges, dtype=np.int64), len(tok.tokens))
    table = demolition(tok)
    for line in heldout_en.splitlines()[:200]:
        units, offsets, _ = tok._segments_units([line])
        raw, _ = inner.encode_units(units, offsets)
        expected = [p for t in raw.tolist() for p in table.get(t, [t])]
        assert tok.encode(line) == [int(tok.vocabulary.to_model[i]) for i in expected]


def test_model_round_trip_and_validation(scaffold_model, tmp_path):
    tok = scaffold_model
    tok.save(tmp_path)
    assert not (tmp_path / "tokenizer.json").exists()          # not exactly expressible in HF
    back = newbpe.load(tmp_path)
    assert back.flags == tok.flags and back.model_ids == tok.model_ids and back.default_encoder == "scaffold"
    text = "To be, or not to be: that is the question."
    assert back.encode(text) == tok.encode(text)
    d = json.loads((tmp_path / "model.json").read_text())
    d["extra"]["demolition"][0][1] = d["extra"]["demolition"][0][1][::-1]
    (tmp_path / "model.json").write_text(json.dumps(d))
    with pytest.raises(newbpe.ModelFileError, match="demolition"):
        newbpe.load(tmp_path)
    d["model_ids"] = d["model_ids"][:-1]
    (tmp_path / "model.json").write_text(json.dumps(d))
    with pytest.raises(newbpe.ModelFileError, match="non-scaffold"):
        newbpe.load(tmp_path)


def test_hf_expanded_export_plus_sidecar_is_exact(scaffold_model, tmp_path, heldout_en):
    from tokenizers import Tokenizer as HFTokenizer
    tok = scaffold_model
    with pytest.raises(newbpe.NewbpeError, match="expanded"):
        tok.to_hf()
    tok.save_hf(tmp_path, expanded=True)
    hf = HFTokenizer.from_file(str(tmp_path / "tokenizer.json"))
    sidecar = {int(k): v for k, v in json.loads((tmp_path / "scaffold_demolition.json").read_text()).items()}
    from newbpe.encoders.rank import RankEncoder
    from newbpe.export.hf import expanded_ids
    inner = RankEncoder(np.array(tok.vocabulary.merges, dtype=np.int64), len(tok.tokens))     # step 1 of spec §4
    hf_id = expanded_ids(tok)
    n = tok.vocab_size
    lines = heldout_en.splitlines()[:300]
    saw_scaffold = False
    for line, enc in zip(lines, hf.encode_batch(lines, add_special_tokens=False)):
        units, offsets, _ = tok._segments_units([line])
        assert enc.ids == [hf_id[i] for i in inner.encode_units(units, offsets)[0].tolist()]   # plain HF == step 1
        saw_scaffold |= any(i >= n for i in enc.ids)
        demolished = [p for i in enc.ids for p in (sidecar[i] if i >= n else [i])]
        assert demolished == tok.encode(line)
    assert saw_scaffold            # the held-out text does exercise demolition


def test_approximate_hf_export_measures_agreement(scaffold_model, heldout_en):
    from tokenizers import Tokenizer as HFTokenizer
    from newbpe.export.hf import to_hf_json
    from newbpe.metrics import agreement
    tok = scaffold_model
    hf = HFTokenizer.from_str(to_hf_json(tok, approximate=True))
    assert hf.get_vocab_size() == tok.vocab_size
    got = agreement(tok, heldout_en.splitlines()[:300], hf=hf)
    assert 0.9 < got["words"] <= 1.0


def test_deterministic_across_threads_and_order(small_lines, tmp_path):
    a = newbpe.train(small_lines, "scaffold", 800, threads=1)
    b = newbpe.train(list(reversed(small_lines)), "scaffold", 800, threads=2)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    assert (tmp_path / "a" / "model.json").read_bytes() == (tmp_path / "b" / "model.json").read_bytes()


def test_bad_options_are_one_line_errors(small_lines):
    with pytest.raises(newbpe.NewbpeError, match="scaffold_tie"):
        newbpe.train(small_lines[:10], "scaffold", 300, scaffold_tie="random")
    with pytest.raises(newbpe.NewbpeError, match="does not fit"):
        newbpe.train(small_lines[:10], "bpe", 300, encoder="scaffold")
