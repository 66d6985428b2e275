"""Long lines and texts are cut at safe points (newbpe/cuts.py) and nothing changes: the pieces of
every pre-tokenizer, the counts, SPLINTER's learned map. Part sizes are forced tiny so that the
cutting paths run on small inputs. (memory's tests of the encode, CLI, StochasTok and eval readers
come with those readers.)"""
import io
import warnings

import numpy as np
import pytest
import regex
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe import counting, cuts
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


def tiny_parts(mp, size=5):
    mp.setattr(cuts, "PART_SIZE", size)


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


def test_splinter_learning_from_files_in_tiny_parts(tmp_path):
    from newbpe.preprocessors.splinter import Splinter
    src = BUNDLED / "he" / "heq_contexts_val_test.txt"
    whole = Splinter.learn([str(src)], "he", split="document")
    with pytest.MonkeyPatch.context() as mp:
        tiny_parts(mp, 7)
        tiny = Splinter.learn([str(src)], "he", split="document")
    assert tiny.map == whole.map
