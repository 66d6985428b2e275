"""Long lines and texts are cut at safe points (newbpe/cuts.py) and nothing changes: the pieces of
every pre-tokenizer, the counts, the ids of the library and of the CLI encode, StochasTok's expansion,
eval's metrics, SPLINTER apply/invert and its learned map.
Part sizes are forced tiny so that the cutting paths run on small inputs."""
import io
import warnings

import numpy as np
import pytest
import regex
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe import counting, cuts
from newbpe import model as model_mod
from newbpe.cli import main
from newbpe.cuts import CutRule, iter_parts, split_text
from newbpe.pretokenizers import PreTokenizer

from conftest import BUNDLED

# characters around every rule: letters, digits, apostrophes (contractions), punctuation, ASCII and
# non-ASCII whitespace (incl. what only str.isspace or only \s calls whitespace), CR/LF, marks, CJK,
# emoji, the specials' characters, surrogate escapes (invalid UTF-8 in byte mode)
ALPHABET = list("aZé's d7 .,/!  \t\r\n\r\n") + ["\xa0", "\u3000", "\u2028", "\x85", "\x1c", "\u0301", "中",
                                               "\U0001F600", "<", "|", ">", "\udc80", "\udcff", "'ll", " 's"]
TEXT = st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join)
CUT_PRESETS = cuts.PRESET_CUTS


def safe_points(text, rule):
    out, p = [], rule.find(text, 1, len(text))
    while p >= 0:
        out.append(p)
        p = rule.find(text, p + 1, len(text))
    return out


@settings(max_examples=300)
@given(TEXT, st.sampled_from(CUT_PRESETS))
def test_every_safe_point_keeps_the_pieces(text, preset):
    pretok = PreTokenizer(preset)
    rule = CutRule.for_pretokenizer(pretok)
    whole = pretok.split(text)
    for p in safe_points(text, rule):
        assert pretok.split(text[:p]) + pretok.split(text[p:]) == whole, (p, text[:p], text[p:])


@settings(max_examples=200)
@given(st.binary(max_size=40).map(lambda b: b.replace(b"x", b" ")), st.sampled_from(["gpt2", "cl100k", "o200k"]))
def test_byte_points_are_the_str_points_and_keep_the_scanner_pieces(data, preset):
    """Bytes (any, invalid UTF-8 included) are cut where their surrogateescape decoding is cut, and
    the numba scanner gives the same pieces on both sides."""
    from newbpe.pretokenizers.scanner import split_bytes_many
    rule = CutRule.for_pretokenizer(preset)
    text = data.decode("utf-8", "surrogateescape")
    char_at = {len(text[:i].encode("utf-8", "surrogateescape")): i for i in range(len(text) + 1)}
    byte_points = safe_points(data, rule)
    str_points = [p for p in safe_points(text, rule)          # bytes: conservative at the buffer's start
                  if text[p - 1] < "\x80" or len(text[:p].encode("utf-8", "surrogateescape")) >= 3]
    assert [char_at[p] for p in byte_points] == str_points

    def scan(b):
        arr = np.frombuffer(b, dtype=np.uint8)
        bounds = split_bytes_many(arr, np.array([0, len(b)], dtype=np.int64), preset)
        return [b[x:y] for x, y in zip(bounds, bounds[1:])]
    for p in byte_points:
        assert scan(data[:p]) + scan(data[p:]) == scan(data)


def test_whitespace_set_is_regex_s_and_isspace():
    every = {chr(c) for c in range(0x110000) if chr(c).isspace() or regex.match(r"\s", chr(c))}
    assert every == cuts.WHITESPACE


def test_no_safe_point_for_none_superbpe_stage2_or_a_custom_regex():
    assert PreTokenizer("superbpe_stage2").split("a 's") == ["a 's"]      # a gap across a space
    for spec in ("none", "superbpe_stage2", r"regex:\w+|\s+"):
        assert CutRule.for_pretokenizer(PreTokenizer(spec)).find("a b c d", 0, 7) == -1


