"""TokenAdapt random-chunk supertokens (`--algo supertoken`): the acceptance invariants of
supertokens.md §6 (6, 7, 8, 9), a hand-computed golden, the NFC normalizer and one-line errors."""
import json
import random
import unicodedata
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st
from tokenizers import Tokenizer as HFTokenizer

import newbpe
from newbpe._threads import threads_limit
from newbpe.cli import main
from newbpe.errors import NewbpeError
from newbpe.pretokenizers.random_chunks import (DEFAULT_CHUNK_BINS, REFERENCE_CHUNK_WEIGHTS, check_chunk_bins,
                                                chunk_batch, random_chunks)
from newbpe.trainers.supertoken import REFERENCE_SPECIALS

from conftest import BUNDLED, lines_of

ONE_CHUNK = [[10**6, 10**6, 1.0]]            # every document is one chunk (r < the smallest bin)
CHI2_9DOF_P001 = 27.88                       # chi-square critical value, 9 degrees of freedom, p = 0.001
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
escaped_text = st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape"))
fuzz_text = st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cs", "Co", "Cn"), max_codepoint=0x2FFFF),
                                       max_size=60),
                               st.sampled_from(["\r\n", "  \n ", "of the ", "aaaaaaaaaa", "tion", "12345"])),
                     max_size=6).map("".join)


def pieces(texts, bins=ONE_CHUNK, remove_repeats=7, seed=0, **kw):
    data, bounds, _ = chunk_batch(list(texts), seed, np.arange(len(texts)), check_chunk_bins(bins),
                                  remove_repeats=remove_repeats, **kw)
    return [bytes(data[bounds[i]:bounds[i + 1]]).decode("utf-8", "surrogateescape") for i in range(len(bounds) - 1)]


@pytest.fixture(scope="module")
def lines(shakespeare):
    return lines_of(shakespeare[:200_000])


@pytest.fixture(scope="module")
def model(lines):
    return newbpe.train(lines, "supertoken", 800, special_tokens=["<|endoftext|>"])


# ---------------------------------------------------------------------------- §6.6 the chunker
@given(st.lists(st.one_of(any_text, escaped_text), max_size=5), st.integers(0, 2**40))
def test_chunks_concatenate_to_the_document_and_fill_their_bins(docs, seed):
    lo_hi = [(lo, hi) for lo, hi, _ in DEFAULT_CHUNK_BINS]
    for doc, chunks in zip(docs, random_chunks(docs, seed)):
        assert "".join(chunks) == doc
        assert all(c for c in chunks)
        for c in chunks[:-1]:
            assert any(lo <= len(c) <= hi for lo, hi in lo_hi), (c, chunks)
        if chunks:
            assert len(chunks[-1]) <= 23


def test_remainder_rule_goldens():
    assert random_chunks(["abc"], 0) == [["abc"]]                     # r = 3 < 4: one chunk
    assert random_chunks(["abcde"], 5, chunk_bins=[[4, 4, 0.0], [10, 11, 1.0]]) == [["abcde"]]   # r = 5, bin 10-11
    assert random_chunks([""], 0) == [[]]
    # a frozen golden: the streams (rng.py) and the bin draw never change for a given seed
    text = "The quick brown fox jumps over the lazy dog. It was the best of times."
    assert random_chunks([text], 0) == [["The quick brown fo", "x jumps over the", " lazy dog. It wa",
                                          "s the best of times."]]


