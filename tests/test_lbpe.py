"""LBPE long-token-first encoding (specs/lbpe.md §10)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe.encoders.lbpe import LBPEEncoder
from newbpe.model import Tokenizer

from conftest import lines_of


# ------------------------------------------------------------------ naive references (spec §3)
def flota(units, vocab):
    """Recursive global longest-first, leftmost among equal lengths (FLOTA / LongestFirst)."""
    n = len(units)
    if n == 0:
        return []
    for L in range(n, 1, -1):
        for i in range(n - L + 1):
            t = vocab.get(tuple(units[i:i + L]))
            if t is not None:
                return flota(units[:i], vocab) + [t] + flota(units[i + L:], vocab)
    return list(units)


def sliding_window(units, vocab, rank=None):
    """The spec's sliding-window algorithm, naively; with `rank`, the rank tie rule."""
    n = len(units)
    covered = [False] * n
    taken = {}
    m = max((len(k) for k in vocab), default=1)
    for L in range(min(m, n), 1, -1):
        if rank is None:
            i = 0
            while i + L <= n:
                t = vocab.get(tuple(units[i:i + L]))
                if t is not None and not any(covered[i:i + L]):
                    taken[i] = (t, L)
                    covered[i:i + L] = [True] * L
                    i += L
                else:
                    i += 1
        else:
            while True:
                cands = [(rank[vocab[tuple(units[i:i + L])]], i) for i in range(n - L + 1)
                         if tuple(units[i:i + L]) in vocab and not any(covered[i:i + L])]
                if not cands:
                    break
                _, i = min(cands)
                taken[i] = (vocab[tuple(units[i:i + L])], L)
                covered[i:i + L] = [True] * L
    out, i = [], 0
    while i < n:
        if i in taken:
            out.append(taken[i][0])
            i += taken[i][1]
        else:
            out.append(units[i])
            i += 1
    return out


@pytest.fixture(scope="module")
def bpe_model(shakespeare):
    return newbpe.train(lines_of(shakespeare), "bpe", 2000, special_tokens=["<|endoftext|>"])


def unit_vocab(tok, ids=None):
    units = tok.vocabulary.unit_sequences()
    ids = [i for i in tok.model_ids if i >= tok.n_specials] if ids is None else ids
    return {tuple(units[i].tolist()): i for i in ids if len(units[i]) >= 2}


def encode_pieces(tok, pieces, encoder="lbpe"):
    units, offsets, _ = tok._segments_units(pieces)
    ids, out_offsets = tok._encoder(encoder).encode_units(units, offsets)
    return units, offsets, ids, out_offsets


# ------------------------------------------------------------------ goldens
def tiny(ties):
    """Vocabulary {a, b, c, bc, ab} with rank(bc) < rank(ab) (spec §10 invariant 6)."""
    return Tokenizer(algo="bpe", units="chars", pretokenizer="none", special_tokens=[], n_alphabet=3,
                     tokens=[b"a", b"b", b"c", b"bc", b"ab"], merges=[(1, 2, 3), (0, 1, 4)],
                     options={"lbpe_ties": ties, "unknown_chars": "drop"}, encoder="lbpe")


def test_rank_tie_rule_golden():
    strings = lambda tok, text: [tok.id_to_token(i) for i in tok.encode(text)]  # noqa: E731
    assert strings(tiny("leftmost"), "abc") == [b"ab", b"c"]
    assert strings(tiny("rank"), "abc") == [b"a", b"bc"]
    assert strings(tiny("rank"), "ab") == strings(tiny("leftmost"), "ab") == [b"ab"]
    assert strings(tiny("leftmost"), "abcabc") == [b"ab", b"c", b"ab", b"c"]
    assert strings(tiny("rank"), "abcabc") == [b"a", b"bc", b"a", b"bc"]
    assert tiny("leftmost").encode("abc", encoder="rank") == [0, 3]   # rank BPE merges b+c first: a bc


def test_longest_first_beats_bpe_order_golden():
    # vocabulary a b c d, ab, cd, bcd (merge order: ab, cd, then b+cd): BPE on "abcd" gives ab cd;
    # longest-first takes bcd then a.
    tok = Tokenizer(algo="bpe", units="chars", pretokenizer="none", special_tokens=[], n_alphabet=4,
                    tokens=[b"a", b"b", b"c", b"d", b"ab", b"cd", b"bcd"], merges=[(0, 1, 4), (2, 3, 5), (1, 5, 6)],
                    options={"unknown_chars": "drop"})
    assert [tok.id_to_token(i) for i in tok.encode("abcd")] == [b"ab", b"cd"]
    assert [tok.id_to_token(i) for i in tok.encode("abcd", encoder="lbpe")] == [b"a", b"bcd"]


# ------------------------------------------------------------------ equivalences
@pytest.fixture(scope="module")
def char_whitespace_model(shakespeare):
    return newbpe.train(lines_of(shakespeare), "bpe", 1500, pretokenizer="whitespace", units="chars")


@pytest.mark.parametrize("which", ["bytes_gpt2", "chars_whitespace"])
def test_equals_flota_and_sliding_window_on_heldout_words(which, bpe_model, char_whitespace_model, heldout_en):
    """Every pre-token of the whole held-out text (UD English PUD), byte and char mode."""
    tok = bpe_model if which == "bytes_gpt2" else char_whitespace_model
    vocab = unit_vocab(tok)
    pieces = [p for line in heldout_en.splitlines() for p in tok.pretokenizer.split(line)]
    units, offsets, ids, out_offsets = encode_pieces(tok, pieces)
    n = 0
    for k in range(len(offsets) - 1):
        u = units[offsets[k]:offsets[k + 1]].tolist()
        got = ids[out_offsets[k]:out_offsets[k + 1]].tolist()
        assert got == flota(u, vocab) == sliding_window(u, vocab), pieces[k]
        n += 1
    assert n > 15000