def test_specials_are_never_cut_through():
    rule = CutRule(specials=["<x y>", "z z"])
    text = "a <x y> b z z c"
    # not 4 or 11 (inside a special), nor 1 or 13: too near an edge to see a special around them
    assert safe_points(text, rule) == [7, 9]
    assert safe_points(text.encode(), rule) == [7, 9]
    assert safe_points("aaaa " + text + " aaaa", rule) == [4, 6, 12, 14, 18, 20]


@given(TEXT, st.integers(1, 9))
def test_split_text_reassembles(text, size):
    rule = CutRule()
    parts = list(split_text(text, rule, size))
    assert "".join(parts) == text
    ends = np.cumsum([len(p) for p in parts])[:-1]
    assert all(rule.find(text, e, e + 1) == e for e in ends)          # every cut is a safe point


@given(st.lists(st.sampled_from([b"ab", b" ", b"  ", b"\n", b"\r\n", b"\xc3\xa9", b"\xe2\x80", b"\xa0",
                                 b"\xc2\xa0", b"<|e|>", b"x"]), max_size=50).map(b"".join),
       st.integers(1, 12), st.booleans())
def test_iter_parts_reassembles_lines(data, size, lines):
    rule = CutRule(specials=["<|e|>"])
    got, line, cuts_in_line = [], b"", []
    for part, end in iter_parts(io.BytesIO(data), rule, size, lines=lines):
        if lines:
            assert b"\n" not in part[:-1]
        line += part
        if not end:
            cuts_in_line.append(len(line))
            continue
        assert all(rule.find(line, c, c + 1) == c for c in cuts_in_line)      # every cut is a safe point
        got.append(line)
        line, cuts_in_line = b"", []
    assert b"".join(got) == data
    assert got == (data.splitlines(keepends=True) if lines else ([data] if data else []))


# ------------------------------------------------------------------------------- the library encode
@pytest.fixture(scope="module")
def models():
    lines = (BUNDLED / "en" / "tinyshakespeare.txt").read_text().splitlines(keepends=True)[:3000]
    out = {}
    for pretok in ("gpt2", "cl100k", "o200k", "superbpe_stage1", "none"):
        out[pretok] = newbpe.train(lines, vocab_size=500, pretokenizer=pretok, special_tokens=["<|e|>"])
    out["whitespace"] = newbpe.train(lines, vocab_size=300, pretokenizer="whitespace", units="chars")
    out["chars"] = newbpe.train(lines, vocab_size=300, pretokenizer="gpt2", units="chars")
    return out


ENC_TEXT = st.lists(st.sampled_from(ALPHABET + ["<|e|>", "the ", "king's ", "  ", "1234567 "]), max_size=80).map("".join)


def tiny_parts(mp, size=5):
    mp.setattr(cuts, "PART_SIZE", size)
    mp.setattr(model_mod, "BATCH_CHARS", 11)


@settings(max_examples=60)
@given(ENC_TEXT, st.sampled_from(["gpt2", "cl100k", "o200k", "superbpe_stage1", "whitespace", "chars", "none"]),
       st.sampled_from([(), "all"]), st.integers(1, 9))
def test_encode_in_tiny_parts_equals_whole(models, text, name, allowed, size):
    tok = models[name]
    if tok.units == "bytes":
        text_in = text
    else:
        text_in = text.replace("\udc80", "").replace("\udcff", "")
    allowed = allowed if tok.special_tokens else ()     # special text is text when not allowed
    whole = tok.encode(text_in, allowed_special=allowed, disallowed_special=())
    with pytest.MonkeyPatch.context() as mp:
        tiny_parts(mp, size)
        assert tok.encode(text_in, allowed_special=allowed, disallowed_special=()) == whole
        assert tok.encode_batch([text_in, "", text_in], allowed_special=allowed, disallowed_special=()) == [whole, [], whole]
        if tok.units == "bytes":
            raw = text_in.encode("utf-8", "surrogateescape")
            assert tok.encode(raw, allowed_special=allowed, disallowed_special=()) == whole