def test_bin_frequencies_match_the_table_chi_square():
    chunks = random_chunks(["x" * 1_500_000], seed=3)[0][:-1][:100_000]
    assert len(chunks) == 100_000
    lengths = np.array([len(c) for c in chunks])
    observed = np.array([np.sum((lengths >= lo) & (lengths <= hi)) for lo, hi, _ in DEFAULT_CHUNK_BINS])
    assert observed.sum() == len(chunks)

    def chi2(probs):
        expected = np.array(probs) * len(chunks)
        return float(((observed - expected) ** 2 / expected).sum())
    assert chi2([p for _, _, p in DEFAULT_CHUNK_BINS]) < CHI2_9DOF_P001
    assert chi2([0.1] * 10) > 10 * CHI2_9DOF_P001                      # the statistic can fail
    # the default is the reference's weights (which sum to 1.1) normalized
    assert sum(w for _, _, w in REFERENCE_CHUNK_WEIGHTS) == pytest.approx(1.1)
    assert [p for _, _, p in DEFAULT_CHUNK_BINS] == pytest.approx([w / 1.1 for _, _, w in REFERENCE_CHUNK_WEIGHTS])
    # both lengths of every bin occur (uniform inside the bin)
    assert set(lengths.tolist()) == set(range(4, 24))


def test_same_seed_same_chunks_whatever_threads_order_or_shards(lines):
    docs = lines[:3000]
    bins = check_chunk_bins(None)
    idx = np.arange(len(docs))
    runs = []
    for threads in (1, 2):
        with threads_limit(threads):
            runs.append(chunk_batch(docs, 11, idx, bins, remove_repeats=7))
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    whole = random_chunks(docs, 11)
    order = list(range(len(docs)))
    random.Random(0).shuffle(order)
    shuffled = random_chunks([docs[i] for i in order], 11, indices=order)
    assert [shuffled[k] for k in np.argsort(order)] == whole
    shards = [random_chunks(docs[a:a + 700], 11, indices=range(a, min(a + 700, len(docs))))
              for a in range(0, len(docs), 700)]
    assert [c for shard in shards for c in shard] == whole
    assert random_chunks(docs, 12) != whole
    # seed_by="content": a document's chunks follow its text, wherever it is
    by_content = random_chunks(docs[:50], 11, seed_by="content")
    assert random_chunks(docs[:50][::-1], 11, seed_by="content") == by_content[::-1]


# ---------------------------------------------------------------------------- §6.7 repeat runs
def test_remove_repeats_goldens():
    assert "".join(pieces(["aaaaaaaa b"])) == "a b"
    assert "".join(pieces(["x" * 14 + "y"])) == "y"
    assert "".join(pieces(["\n" * 8])) == "\n" * 8                    # `.` does not match a newline
    assert pieces(["qaaaaaaaz"]) == ["q", "z"]                         # a removed run cuts its chunk
    assert pieces(["aaaaaa b"]) == ["aaaaaa b"]                        # 6 < 7: kept
    assert pieces(["aaaaaaaa b"], remove_repeats=None) == ["aaaaaaaa b"]
    assert "".join(pieces(["ééééééé!"])) == "!"                       # characters, not bytes
    # removal happens inside each chunk (the reference's separators break runs): a run cut by a
    # chunk boundary survives
    assert "".join(pieces(["abaaaaaaaa"], bins=[[2, 2, 1.0]])) == "abaaaaaaaa"


def test_special_tokens_are_cut_out_of_training_pieces():
    got = pieces(["ab<|endoftext|>cd"], specials=["<|endoftext|>"])
    assert got == ["ab", "cd"]


# ---------------------------------------------------------------------------- hand-computed golden
def merge_strings(tok):
    v = tok.vocabulary
    return [(v.tokens[a], v.tokens[b]) for a, b, _ in v.merges]


