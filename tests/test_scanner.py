"""The numba scanner must split bytes exactly like `regex.findall` on the decoded text.

The reference is the specification itself: decode with ``surrogateescape``, run
``regex.findall(PATTERNS[preset], text)``, re-encode each piece and take cumulative byte
lengths. Every test compares against it on different kinds of input: arbitrary Unicode,
inputs built from the constructs the patterns treat specially, invalid UTF-8, and real text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newbpe.pretokenizers import scanner
from newbpe.pretokenizers.scanner import PATTERNS, PRESETS, split_bytes, split_bytes_many
from newbpe.pretokenizers.unicode_tables import (
    FLAG_CRLF,
    FLAG_L,
    FLAG_N,
    FLAG_S,
    class_table,
)

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"

# Numba compilation happens inside the first example, so no per-example deadline.
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_bounds(data: bytes, preset: str) -> np.ndarray:
    """Piece boundaries according to the regex module (the specification)."""
    text = data.decode("utf-8", "surrogateescape")
    if preset in scanner.GAP_PRESETS:          # the unmatched text between matches is a piece too
        pieces, pos = [], 0
        for m in regex.finditer(PATTERNS[preset], text):
            pieces += [p for p in (text[pos:m.start()], m.group()) if p]
            pos = m.end()
        pieces += [text[pos:]] if pos < len(text) else []
    else:
        pieces = regex.findall(PATTERNS[preset], text)
    assert "".join(pieces) == text, "the patterns are expected to leave no gaps"
    lengths = [len(piece.encode("utf-8", "surrogateescape")) for piece in pieces]
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def pieces_of(data: bytes, bounds) -> list[bytes]:
    return [data[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def assert_matches_regex(data: bytes, preset: str) -> None:
    got = split_bytes(np.frombuffer(data, dtype=np.uint8), preset)
    expected = reference_bounds(data, preset)
    if not np.array_equal(got, expected):
        # Show pieces rather than offsets: much easier to read when a case fails.
        assert pieces_of(data, got) == pieces_of(data, expected)
        assert got.tolist() == expected.tolist()
    assert got.dtype == np.int64


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

all_unicode_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)

CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Re", "'rE", "'VE", "'M", "'LL",
                "'Ll", "'lL", "'D", "'", "''", "'x", "'r", "'v", "'l", "'\u017f", "'\u212a", "'\u0130", "\u2019s"]
WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\r", "\r\n", "\n\n", " \n", "\n ", " \r\n ", "\x0b", "\x0c",
              "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u1680", "\u2000", "\u2028", "\u2029",
              "\u202f", "\u3000", "\u200b", "\ufeff"]
LETTERS = ["a", "word", "Word", "WORD", "wOrD", "HELLO", "hELLO", "ABCdef", "abcDEF", "\u01c5", "\u01c5a",
           "\u01c5A", "\u1f88", "\u02b0", "a\u02b0", "\u02b0A", "\u05d0\u05d1", "\u0627\u0644", "\u4f60\u597d",
           "\u3042", "\u30ab\u30ca", "\uac00", "\u00e9", "\u00c9", "\u03a3\u03c3\u03c2", "\u0130", "\u0131",
           "\u017f", "\u212a", "\u00df", "\u1e9e", "\U0001d400", "\U0001d41a", "x"]
MARKS = ["\u0301", "\u0300\u0301", "\u05b4", "\u064e", "\u0903", "\u20dd", "\ufe0f", "\U000e0100"]
DIGITS = ["1", "12", "123", "1234", "1234567", "\u0661\u0662\u0663\u0664", "\u2167", "\u00bd", "\u2460",
          "\U0001d7ce", "3.14", "1,000,000"]
OTHERS = [".", ",", "!", "?!", "...", "/", "//", "/*", "*/", "(", ")", "-", "--", "_", "@", "#", "$", "\"",
          "\u2014", "\u00a7", "\u2022", "\U0001f600", "\U0001f44d\U0001f3fd", "\u2764\ufe0f", "\u00ad",
          "\u200d", "\x00", "\x7f", "\ue000", "\U0010ffff", "\ufffd", ".\r\n", "!\n", "/\n", "+/\r"]

FRAGMENTS = CONTRACTIONS + WHITESPACE + LETTERS + MARKS + DIGITS + OTHERS

pattern_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(FRAGMENTS), all_unicode_text.map(lambda t: t[:3])),
    max_size=25,
).map("".join)

# Byte fragments that are invalid or truncated UTF-8, and valid neighbours to stick to them.
BAD_BYTES = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xdf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf",
             b"\xe2\x82", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xee\x80", b"\xf0\x8f\xbf\xbf", b"\xf0\x9f\x98",
             b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8", b"\xfe", b"\xff", b"\xe2\x28\xa1"]
GOOD_BYTES = [f.encode("utf-8") for f in FRAGMENTS]
pattern_bytes = st.lists(
    st.one_of(st.sampled_from(BAD_BYTES), st.sampled_from(GOOD_BYTES), st.binary(max_size=4)), max_size=25
).map(b"".join)


# --------------------------------------------------------------------------------------
# Building blocks: patterns, decoder and class table
# --------------------------------------------------------------------------------------


def test_patterns_are_the_published_ones():
    """The reference patterns are the specification, so pin them against a separate copy."""
    contractions = "'s|'t|'re|'ve|'m|'ll|'d"
    word_upper, word_lower = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
    assert PATTERNS == {
        "gpt2": contractions + r"| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        "cl100k": f"(?i:{contractions})" + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
        r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        "o200k": rf"[^\r\n\p{{L}}\p{{N}}]?{word_upper}*{word_lower}+(?i:{contractions})?"
        rf"|[^\r\n\p{{L}}\p{{N}}]?{word_upper}+{word_lower}*(?i:{contractions})?"
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        "superbpe_stage1": rf"[^\r\n\p{{L}}\p{{N}}]?{word_upper}*{word_lower}+"
        rf"|[^\r\n\p{{L}}\p{{N}}]?{word_upper}+{word_lower}*"
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        "superbpe_stage2": r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)",
    }
    assert set(PATTERNS) == set(PRESETS)


def test_patterns_agree_with_the_regex_pretokenizer():
    """The package's regex pre-tokenizer must use the very patterns the scanner reproduces."""
    import newbpe.pretokenizers as pretokenizers

    package_patterns = getattr(pretokenizers, "PATTERNS", None)
    if package_patterns is None:
        pytest.skip("newbpe.pretokenizers defines no PATTERNS")
    for preset in PRESETS:
        assert package_patterns[preset] == PATTERNS[preset], preset