def test_char_units_encode_of_invalid_utf8_warns_like_training(models):
    tok = models["chars"]
    with pytest.warns(UserWarning, match="not valid UTF-8"):
        ids = tok.encode(b"ab\xffcd")
    assert ids == tok.encode("ab\ufffdcd")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tok.encode(b"abcd")
        models["gpt2"].encode(b"ab\xffcd")                        # byte units keep every byte, silently


# ------------------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def model_dirs(models, tmp_path_factory):
    out = {}
    for name in ("gpt2", "chars", "none"):
        out[name] = tmp_path_factory.mktemp("m") / name
        models[name].save(out[name])
    return out


CLI_INPUT = [b"the king's men  and 12345 horses\r\n", b"", b"\n", b"one<|e|>two <|e|> three\n",
             b"caf\xc3\xa9 \xe2\x80 na\xefve \xff\xfe end\n", b"   leading and trailing   \n", b"no newline at end"]


@pytest.mark.parametrize("name", ["gpt2", "chars", "none"])
@pytest.mark.parametrize("allowed", ["", "all"])
def test_cli_encode_in_tiny_parts_equals_per_line_encode(models, model_dirs, tmp_path, name, allowed):
    tok = models[name]
    data = b"".join(CLI_INPUT) * 3
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    lines = data.splitlines(keepends=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = "".join(" ".join(map(str, tok.encode(line, allowed_special=allowed or (), disallowed_special=()))) + "\n" for line in lines)
    args = ["encode", "-m", str(model_dirs[name]), str(path)] + (["--allowed-special", allowed] if allowed else [])
    with pytest.MonkeyPatch.context() as mp:
        tiny_parts(mp, 4)
        r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0
    assert r.stdout == expected
    if name == "chars":
        assert "not valid UTF-8" in r.stderr


# ------------------------------------------------------------------------------- counting
@pytest.mark.parametrize("split", ["line", "document"])
@pytest.mark.parametrize("pretok", ["gpt2", "cl100k", "whitespace", "superbpe_stage2"])
def test_counting_in_tiny_chunks_equals_whole(tmp_path, monkeypatch, split, pretok):
    """Chunks cut inside long lines (line mode) and documents (document mode). gpt2 in document mode
    is the old rule's failure: a chunk ending after 'x  \\n' before a letter split '  ' and '\\n'."""
    text = ("x  \nabc def  \n\nghi's 12 34\r\nword " * 40) + "tail"
    path = tmp_path / "t.txt"
    path.write_bytes(text.encode())
    reference = newbpe.WordCounts.from_texts([text] if split == "document" else text.splitlines(keepends=True),
                                             pretokenizer=pretok).table
    monkeypatch.setattr(counting, "CHUNK_BYTES", 7)
    chunks = counting._chunks(str(path), split, PreTokenizer(pretok))
    assert len(chunks) > 20 if split == "line" or pretok in cuts.PRESET_CUTS else len(chunks) == 1
    got = newbpe.WordCounts.from_files([str(path)], pretokenizer=pretok, split=split, threads=1).table
    assert got == reference


# ------------------------------------------------------------------------------- the other readers
@pytest.mark.parametrize("split", ["line", "document"])
def test_stochastok_in_tiny_parts_equals_whole_documents(models, tmp_path, split):
    from newbpe.augment.stochastok import StochasTok, expand_files
    tok = models["gpt2"]
    st_ = StochasTok(tok)
    files = []
    for k in range(2):
        f = tmp_path / f"in{k}.txt"
        f.write_bytes(b"".join(CLI_INPUT) * 2 + b"the end of file %d\n" % k)
        files.append(str(f))
    out_whole, out_tiny = tmp_path / "whole.npy", tmp_path / "tiny.npy"
    whole = expand_files(tok, st_, files, out_whole, 0.5, seed=3, split=split, allowed_special="all",
                         append_special="<|e|>")
    with pytest.MonkeyPatch.context() as mp:
        tiny_parts(mp, 3)
        tiny = expand_files(tok, st_, files, out_tiny, 0.5, seed=3, split=split, allowed_special="all",
                            append_special="<|e|>", batch_chars=40)
    assert whole[:4] == tiny[:4]
    assert np.array_equal(np.load(out_whole), np.load(out_tiny))
    docs = [d for f in files for d in (open(f, "rb").read().splitlines(keepends=True) if split == "line"
                                       else [open(f, "rb").read()])]
    ids = [tok.encode(d, allowed_special="all") + [tok.token_to_id("<|e|>")] for d in docs]
    expected, _, _ = st_.expand_flat(np.concatenate([np.array(i, np.int64) for i in ids]),
                                     np.cumsum([0] + [len(i) for i in ids]), 0.5, seed=3)
    assert np.array_equal(np.load(out_tiny), expected)


def test_splinter_apply_and_invert_in_tiny_parts(tmp_path):
    from test_splinter import ref_splinter
    sp = ref_splinter(0)
    m = tmp_path / "he.json"
    sp.save(m)
    text = (BUNDLED / "he" / "heq_contexts_val_test.txt").read_text(encoding="utf-8")[:20000]
    text += " ".join([sp.esc + " x", "\ue001 abc", "שָׁלוֹם  עולם\r\n", sp.esc, "  end"])
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        tiny_parts(mp, 5)
        a = CliRunner().invoke(main, ["splinter", "apply", "--map", str(m), "-o", str(tmp_path / "a.txt"), str(src)],
                               catch_exceptions=False)
        assert a.exit_code == 0
        assert (tmp_path / "a.txt").read_bytes().decode("utf-8") == sp.apply(text)
        weird = sp.esc + " " + sp.apply(text) + " " + sp.esc + sp.esc + " x"      # invert is lenient: any text
        (tmp_path / "w.txt").write_text(weird, encoding="utf-8")
        inv = CliRunner().invoke(main, ["splinter", "invert", "--map", str(m), str(tmp_path / "w.txt")],
                                 catch_exceptions=False)
    assert inv.stdout_bytes.decode("utf-8") == "\n".join(sp.invert(line) for line in weird.split("\n"))


def test_eval_in_tiny_parts_equals_whole(model_dirs, tmp_path):
    """eval reads a compressed corpus through the cut readers (run_eval's lines, newbpe.sources):
    read in tiny parts it gives the numbers it gives read whole, and those of the plain file."""
    import gzip
    import json
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(CLI_INPUT) * 5)
    packed = tmp_path / "in.txt.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    args = ["eval", "-m", str(model_dirs["gpt2"]), "--json", "-"]
    whole = CliRunner().invoke(main, args + [str(packed)], catch_exceptions=False).stdout
    with pytest.MonkeyPatch.context() as mp:
        tiny_parts(mp, 4)
        tiny = CliRunner().invoke(main, args + [str(packed)], catch_exceptions=False).stdout
    plain = CliRunner().invoke(main, args + [str(path)], catch_exceptions=False).stdout

    def rows(out):
        return [dict(r, corpus=None) for r in json.loads(out)["rows"]]
    assert rows(tiny) == rows(whole) == rows(plain)
    assert json.loads(whole)["corpora"][0]["words"] == len(path.read_bytes().split())


def test_splinter_learning_from_files_in_tiny_parts(tmp_path):
    from newbpe.preprocessors.splinter import Splinter
    src = BUNDLED / "he" / "heq_contexts_val_test.txt"
    whole = Splinter.learn([str(src)], "he", split="document")
    with pytest.MonkeyPatch.context() as mp:
        tiny_parts(mp, 7)
        tiny = Splinter.learn([str(src)], "he", split="document")
    assert tiny.map == whole.map
