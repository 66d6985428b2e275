"""Every bad input is one line naming the problem: a `NewbpeError` from the library (`ModelFileError`
for model files), a one-line message and a non-zero exit from the CLI, before any expensive work."""
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import newbpe
from newbpe.checks import MAX_VOCAB_SIZE
from newbpe.cli import main
from newbpe.errors import ModelFileError, NewbpeError

from conftest import BUNDLED, ROOT, cli_error, lines_of

SAMPLE = str(BUNDLED / "en" / "tinyshakespeare.txt")
OLD = ROOT / "tests" / "fixtures" / "old_models"


@pytest.fixture(scope="module")
def lines(shakespeare):
    return lines_of(shakespeare)[:3000]


@pytest.fixture(scope="module")
def tok(lines):
    return newbpe.train(lines, vocab_size=400, special_tokens=["<s>"])


@pytest.fixture(scope="module")
def model_dir(tok, tmp_path_factory):
    out = tmp_path_factory.mktemp("bad") / "m"
    tok.save(out)
    return out


@pytest.fixture
def no_counting(monkeypatch):
    """Counting must not start: option values are checked first."""
    def counted(*_a, **_k):
        raise AssertionError("counting started before the options were checked")
    monkeypatch.setattr(newbpe.WordCounts, "add_files", counted)
    monkeypatch.setattr(newbpe.WordCounts, "add_texts", counted)


# ------------------------------------------------------------------------------------------ vocab size
def test_huge_vocab_size_trains_to_what_the_corpus_allows(lines):
    with pytest.warns(UserWarning, match="training stopped at vocab size"):
        tok = newbpe.train(lines[:300], vocab_size=10**9)
    assert 256 < tok.vocab_size < 10**5
    for algo in ("scaffold", "picky"):
        with pytest.warns(UserWarning, match="training stopped at vocab size"):
            assert newbpe.train(lines[:100], algo, vocab_size=MAX_VOCAB_SIZE).vocab_size < 10**5


@pytest.mark.parametrize("size", [10**20, MAX_VOCAB_SIZE + 1, 0, -5, 300.0, "300", True])
def test_vocab_size_out_of_bounds(no_counting, lines, size):
    with pytest.raises(NewbpeError, match="vocab_size must be an integer in 1..2147483647"):
        newbpe.train(lines, vocab_size=size)


def test_cli_vocab_size_out_of_bounds(no_counting, tmp_path):
    msg = cli_error(["train", "--vocab-size", 10**20, "-o", tmp_path / "o", SAMPLE])
    assert "vocab_size must be an integer in 1..2147483647, got 100000000000000000000" in msg
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------ numeric options
@pytest.mark.parametrize("flag,value,expect", [
    ("--limit-alphabet", -1, "limit_alphabet must be an integer >= 1, got -1"),
    ("--limit-alphabet", 0, "limit_alphabet must be an integer >= 1, got 0"),
    ("--max-token-length", 0, "max_token_length must be an integer >= 1, got 0"),
    ("--coverage", 2, "coverage must be a number in (0, 1], got 2.0"),
    ("--coverage", 0, "coverage must be a number in (0, 1], got 0.0"),
    ("--coverage", "nan", "coverage must be a number in (0, 1], got nan"),
    ("--threads", 0, "threads must be an integer >= 1, got 0"),
    ("--threads", -3, "threads must be an integer >= 1, got -3"),
    ("--min-frequency", -1, "min_frequency must be an integer >= 0, got -1"),
    ("--threshold", 1.5, "threshold must be a number in (0, 1], got 1.5"),
    ("--vocab-size", "abc", "vocab_size must be an integer in 1..2147483647, got 'abc'"),
])
def test_cli_numeric_options(no_counting, tmp_path, flag, value, expect):
    args = ["train", "--units", "chars", "--vocab-size", 500, flag, value, "-o", tmp_path / "o", SAMPLE]
    if flag == "--vocab-size":
        args = ["train", flag, value, "-o", tmp_path / "o", SAMPLE]
    msg = cli_error(args)
    assert expect in msg and f"'{flag}'" in msg