@THOROUGH
@given(st.one_of(st.binary(max_size=40), pattern_bytes))
def test_decoder_matches_python_surrogateescape(data):
    code_points, offsets = scanner._decode_all(np.frombuffer(data, dtype=np.uint8), 0, len(data))
    text = data.decode("utf-8", "surrogateescape")
    assert code_points.tolist() == [ord(c) for c in text]
    expected_offsets = np.cumsum([0] + [len(c.encode("utf-8", "surrogateescape")) for c in text])[:-1]
    assert offsets.tolist() == expected_offsets.tolist()


def test_decoder_every_single_code_point():
    """Every scalar value round-trips, and every encoded surrogate is rejected byte-wise."""
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    data = text.encode("utf-8")
    code_points, _ = scanner._decode_all(np.frombuffer(data, dtype=np.uint8), 0, len(data))
    assert np.array_equal(code_points, np.array([ord(c) for c in text], dtype=np.int64))
    surrogates = "".join(chr(c) for c in range(0xD800, 0xE000)).encode("utf-8", "surrogatepass")
    code_points, _ = scanner._decode_all(np.frombuffer(surrogates, dtype=np.uint8), 0, len(surrogates))
    assert code_points.tolist() == [ord(c) for c in surrogates.decode("utf-8", "surrogateescape")]


def test_class_table_negated_classes_match_regex():
    """The scanner tests the pattern's negated classes through bit masks; check the masks
    against regex over all code points, surrogates included."""
    table = class_table()
    text = "".join(chr(c) for c in range(0x110000))
    for char_class, excluded in (
        (r"[^\s\p{L}\p{N}]", FLAG_L | FLAG_N | FLAG_S),
        (r"[^\r\n\p{L}\p{N}]", FLAG_L | FLAG_N | FLAG_CRLF),
        (r"\S", FLAG_S),
    ):
        expected = np.zeros(0x110000, dtype=bool)
        for match in regex.finditer(char_class + "+", text):
            expected[match.start() : match.end()] = True
        assert np.array_equal((table & excluded) == 0, expected), char_class