def test_hand_computed_golden():
    # one chunk per document: pairs ab 4, bc 3, ca 2 -> merge (a, b); then (ab, c) 3 -> abc
    docs = ["abcabc", "abcab"]
    tok = newbpe.train(docs, "supertoken", 258, chunk_bins=ONE_CHUNK)
    assert merge_strings(tok) == [(b"a", b"b"), (b"ab", b"c")]
    assert tok.pretokenizer.name == "none" and tok.stats["training_chunks"] == 2
    # max_token_length 3: exact allows abc; HF's strict rule caps merged tokens at 2 bytes (bpe.md §6.3)
    assert merge_strings(newbpe.train(docs, "supertoken", 258, chunk_bins=ONE_CHUNK, max_token_length=3)) \
        == [(b"a", b"b"), (b"ab", b"c")]
    with pytest.warns(UserWarning, match="training stopped"):
        hf = newbpe.train(docs, "supertoken", 258, chunk_bins=ONE_CHUNK, max_token_length=3,
                          max_token_length_mode="hf")
    assert merge_strings(hf) == [(b"a", b"b")]
    # min_frequency=2 (the reference's default): a pair seen once is never merged
    with pytest.warns(UserWarning, match="training stopped"):
        once = newbpe.train(["xy", "ab", "ab"], "supertoken", 300, chunk_bins=ONE_CHUNK)
    assert merge_strings(once) == [(b"a", b"b")]
    # repeat removal reaches training: "zzzzzzz" (7) leaves nothing, so no (z, z) pair
    assert merge_strings(newbpe.train(["zzzzzzzab", "ab"], "supertoken", 257, chunk_bins=ONE_CHUNK)) \
        == [(b"a", b"b")]


def test_stats_and_info(model):
    s = model.stats
    assert s["training_chunks"] > len(lines_of(BUNDLED.joinpath("en", "tinyshakespeare.txt").read_text()[:200_000]))
    assert s["tokens_with_inner_space"] > 0
    assert set(s["words_per_token"]) >= {"1", "2"}
    assert model.info()["algorithm"] == "supertoken"
    assert any(b" " in t[1:] for t in model.tokens[model.n_specials:])           # tokens cross spaces
    assert max(len(t) for t in model.tokens[model.n_specials:]) <= 30


# ---------------------------------------------------------------------------- §6.8 round trip, HF
@given(fuzz_text)
def test_roundtrip_text(model, text):
    assert model.decode(model.encode(text)) == text


@given(st.binary(max_size=300))
def test_roundtrip_bytes(model, data):
    assert model.decode_bytes(model.encode_bytes(data)) == data
    assert model.decode_bytes(model.encode(data.decode("utf-8", "surrogateescape"))) == data


def test_long_input_is_one_piece_and_round_trips(model, shakespeare):
    text = (shakespeare * 2)[:300_000]
    ids = model.encode(text)
    assert model.decode(ids) == text
    assert len(ids) < len(text.encode()) / 2


@pytest.fixture(scope="module")
def hf_model(model, tmp_path_factory):
    d = tmp_path_factory.mktemp("hf")
    model.save(d)
    return HFTokenizer.from_file(str(d / "tokenizer.json")), d


def test_hf_export_is_bare_byte_level(hf_model):
    d = hf_model[1]
    spec = json.loads((d / "tokenizer.json").read_text())
    assert spec["pre_tokenizer"] == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                     "use_regex": False}
    assert spec["normalizer"] is None and spec["decoder"]["type"] == "ByteLevel"
    assert [a["content"] for a in spec["added_tokens"]] == ["<|endoftext|>"]
    assert len(spec["model"]["merges"]) == 800 - 257
    assert (d / "tokenizer_config.json").exists() and (d / "special_tokens_map.json").exists()


def test_hf_ids_equal_ours_on_heldout_text(model, hf_model, heldout_en):
    hf = hf_model[0]
    for text in lines_of(heldout_en)[:300] + [heldout_en[:20_000]]:
        assert hf.encode(text).ids == model.encode(text), text


@given(fuzz_text)
def test_hf_ids_equal_ours_on_fuzz(model, hf_model, text):
    assert hf_model[0].encode(text).ids == model.encode(text)


def test_newbpe_loads_the_export(model, hf_model, heldout_en):
    back = newbpe.load(hf_model[1] / "tokenizer.json")
    for text in lines_of(heldout_en)[:100]:
        assert back.encode(text) == model.encode(text)