@pytest.mark.parametrize("option,value,expect", [
    ("limit_alphabet", -1, "limit_alphabet must be an integer >= 1"),
    ("max_token_length", 0, "max_token_length must be an integer >= 1"),
    ("coverage", 2, "coverage must be a number in (0, 1]"),
    ("min_frequency", "abc", "min_frequency must be an integer >= 0, got 'abc'"),
    ("min_frequency", 2.5, "min_frequency must be an integer >= 0, got 2.5"),
    ("byte_alphabet", "some", "byte_alphabet must be one of full, observed"),
    ("max_token_length_mode", "x", "max_token_length_mode must be one of exact, hf"),
    ("unk_token", "", "unk_token must be a non-empty string"),
    ("initial_alphabet", ["ab"], "initial_alphabet must be a list of single characters"),
])
def test_library_options(no_counting, lines, option, value, expect):
    with pytest.raises(NewbpeError, match=expect.replace("(", r"\(").replace("]", r"\]")):
        newbpe.train(lines, vocab_size=500, units="chars", **{option: value})


def test_library_threads(no_counting, lines):
    for threads in (0, -3, 1.5):
        with pytest.raises(NewbpeError, match="threads must be an integer >= 1"):
            newbpe.train(lines, vocab_size=500, threads=threads)
        with pytest.raises(NewbpeError, match="threads must be an integer >= 1"):
            newbpe.count(lines, threads=threads)


def test_picky_and_scaffold_options(no_counting, lines):
    with pytest.raises(NewbpeError, match="threshold must be a number in"):
        newbpe.train(lines, "picky", 500, threshold="high")
    with pytest.raises(NewbpeError, match="check_order must be one of sequential, simultaneous"):
        newbpe.train(lines, "picky", 500, check_order="random")
    with pytest.raises(NewbpeError, match="scaffold_tie must be one of"):
        newbpe.train(lines, "scaffold", 500, scaffold_tie=3)
    with pytest.raises(NewbpeError, match="debug must be true or false"):
        newbpe.train(lines, "scaffold", 500, debug="yes")


def test_cli_option_value_names_the_option(no_counting, tmp_path):
    msg = cli_error(["train", "--vocab-size", 500, "--option", "min_frequency=abc", "-o", tmp_path / "o", SAMPLE])
    assert "min_frequency must be an integer >= 0, got 'abc'" in msg


def test_limit_alphabet_keeps_a_real_alphabet(lines):
    tok = newbpe.train(lines, vocab_size=300, units="chars", limit_alphabet=1)
    assert tok.n_alphabet == 1 and tok.vocab_size > 2