def test_class_table_disk_cache(tmp_path, monkeypatch):
    """The table is cached on disk (keyed by the regex version and the class definitions): a fresh
    process gets exactly what `regex` says, a damaged cache file is ignored and rebuilt."""
    from newbpe.pretokenizers import unicode_tables as ut
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert ut._cache_paths()[0].startswith(str(tmp_path))
    path = str(tmp_path / "classes.npy")
    monkeypatch.setattr(ut, "_cache_paths", lambda: [path])
    monkeypatch.setattr(ut, "_table_cache", None)
    built = ut.build_class_table()
    assert np.array_equal(ut.class_table(), built)          # built, then stored
    assert np.array_equal(np.load(path), built)
    monkeypatch.setattr(ut, "_table_cache", None)
    assert np.array_equal(ut._load_cached(), built)
    for junk in (b"not a table", b""):
        with open(path, "wb") as f:
            f.write(junk)
        monkeypatch.setattr(ut, "_table_cache", None)
        assert ut._load_cached() is None
        assert np.array_equal(ut.class_table(), built)       # rebuilt and stored again
        assert np.array_equal(np.load(path), built)


def test_whitespace_class_comes_from_regex():
    table = class_table()
    whitespace = {c for c in range(0x110000) if table[c] & FLAG_S}
    assert {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x2028, 0x3000} <= whitespace
    assert not {0x1C, 0x1D, 0x1E, 0x1F, 0x200B} & whitespace  # regex's \s leaves these out


# --------------------------------------------------------------------------------------
# split_bytes against regex.findall
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
@THOROUGH
@given(text=all_unicode_text)
def test_any_unicode_text(preset, text):
    assert_matches_regex(text.encode("utf-8"), preset)


@pytest.mark.parametrize("preset", PRESETS)
@THOROUGH
@given(text=pattern_text)
def test_pattern_constructs(preset, text):
    assert_matches_regex(text.encode("utf-8"), preset)


@pytest.mark.parametrize("preset", PRESETS)
@FAST
@given(data=st.binary(max_size=60))
def test_arbitrary_bytes(preset, data):
    assert_matches_regex(data, preset)


@pytest.mark.parametrize("preset", PRESETS)
@FAST
@given(data=pattern_bytes)
def test_invalid_utf8_mixed_with_text(preset, data):
    assert_matches_regex(data, preset)


EXAMPLES = [
    "",
    "Hello world",
    "I'm sure they'll say it's fine, wouldn't you? We've 'd 'x",
    "I'M SURE THEY'LL SAY IT'S FINE WE'VE",
    "\u017f'\u017f it'\u017f K'\u212a",
    "  leading and trailing  ",
    "a  \n\n  b\r\n\r\nc \t\u3000d\u00a0e\x0bf\x0cg\x85h\u2028i",
    "line one.\r\nline two!\n\n/path/to/file/ and /\n",
    "1234567 89 1,234.5 \u0661\u0662\u0663\u0664\u0665 \u2160\u2161",
    "e\u0301 \u0301x \u0301 a\u0301\u0301b \u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd",
    "CamelCaseWords HTTPServer getHTTPResponse \u01c5ungla \u01c4UNGLA \u02b0hi",
    "\u4f60\u597d\u4e16\u754c \U0001f600\U0001f600 \U0001f44d\U0001f3fd!!",
    "x\x00y\x7f \ue000\U0010ffff",
]


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("text", EXAMPLES)
def test_examples(preset, text):
    assert_matches_regex(text.encode("utf-8"), preset)


def test_known_splits():
    """A few splits written out by hand, so the tests do not only trust the reference."""
    data = b"Hello world's  \n\n  x"
    got = pieces_of(data, split_bytes(np.frombuffer(data, dtype=np.uint8), "cl100k"))
    assert got == [b"Hello", b" world", b"'s", b"  \n\n", b" ", b" x"]
    data = b"WE'LL 12345"
    assert pieces_of(data, split_bytes(np.frombuffer(data, dtype=np.uint8), "gpt2")) == [
        b"WE", b"'", b"LL", b" 12345"]
    assert pieces_of(data, split_bytes(np.frombuffer(data, dtype=np.uint8), "o200k")) == [
        b"WE'LL", b" ", b"123", b"45"]


def test_empty_and_bad_arguments():
    assert split_bytes(np.zeros(0, dtype=np.uint8), "gpt2").tolist() == [0]
    assert split_bytes(b"ab cd", "gpt2").tolist() == [0, 2, 5]
    with pytest.raises(ValueError):
        split_bytes(np.zeros(3, dtype=np.uint8), "gpt5")
    with pytest.raises(ValueError):
        split_bytes(np.zeros(3, dtype=np.int32), "gpt2")
    with pytest.raises(ValueError):
        split_bytes_many(np.zeros(3, dtype=np.uint8), [0, 4], "gpt2")
    with pytest.raises(ValueError):
        split_bytes_many(np.zeros(3, dtype=np.uint8), [2, 1], "gpt2")


# --------------------------------------------------------------------------------------
# Real text
# --------------------------------------------------------------------------------------