# ---------------------------------------------------------------------------- NFC, compat="reference"
def test_reference_compat_nfc_specials_and_hf_length_cap(lines, tmp_path):
    tok = newbpe.train(lines[:3000], "supertoken", 700, compat="reference", max_token_length=4)
    assert tok.special_tokens == list(REFERENCE_SPECIALS)
    assert tok.options["normalizer"] == "nfc" and tok.options["max_token_length_mode"] == "hf"
    assert max(len(t) for t in tok.tokens[tok.n_specials:]) <= 3             # HF: L - 1
    decomposed = "Cafe\u0301 de\u0301ja\u0300 vu\n"
    assert tok.decode(tok.encode(decomposed)) == unicodedata.normalize("NFC", decomposed) != decomposed
    tok.save(tmp_path / "m")
    spec = json.loads((tmp_path / "m" / "tokenizer.json").read_text())
    assert spec["normalizer"] == {"type": "NFC"}
    hf = HFTokenizer.from_file(str(tmp_path / "m" / "tokenizer.json"))
    for text in [decomposed, "A\u030angstro\u0308m", "plain text of the day"]:
        assert hf.encode(text).ids == tok.encode(text)
    for path in (tmp_path / "m", tmp_path / "m" / "tokenizer.json"):
        back = newbpe.load(path)
        assert back.encode(decomposed) == tok.encode(decomposed)
    exact = newbpe.train(lines[:3000], "supertoken", 700, max_token_length=4)
    assert max(len(t) for t in exact.tokens[exact.n_specials:]) == 4
    assert exact.decode(exact.encode(decomposed)) == decomposed               # default: lossless


# ---------------------------------------------------------------------------- §6.9 determinism
def test_model_is_byte_identical_across_threads_and_file_layout(tmp_path, shakespeare):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(shakespeare[:60_000])
    b.write_text(shakespeare[60_000:120_000])
    out = []
    for files, threads, seed_by in (([a, b], 1, "index"), ([a, b], 2, "index"), ([b, a], 2, "content"),
                                    ([a, b], 1, "content")):
        tok = newbpe.train([str(f) for f in files], "supertoken", 700, threads=threads, seed_by=seed_by)
        tok.save(tmp_path / f"m{len(out)}", hf=False)
        out.append((tmp_path / f"m{len(out)}" / "model.json").read_bytes())
    assert out[0] == out[1]
    assert out[2] == out[3]
    # files and the same lines as a list are the same documents
    as_list = newbpe.train(lines_of(shakespeare[:60_000]) + lines_of(shakespeare[60_000:120_000]), "supertoken", 700)
    as_list.save(tmp_path / "list", hf=False)
    assert (tmp_path / "list" / "model.json").read_bytes() == out[0]


# ---------------------------------------------------------------------------- errors before counting
class Untouchable:
    def __iter__(self):
        raise AssertionError("the source was read before the options were checked")


@pytest.mark.parametrize("options, match", [
    ({"chunk_bins": [[4, 5, 0.5], [6, 7, 0.4]]}, "sum to"),
    ({"chunk_bins": [[4, 8, 0.5], [6, 9, 0.5]]}, "overlap"),
    ({"chunk_bins": [[0, 3, 1.0]]}, "1 <= lo <= hi"),
    ({"chunk_bins": [[5, 4, 1.0]]}, "1 <= lo <= hi"),
    ({"chunk_bins": [[4, 5, -0.5], [6, 7, 1.5]]}, "probability"),
    ({"chunk_bins": []}, "empty"),
    ({"chunk_bins": [[4, 5]]}, "lo, hi, probability"),
    ({"chunk_bins": 7}, "list of"),
    ({"max_token_length": 1}, "max_token_length"),
    ({"remove_repeats": 1}, "remove_repeats"),
    ({"normalizer": "nfd"}, "normalizer"),
    ({"seed_by": "random"}, "seed_by"),
    ({"seed": -1}, "seed"),
    ({"compat": "recommended"}, "compat"),
    ({"min_frequency": -2}, "min_frequency"),
])
def test_bad_options_are_one_line_errors_before_reading(options, match):
    with pytest.raises(NewbpeError, match=match) as e:
        newbpe.train(Untouchable(), "supertoken", 1000, **options)
    assert "\n" not in str(e.value)