def test_stochastok_options_checked_before_encoding(model_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("some text\n")
    for flag, value, expect in (("--threads", 0, "threads must be an integer >= 1"),
                                ("--seed", -1, "seed must be an integer >= 0"),
                                ("--epoch", -2, "epoch must be an integer >= 0"),
                                ("--max-num-to-expand", -1, "max_num_to_expand must be an integer >= 0"),
                                ("--p", "inf", "p must be a finite number >= 0")):
        msg = cli_error(["stochastok", "-m", model_dir, flag, value, "-o", tmp_path / "o.npy", src])
        assert expect in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


# ------------------------------------------------------------------------------------------ special tokens
def test_single_str_special_token_is_one_token(lines):
    tok = newbpe.train(lines[:200], vocab_size=300, special_tokens="<x>")
    assert tok.special_tokens == ["<x>"]
    assert tok.encode("a<x>b", allowed_special="<x>") == tok.encode("a<x>b", allowed_special=["<x>"])
    assert tok.encode("a<x>b", allowed_special="<x>")[1] == 0
    assert newbpe.count(lines[:10], special_tokens="<x>").special_tokens == ["<x>"]


def test_bad_special_tokens(no_counting, lines):
    with pytest.raises(NewbpeError, match="non-empty strings"):
        newbpe.train(lines, vocab_size=500, special_tokens=["<s>", ""])
    with pytest.raises(NewbpeError, match="duplicates"):
        newbpe.train(lines, vocab_size=500, special_tokens=["<s>", "<s>"])
    with pytest.raises(NewbpeError, match="lone surrogate U\\+D800"):
        newbpe.train(lines, vocab_size=500, special_tokens=["<\ud800>"])


# ------------------------------------------------------------------------------------------ decode
def test_decode_rejects_out_of_range_ids(tok):
    v = tok.vocab_size
    for ids in ([-2], [0, v], [10**30], [1.0], [True], ["3"]):
        with pytest.raises(NewbpeError) as e:
            tok.decode(ids)
        assert "\n" not in str(e.value) and f"0..{v - 1}" in str(e.value)
    with pytest.raises(NewbpeError, match="out of range"):
        tok.token_strings([-1])
    with pytest.raises(NewbpeError, match="out of range"):
        tok.id_to_token(-1)
    assert tok.decode([]) == "" and tok.decode(tok.encode("ab")) == "ab"
    import numpy as np
    assert tok.decode(np.array(tok.encode("ab c"))) == "ab c"


def test_cli_decode_negative_id(model_dir, tok):
    msg = cli_error(["decode", "-m", model_dir], input="5 6\n-2\n")
    assert msg == f"newbpe: error: <stdin>:2: ids out of range 0..{tok.vocab_size - 1}: [-2]"
    msg = cli_error(["decode", "-m", model_dir], input=f"{tok.vocab_size}\n")
    assert "out of range" in msg


# ------------------------------------------------------------------------------------------ pre-tokenizers
def test_unknown_pretokenizer_names_the_nearest(no_counting, lines, tmp_path):
    with pytest.raises(NewbpeError, match="unknown pre-tokenizer 'gpt5': did you mean gpt2\\?"):
        newbpe.train(lines, vocab_size=500, pretokenizer="gpt5")
    with pytest.raises(NewbpeError, match="did you mean o200k"):
        newbpe.count(lines, pretokenizer="o200")
    with pytest.raises(NewbpeError, match="regex:PATTERN \\(regex:\\\\w\\+\\)"):
        newbpe.count(lines, pretokenizer=r"\w+")
    msg = cli_error(["train", "--vocab-size", 500, "--pretokenizer", "gpt5", "-o", tmp_path / "o", SAMPLE])
    assert "did you mean gpt2?" in msg and "presets: gpt2, cl100k, o200k" in msg
    assert "not a valid regex" in cli_error(["count", "--pretokenizer", "regex:(", "-o", tmp_path / "c.npz", SAMPLE])


def test_custom_regex_is_explicit(lines, tmp_path):
    tok = newbpe.train(lines[:500], vocab_size=300, pretokenizer=r"regex:\w+|\W+")
    assert tok.pretokenizer.name == "regex" and tok.pretokenizer.pattern == r"\w+|\W+"
    assert tok.to_dict()["pipeline"]["pretokenizer"] == {"type": "regex", "pattern": r"\w+|\W+"}
    assert tok.info()["pretokenizer"] == r"regex:\w+|\W+"
    tok.save(tmp_path / "m")
    assert newbpe.load(tmp_path / "m").encode("Hello, world") == tok.encode("Hello, world")
    counts = newbpe.count(lines[:50], pretokenizer=r"regex:\w+|\W+").save(tmp_path / "c.npz")
    assert newbpe.WordCounts.load(counts).pretokenizer.pattern == r"\w+|\W+"


def test_old_model_with_a_raw_regex_loads_and_encodes_identically():
    """tests/fixtures/old_models: written by newbpe before regex:PATTERN (commit f5ab5b7), with the
    pattern stored raw, and the ids that version gave."""
    tok = newbpe.load(OLD / "regex_bpe_model.json")
    expected = json.loads((OLD / "regex_bpe_expected.json").read_text())
    assert tok.pretokenizer.name == "regex" and tok.pretokenizer.pattern == r"\w+|[^\w\s]+|\s+"
    assert tok.encode(expected["text"], allowed_special="all") == expected["ids"]
    assert tok.decode(expected["ids"]) == expected["text"]


# ------------------------------------------------------------------------------------------ model files
def _write(tmp_path, d):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize("change,expect", [
    ({"special_tokens": None}, "special_tokens must be a list"),
    ({"algo": "wordpiece"}, "unknown algorithm 'wordpiece'"),
    ({"n_alphabet": "256"}, "n_alphabet"),
    ({"pipeline.pretokenizer": "gpt2"}, "bad pre-tokenizer"),
    ({"pipeline.pretokenizer": {"name": "gpt5", "pattern": None}}, "did you mean gpt2"),
    ({"pipeline.pretokenizer": {"type": "preset", "name": "gpt5"}}, "did you mean gpt2"),
    ({"pipeline.decoder": {"type": "wordpiece"}}, "unknown decoder"),
    ({"pipeline.transforms": [{"type": "nfkc"}]}, "unknown text transform"),
    ({"pipeline": None}, "pipeline must be an object"),
    ({"options": [1]}, "options must be an object"),
    ({"options": {"ignore_merges": "yes"}}, "ignore_merges must be true or false"),
    ({"flags": [0]}, "flags"),
    ({"pipeline.encoder": {"type": "replay"}}, "does not fit a bpe model"),
    ({"format_version": True}, "format_version"),
])
def test_model_file_fields(tok, tmp_path, change, expect):
    d = json.loads(json.dumps(tok.to_dict()))
    for key, value in change.items():
        if key.startswith("pipeline."):
            d["pipeline"][key.split(".", 1)[1]] = value
        else:
            d[key] = value
    with pytest.raises(ModelFileError, match=expect):
        newbpe.load(_write(tmp_path, d))


def test_model_file_truncated_model_ids(tok, tmp_path):
    d = tok.to_dict()
    with pytest.raises(ModelFileError, match="model id"):
        newbpe.load(_write(tmp_path, {**d, "model_ids": d["model_ids"][:-10]}))
    with pytest.raises(ModelFileError, match="miss a special token or a base unit"):
        newbpe.load(_write(tmp_path, {**d, "model_ids": d["model_ids"][10:]}))


def test_model_file_duplicate_merge(tok, tmp_path):
    d = tok.to_dict()
    with pytest.raises(ModelFileError, match="merge 1 repeats the pair"):
        newbpe.load(_write(tmp_path, {**d, "merges": [d["merges"][0]] + d["merges"]}))


def test_model_file_errors_in_the_cli(tok, tmp_path):
    d = tok.to_dict()
    _write(tmp_path, {**d, "special_tokens": None})
    assert "special_tokens must be a list" in cli_error(["encode", "-m", tmp_path], input="x\n")


# ------------------------------------------------------------------------------------------ text
def test_lone_surrogate(tok, lines):
    with pytest.raises(NewbpeError, match="lone surrogate U\\+D800"):
        tok.encode("ab\ud800c")
    with pytest.raises(NewbpeError, match="lone surrogate U\\+D800"):
        newbpe.count(["ab\ud800c"])
    with pytest.raises(NewbpeError, match="lone surrogate U\\+DFFF"):
        newbpe.count({"x\udfff": 3})
    raw = b"caf\xe9 \xff ok"                        # invalid UTF-8 survives as surrogate escapes
    text = raw.decode("utf-8", "surrogateescape")
    assert tok.decode_bytes(tok.encode(text)) == raw
    chars = newbpe.train(lines[:200], vocab_size=120, units="chars", special_tokens=["<unk>"])
    with pytest.raises(NewbpeError, match="lone surrogate"):
        newbpe.count(["a\udc80"], units="chars")
    assert chars.decode(chars.encode("a\ud800b")) == "a<unk>b"          # an unknown character


# ------------------------------------------------------------------------------------------ CLI only
def test_splinter_and_splinter_map_together(no_counting, tmp_path):
    msg = cli_error(["train", "--vocab-size", 500, "--splinter", "he", "--splinter-map", tmp_path / "map.json",
                     "-o", tmp_path / "o", SAMPLE])
    assert "not both" in msg


def test_closed_stdout_exits_quietly_with_141(model_dir):
    """`newbpe encode ... | head -1`: a real pipe whose reader goes away."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "newbpe.cli", "encode", "-m", str(model_dir), SAMPLE],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    first = p.stdout.readline()                     # MBs of output: the writer blocks on the full pipe
    p.stdout.close()                                # what head does after its line
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141, err
    assert first.split() and err == b""



# ------------------------------------------------------------------------------------------ beyond the list
def test_corrupt_count_files(tmp_path):
    import numpy as np
    from newbpe.counting import FORMAT

    def write(meta, offsets=(0,)):
        path = tmp_path / "c.npz"
        np.savez(path, data=np.zeros(0, np.uint8), offsets=np.array(offsets, np.int64), counts=np.zeros(
            len(offsets) - 1, np.int64), meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        return path
    good = {"format": FORMAT, "version": 1, "units": "bytes", "pretokenizer": {"name": "gpt2", "pattern": None}}
    assert len(newbpe.WordCounts.load(write(good))) == 0
    for meta, expect in (({**good, "pretokenizer": None}, "pre-tokenizer"), ({**good, "version": "1"}, "version"),
                         ({**good, "units": "x"}, "unknown units"), ({**good, "split": 3}, "split"),
                         ({**good, "special_tokens": 5}, "special_tokens")):
        with pytest.raises(ModelFileError, match=expect):
            newbpe.WordCounts.load(write(meta))
    with pytest.raises(ModelFileError, match="inconsistent arrays"):
        newbpe.WordCounts.load(write(good, offsets=(0, 3, 0)))


def test_other_library_arguments(no_counting, lines):
    with pytest.raises(NewbpeError, match="unknown progress kind 'bar'"):
        newbpe.train(lines, vocab_size=500, progress="bar")
    with pytest.raises(NewbpeError, match="progress must be True, a kind"):
        newbpe.train(lines, vocab_size=500, progress=3)
    with pytest.raises(NewbpeError, match="unknown units 'byte'"):
        newbpe.train(lines, vocab_size=500, units="byte")
    with pytest.raises(NewbpeError, match="split must be 'line' or 'document'"):
        newbpe.count(lines, split="lines")
    with pytest.raises(NewbpeError, match="load\\(\\) takes a path"):
        newbpe.load(None)
    with pytest.raises(NewbpeError, match="word counts map"):
        newbpe.count({"a": "3"})


def test_encode_arguments(tok):
    with pytest.raises(NewbpeError, match="threads must be an integer >= 1"):
        tok.encode_batch(["a"], threads=0)
    with pytest.raises(NewbpeError, match="takes a list of texts"):
        tok.encode_batch("abc")
    with pytest.raises(NewbpeError, match="takes str or bytes"):
        tok.encode_batch([3])
    with pytest.raises(NewbpeError, match="not special tokens of this model: <x>"):
        tok.encode("a", allowed_special="<x>")


def test_cli_info_examples_range(model_dir):
    assert "--examples" in cli_error(["info", "-m", model_dir, "--examples", -1])


# ------------------------------------------------------------------------------------------ specials in text
def test_text_that_spells_the_unk_token_trains():
    """Char units add `<unk>` as a special; a corpus with the literal text `<unk>` (wikitext) makes
    merges spell it. They build an ordinary token with those bytes, never the special's id (which
    used to corrupt the pair counts). (Specials the user names are cut out of the text before
    counting, as HF does, so only the added `<unk>` can meet its own text.)"""
    text = "the <unk> of <unk> and <unk> is <unk>\n"
    lines = [text] * 50 + ["plain words here and there\n"] * 20
    tok = newbpe.train(lines, vocab_size=120, units="chars", pretokenizer="regex:<unk>")
    v = tok.vocabulary
    assert tok.special_tokens == ["<unk>"]
    learned = [i for i in range(v.n_base, len(v)) if v.tokens[i] == b"<unk>"]
    assert learned and tok.token_to_id("<unk>") == v.to_model[learned[0]]
    # special text is text only when not disallowed (tiktoken's default raises, issue 16)
    assert tok.decode(tok.encode_ordinary(text)) == text and 0 not in tok.encode_ordinary(text)
    assert newbpe.Tokenizer.from_dict(tok.to_dict()).encode_ordinary(text) == tok.encode_ordinary(text)
    with pytest.raises(NewbpeError, match="special token '<unk>'"):
        tok.encode(text)


# ---------------------------------------------------------------------------- save paths (issue 17)
def test_save_to_a_json_path_is_refused_in_one_line(tmp_path):
    tok = newbpe.train({"hello": 5, "world": 3}, vocab_size=260)
    with pytest.raises(newbpe.NewbpeError, match="saved as a directory"):
        tok.save(tmp_path / "my.json")
    assert not (tmp_path / "my.json").exists()
    tok.save(tmp_path / "dir.d")                       # any other name is a directory, as before
    assert (tmp_path / "dir.d" / "model.json").exists()


def test_cli_train_to_a_json_path_fails_before_training(tmp_path):
    from click.testing import CliRunner
    from newbpe.cli import main
    r = CliRunner().invoke(main, ["train", "--vocab-size", "300", "-o", str(tmp_path / "tok.json"),
                                  str(tmp_path / "missing.txt")])
    assert r.exit_code != 0 and "saved as a directory" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "tok.json").exists()


@pytest.mark.parametrize("content", [b"junk text\n", b"PAR1 but not parquet", b""])
def test_a_counts_file_that_is_not_a_table_is_one_line(tmp_path, content):
    """`train --counts` on a file that is neither an .npz nor a count shard: one line naming the
    file (np.load used to guess at it and talk about pickled data)."""
    path = tmp_path / "counts.bin"
    path.write_bytes(content)
    msg = cli_error(["train", "--counts", str(path), "--vocab-size", "300", "-o", str(tmp_path / "m")])
    assert str(path) in msg and "pickle" not in msg