# (file under shared/corpora, how many leading bytes to compare)
CORPUS_SAMPLES = [
    ("en/gutenberg_50MB.txt", 2_000_000),
    ("he/tanakh_wlc_vocalized.txt", 400_000),
    ("he/heq_contexts_val_test.txt", 300_000),
    ("ar/quran_uthmani_diacritized.txt", 400_000),
    ("ar/hadith_darimi_plain.txt", 300_000),
    ("ms/malay_subtitles_hollywood.txt", 300_000),
    ("code/cpython311_stdlib_py.txt", 1_000_000),
]


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("relative_path,size", CORPUS_SAMPLES)
def test_real_text(preset, relative_path, size):
    path = CORPORA / relative_path
    if not path.is_file():
        pytest.skip(f"corpus file {path} not present (shared/corpora is not checked out next to the repo)")
    with open(path, "rb") as handle:
        data = handle.read(size)
    assert_matches_regex(data, preset)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_real_text_many_languages(preset):
    """A little of every language sample: many scripts, casing systems and marks.
    (Cutting files at a fixed byte count also leaves truncated sequences in between.)"""
    paths = sorted((CORPORA / "multi").glob("*/*.txt"))
    if not paths:
        pytest.skip(f"no multilingual samples under {CORPORA / 'multi'} (shared/corpora is not present)")
    data = b"".join(path.read_bytes()[:2500] for path in paths)
    assert_matches_regex(data, preset)


# --------------------------------------------------------------------------------------
# Many documents, serial and threaded
# --------------------------------------------------------------------------------------


def expected_many(data: bytes, doc_offsets, preset: str) -> np.ndarray:
    """Per-document split_bytes, shifted to absolute offsets and concatenated."""
    parts = [np.array([doc_offsets[0]], dtype=np.int64)]
    for start, end in zip(doc_offsets[:-1], doc_offsets[1:]):
        bounds = split_bytes(np.frombuffer(data[start:end], dtype=np.uint8), preset)
        parts.append(bounds[1:] + start)
    return np.concatenate(parts)


def check_many(documents: list[bytes], preset: str, lead: bytes = b"", tail: bytes = b"") -> None:
    data = lead + b"".join(documents) + tail
    doc_offsets = np.cumsum([len(lead)] + [len(d) for d in documents]).astype(np.int64)
    expected = expected_many(data, doc_offsets, preset)
    array = np.frombuffer(data, dtype=np.uint8)
    serial = split_bytes_many(array, doc_offsets, preset, threads=1)
    threaded = split_bytes_many(array, doc_offsets, preset, threads=2)
    assert serial.tolist() == expected.tolist()
    assert threaded.tolist() == expected.tolist()
    assert np.all(np.diff(serial) > 0)
    assert set(doc_offsets.tolist()) <= set(serial.tolist())
    # The per-document pieces also agree with regex on each document.
    for document in documents:
        assert split_bytes(document, preset).tolist() == reference_bounds(document, preset).tolist()


@pytest.mark.parametrize("preset", PRESETS)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    documents=st.lists(st.one_of(pattern_text.map(lambda t: t.encode("utf-8")), pattern_bytes), max_size=12),
    lead=st.binary(max_size=3),
    tail=st.binary(max_size=3),
)
def test_many_documents(preset, documents, lead, tail):
    check_many(documents, preset, lead, tail)


@pytest.mark.parametrize("preset", PRESETS)
def test_many_documents_cut_inside_tokens(preset):
    """Cuts through words, whitespace runs and multi-byte characters must not leak across."""
    text = "Hello  world's\r\n\r\n  caf\u00e9 \u4f60\u597d 12345 \U0001f600!! ".encode("utf-8") * 20
    cuts = sorted({0, len(text)} | set(range(0, len(text), 7)))
    documents = [text[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    check_many(documents, preset)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_many_documents_real_text(preset):
    path = CORPORA / "en" / "gutenberg_50MB.txt"
    if not path.is_file():
        pytest.skip(f"corpus file {path} not present (shared/corpora is not checked out next to the repo)")
    with open(path, "rb") as handle:
        data = handle.read(1_000_000)
    # Paragraphs as documents, including some empty ones.
    documents = data.split(b"\n\n")
    doc_offsets = np.cumsum([0] + [len(d) for d in documents]).astype(np.int64)
    joined = np.frombuffer(b"".join(documents), dtype=np.uint8)
    serial = split_bytes_many(joined, doc_offsets, preset, threads=1)
    threaded = split_bytes_many(joined, doc_offsets, preset, threads=2)
    assert np.array_equal(serial, threaded)
    assert np.array_equal(serial, expected_many(joined.tobytes(), doc_offsets, preset))