def test_bad_units_and_lone_surrogates():
    with pytest.raises(NewbpeError, match="byte-level"):
        newbpe.train(["abc"], "supertoken", 300, units="chars")
    with pytest.raises(NewbpeError, match="lone surrogate U\\+D800"):
        newbpe.train(["ab\ud800cd"], "supertoken", 300)


def test_cli_trains_and_rejects_bad_bins(tmp_path, shakespeare):
    src = tmp_path / "c.txt"
    src.write_text(shakespeare[:50_000])
    r = CliRunner().invoke(main, ["train", str(src), "--algo", "supertoken", "--vocab-size", "500",
                                  "-o", str(tmp_path / "m"), "--option", "seed=3",
                                  "--option", "chunk_bins=[[4,11,0.5],[12,23,0.5]]"])
    assert r.exit_code == 0, r.output
    tok = newbpe.load(tmp_path / "m")
    assert tok.algo == "supertoken" and tok.options["seed"] == 3
    assert tok.options["chunk_bins"] == [[4, 11, 0.5], [12, 23, 0.5]]
    r = CliRunner().invoke(main, ["info", "-m", str(tmp_path / "m")])
    assert r.exit_code == 0 and "training_chunks" in r.output, r.output
    r = CliRunner().invoke(main, ["train", str(src), "--algo", "supertoken", "--vocab-size", "500",
                                  "-o", str(tmp_path / "bad"), "--option", "chunk_bins=[[4,5,0.3]]"])
    assert r.exit_code not in (0, None)
    assert "Traceback" not in r.output + r.stderr
    msg = r.stderr.strip()
    assert msg.startswith("newbpe: error: ") and len(msg.splitlines()) == 1 and "sum to" in msg, msg
    assert not (tmp_path / "bad").exists()


# ---------------------------------------------------------------------------- §3.3 split_long_at
@pytest.fixture(scope="module")
def split_model(lines):
    return newbpe.train(lines, "supertoken", 700, split_long_at="\n")


def test_split_long_at_encodes_each_line_on_its_own(split_model, lines):
    model = newbpe.train(lines, "supertoken", 700)
    assert split_model.pretokenizer.spec == r"regex:[^\n]*\n|[^\n]+"
    assert split_model.vocabulary.merges == model.vocabulary.merges        # training is unchanged
    text = "".join(lines[:40])
    assert split_model.encode(text) == [i for line in lines[:40] for i in model.encode(line)]


@given(st.lists(st.sampled_from(list("ab \n\té.") + ["ed to the", "\n\n", "\U0001F600"]), max_size=30).map("".join))
def test_split_long_at_round_trip_and_hf_export(split_model, tmp_path_factory, text):
    assert split_model.decode(split_model.encode(text)) == text
    hf = _split_hf(split_model, tmp_path_factory)
    assert hf.encode(text).ids == split_model.encode(text)


_HF = {}


def _split_hf(tok, tmp_path_factory):
    if "hf" not in _HF:
        d = tmp_path_factory.mktemp("split_hf")
        tok.save(d)
        _HF["hf"] = HFTokenizer.from_file(str(d / "tokenizer.json"))
    return _HF["hf"]


@pytest.mark.parametrize("sep", ["\n", ".", "é", "a"])
def test_split_long_at_any_bmp_character(lines, sep):
    tok = newbpe.train(lines[:300], "supertoken", 300, split_long_at=sep)
    text = f"one{sep}two{sep}{sep}three"
    assert tok.pretokenizer.split(text) == [p + sep for p in text.split(sep)[:-1]] + ["three"]
    hf = HFTokenizer.from_str(tok.to_hf())
    assert hf.encode(text).ids == tok.encode(text)


@pytest.mark.parametrize("sep", ["", "\n\n", "\U0001F600", 5])
def test_split_long_at_must_be_one_bmp_character(sep):
    with pytest.raises(NewbpeError, match="split_long_at must be one character"):
        newbpe.train(["abc abc abc\n"] * 5, "supertoken", 300, split_long_at=sep)