@settings(max_examples=80)
@given(st.text(alphabet="abcdefgh ", max_size=40))
def test_equals_flota_on_generated_char_pieces(text):
    tok = _char_model()
    vocab = unit_vocab(tok)
    units, offsets, ids, out_offsets = encode_pieces(tok, [text] if text else [])
    if text:
        u = units.tolist()
        assert ids.tolist() == flota(u, vocab) == sliding_window(u, vocab)


_CHAR = {}


def _char_model():
    if "m" not in _CHAR:
        rng = np.random.default_rng(0)
        lines = ["".join(rng.choice(list("abcdefgh  "), size=60)) for _ in range(400)]
        _CHAR["m"] = newbpe.train(lines, "bpe", 120, pretokenizer="none", units="chars")
    return _CHAR["m"]


@settings(max_examples=40)
@given(st.lists(st.sampled_from(list(range(12))), min_size=1, max_size=30), st.booleans())
def test_rank_rule_equals_naive(seq, _):
    tok = _char_model()
    alphabet = tok.tokens[tok.n_specials:tok.n_specials + tok.n_alphabet]
    text = "".join(alphabet[i % len(alphabet)].decode() for i in seq)
    tok_rank = Tokenizer.from_dict({**tok.to_dict(), "options": {**tok.options, "lbpe_ties": "rank"}})
    vocab = unit_vocab(tok_rank)
    rank = {}
    for r, (_, _, out) in enumerate(tok_rank.vocabulary.merges):
        rank.setdefault(out, r)
    units, offsets, ids, _ = encode_pieces(tok_rank, [text])
    assert ids.tolist() == sliding_window(units.tolist(), vocab, rank)


# ------------------------------------------------------------------ invariants 2-5, 8
@settings(max_examples=80)
@given(st.text())
def test_lossless_vocabulary_and_boundaries(bpe_model, text):
    tok = bpe_model
    ids = tok.encode(text, encoder="lbpe")
    assert tok.decode_bytes(ids) == text.encode("utf-8", "surrogatepass")
    assert all(0 <= i < tok.vocab_size for i in ids)
    pieces = tok.pretokenizer.split(text)
    per_piece = [i for p in pieces for i in tok.encode(p, encoder="lbpe")]
    assert per_piece == ids                                  # no token crosses a pre-token boundary


def test_maximality(bpe_model, heldout_en):
    tok = bpe_model
    strings = {tok.tokens[i] for i in tok.model_ids[tok.n_specials:]}
    for line in heldout_en.splitlines()[:150]:
        for piece in tok.pretokenizer.split(line):
            ids = tok.encode(piece, encoder="lbpe")
            longest = max(len(tok.id_to_token(i)) for i in ids)
            data = piece.encode()
            for L in range(longest + 1, len(data) + 1):
                assert not any(data[i:i + L] in strings for i in range(len(data) - L + 1))


def test_deterministic_cache_and_threads(bpe_model, heldout_en):
    tok = bpe_model
    texts = heldout_en.splitlines()[:500]
    first = tok.encode_batch(texts, encoder="lbpe", threads=1)
    tok._encoder("lbpe")._bank = None                         # cold cache
    assert tok.encode_batch(texts, encoder="lbpe", threads=2) == first
    enc = LBPEEncoder({i: u for i, u in enumerate(tok.vocabulary.unit_sequences()) if u is not None}, len(tok.tokens),
                      cache_slots=2, cache_pool=4)            # a cache too small to hold anything useful
    units, offsets, _ = tok._segments_units(texts)
    ids, out_offsets = enc.encode_units(units, offsets)
    assert np.array_equal(ids, tok._encoder("lbpe").encode_units(units, offsets)[0])


def test_long_unsplit_input(bpe_model):
    tok = bpe_model
    text = "the quick brown fox " * 3000
    ids = tok.encode(text, encoder="lbpe")
    assert tok.decode(ids) == text


def test_lbpe_on_an_hf_tokenizer_json(bpe_model, tmp_path, heldout_en):
    from tokenizers import Tokenizer as HFTokenizer
    bpe_model.save(tmp_path)
    hf = HFTokenizer.from_file(str(tmp_path / "tokenizer.json"))
    imported = newbpe.load(tmp_path / "tokenizer.json")
    lines = heldout_en.splitlines()[:200]
    assert imported.encode_batch(lines) == [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
    assert imported.encode_batch(lines, encoder="lbpe") == bpe_model.encode_batch(lines, encoder="lbpe")


def test_scaffold_plus_lbpe(shakespeare, heldout_en, tmp_path):
    lines = lines_of(shakespeare)
    visible = newbpe.train(lines, "scaffold", 1500, encoder="lbpe")
    expanded = newbpe.train(lines, "scaffold", 1500, encoder="lbpe", scaffold_mode="expanded_then_demolish")
    assert visible.default_encoder == "lbpe" and visible.options["scaffold_mode"] == "visible"
    visible.save(tmp_path)
    assert newbpe.load(tmp_path).default_encoder == "lbpe"
    differ = 0
    for line in heldout_en.splitlines()[:300]:
        a, b = visible.encode(line), expanded.encode(line)
        assert visible.decode(a) == expanded.decode(b) == line
        differ += a != b
    assert differ > 0                     # the two readings of the combination are really different


def test_bad_encoder_choices():
    tok = tiny("leftmost")
    with pytest.raises(newbpe.NewbpeError, match="unknown encoder"):
        tok.encode("abc", encoder="longest")
    with pytest.raises(newbpe.NewbpeError, match="does not fit"):
        tok.encode("abc", encoder="scaffold")
