"""SPLINTER (specs splinter.md): learner, per-word transform, lossless whole-text transform, model
integration, CLI, export. Reference parity uses tests/fixtures/splinter (see its README); the §9
anchors need the optional `wordfreq` package and skip without it."""
import json
import re
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe.cli import main
from newbpe.errors import ModelFileError, NewbpeError
from newbpe.preprocessors.splinter import Splinter
from newbpe.preprocessors.splinter_lang import LANGUAGES, positions
from newbpe.preprocessors.splinter_learn import count_words, learn_map, read_word_counts

from conftest import BUNDLED, shared

FIXTURE = BUNDLED.parent / "tests" / "fixtures" / "splinter" / "reference_outputs.json"
REF = json.loads(FIXTURE.read_text(encoding="utf-8"))
HE = LANGUAGES["he"]

# a tiny word-count table whose map and transforms are worked out by hand in test_hand_golden_*
TINY = {"כתב": 100, "כתבו": 50, "הכתב": 40, "וכתב": 20, "הכתבו": 10, "ספרים": 9}


def run_cli(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def ref_splinter(i, **options):
    run = REF["runs"][i]
    return Splinter(run["lang"], run["reductions_map"], letters=run["letters"], **options)


@pytest.fixture(scope="module")
def he_sp():
    return ref_splinter(0)


# ---------------------------------------------------------------------------------------------- learning
def test_position_convention_addresses_every_index_once():
    for n in range(1, 60):
        idx = sorted(p if p >= 0 else n + p for p in positions(n))
        assert idx == list(range(n))
        for p in positions(n):                     # each index from its nearer edge (the middle one from the start)
            i = p if p >= 0 else n + p
            assert (p >= 0) == (i <= n - 1 - i)


def test_hand_golden_map():
    m, first, stats = learn_map(TINY, "he")
    assert stats == {"kept_words": 5, "max_length": 5}            # ספרים (count 9) is below min_count 10
    third = 1 / 3
    assert list(m[4].items()) == [("-1:ו", third), ("0:ה", third), ("0:ו", third)]
    # iteration 1 ties -1:ו and 0:ה at length 5; iteration 2 prefers 0:ה (f(כתבו) > f(הכתב) after re-estimation)
    assert list(first[5].items()) == [("-1:ו", 0.5), ("0:ה", 0.5)]
    assert list(m[5].items()) == [("0:ה", 1.0)]
    assert sorted(m) == [1, 4, 5] and m[1] == {c: 1 for c in HE.letters}
    m1, _, _ = learn_map(TINY, "he", iterations=1)
    assert list(m1[5].items()) == [("-1:ו", 0.5), ("0:ה", 0.5)]
    m0, _, _ = learn_map(TINY, "he", min_count=1)
    assert "ספרימ" not in m0 and 5 in m0                           # final-letter swap before learning


def test_hand_golden_decompose():
    sp = Splinter.learn(TINY, "he")
    assert sp.decompose("הכתבו") == ["כ", "ת", "ב", "-1:ו", "0:ה"]
    assert sp.decompose("וכתב") == ["כ", "ת", "ב", "0:ו"]
    assert sp.decompose("ספר") == ["ס", "פ", "ר"]                 # length 3: never reduced
    assert sp.decompose("כתבם") == ["כ", "ת", "ב", "מ"]           # final מ swapped, no key matches
    assert sp.decompose("הספרו") == ["ס", "פ", "ר", "-1:ו", "0:ה"]  # unseen word: no dictionary check
    assert sp.decompose("הספרי") == list("הספרי")                 # the look-ahead finds no complete chain
    assert sp.decompose("הכתבוה") == list("הכתבוה")               # no reductions for length 6
    assert sp.decompose("ab") == ["a", "b"]                       # non-letters: not reduced


def test_letters_subset_and_custom_letters():
    m, _, _ = learn_map(TINY, "he", letters="ה")
    assert list(m[4]) == ["0:ה"] and list(m[5]) == ["0:ה"]
    with pytest.raises(NewbpeError):
        learn_map(TINY, "ar", letters="servile")
    with pytest.raises(NewbpeError):
        learn_map(TINY, "he", letters="xyz")
    with pytest.raises(NewbpeError):
        learn_map({"a": 5}, "he")


@pytest.mark.parametrize("i", range(len(REF["runs"])))
def test_reference_fixture_map(i):
    """The learner equals the reference code on the same corpus (counted by newbpe with the
    reference extractor's rules): word table, iteration 1, iteration 2 (order and shares), symbols."""
    run = REF["runs"][i]
    texts = [(BUNDLED / run["lang"] / f).read_text(encoding="utf-8") for f in run["files"]]
    counts = count_words(texts, run["lang"])
    assert (len(counts), sum(counts.values())) == (run["word_types"], run["word_tokens"])
    m, first, _ = learn_map(counts, run["lang"], letters=run["letters"])
    assert [(str(n), list(km.items())) for n, km in m.items()] == \
        [(n, list(km.items())) for n, km in run["reductions_map"].items()]
    ref_first = {n: km for n, km in run["first_iteration"].items() if n != "1"}
    assert [(str(n), list(km.items())) for n, km in first.items()] == [(n, list(km.items())) for n, km in ref_first.items()]
    sp = Splinter(run["lang"], m, letters=run["letters"])
    assert sp.keys == run["symbols"]
    for n, km in m.items():                                       # §10.6
        if n > 1:
            assert abs(sum(km.values()) - 1) < 1e-12


@pytest.mark.parametrize("i", range(len(REF["runs"])))
def test_reference_fixture_transforms(i):
    run = REF["runs"][i]
    sp = ref_splinter(i)
    got = {w: sp.decompose(w) for w in run["transforms"]}
    assert got == run["transforms"]
    for w in run["transforms"]:
        assert sp.decode_word(sp.encode_word(w)) == w


ANCHORS = {  # spec §9.1 / §9.2 (reference code run on wordfreq 3.1.1 pseudo-counts)
    ("he", "all"): (528776, 19, list(range(4, 19)), 270),
    ("he", "servile"): (528776, 19, list(range(4, 19)), 143),
    ("ar", "all"): (581859, 50, list(range(4, 41)) + [44, 45], 389),
    ("ms", "all"): (28350, 21, list(range(4, 16)), 276),
}
TOP5 = {
    ("he", 4): "0:ו .0481 0:ל .0372 1:ו .0353 -1:ו .0331 -1:ה .0327",
    ("he", 5): "0:ו .0953 0:ש .0598 0:ל .0440 -1:ו .0397 0:מ .0385",
    ("he", 6): "0:ו .1552 0:ש .0895 0:ל .0533 0:מ .0474 0:ה .0466",
    ("he", 7): "0:ו .2171 0:ש .1032 0:ה .0655 0:מ .0590 0:ל .0557",
    ("ar", 4): "0:و .0538 -1:ه .0417 -1:ا .0369 0:ل .0347 0:ب .0328",
    ("ms", 4): "-1:a .0884 -1:i .0554 -1:e .0429 0:a .0354 -2:r .0311",
}
WORDS = {
    "he": {"המלכים": "כ י מ | 0:ל 0:מ 0:ה", "ובבתיהם": "ת ה מ | 1:י 0:ב 0:ב 0:ו", "שמרתם": "ר ת מ | 0:מ 0:ש",
           "הלכתי": "כ ת י | 0:ל 0:ה", "מחשבות": "ח ש ב | -1:ו -1:ת 0:מ", "ספר": "ס פ ר"},
    "ar": {"المكتبة": "ك ت ب | 0:م -1:ة 0:ل 0:ا", "يكتبون": "ك ت ب | 0:ي -1:ن -2:و", "مدرسة": "د ر س | 0:م -1:ة",
           "الكتاب": "ك ت ب | -2:ا 0:ل 0:ا"},
    "ms": {"kebanyakan": "k e b | -1:a -1:y -1:a -1:a -1:n -3:k 4:n", "menulis": "m e n | -1:u -1:l -1:i -1:s",
           "makanan": "m a k | -1:a -1:n -1:a -1:n", "pembelajaran": "p e m b e l a j a r a n"},
}


@pytest.mark.slow
@pytest.mark.parametrize("lang,letters", list(ANCHORS))
def test_spec_anchors_wordfreq(lang, letters):
    try:
        import wordfreq  # noqa: F401
    except ImportError:
        pytest.skip("the §9 anchors need the optional wordfreq package")
    sp = Splinter.learn("wordfreq", lang, letters=letters)
    kept, max_len, lengths, n_symbols = ANCHORS[(lang, letters)]
    assert (sp.stats["kept_words"], sp.stats["max_length"]) == (kept, max_len)
    assert sorted(n for n in sp.map if n > 1) == lengths and len(sp.keys) == n_symbols
    if letters == "all":
        for (l2, n), text in TOP5.items():
            if l2 == lang:
                got = " ".join(f"{k} {s:.4f}".replace(" 0.", " .") for k, s in list(sp.map[n].items())[:5])
                assert got == text
    for w, expect in WORDS[lang].items():
        assert " ".join(sp.decompose(w)).replace(" ", "") == expect.replace(" | ", "").replace(" ", "")
        assert sp.decompose(w) == expect.replace("| ", "").split()


def test_wordfreq_missing_is_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wordfreq", None)
    with pytest.raises(NewbpeError, match="optional package wordfreq"):
        Splinter.learn("wordfreq", "he")
    r = run_cli("splinter", "learn", "--lang", "he", "--wordfreq", "-o", tmp_path / "m.json")
    assert r.exit_code != 0 and "wordfreq" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m.json").exists()


def test_word_counts_file(tmp_path):
    p = tmp_path / "wc.tsv"
    p.write_text("".join(f"{w}\t{c}\n" for w, c in TINY.items()), encoding="utf-8")
    assert read_word_counts(p) == TINY
    (tmp_path / "bad.tsv").write_text("כתב 10\n", encoding="utf-8")
    with pytest.raises(NewbpeError, match="word<TAB>count"):
        read_word_counts(tmp_path / "bad.tsv")


# ---------------------------------------------------------------------------------------------- transform
def _alphabet_words(lang):
    letters = LANGUAGES[lang].letters
    return st.text(alphabet=st.sampled_from(letters), min_size=1, max_size=25)


@settings(max_examples=300)
@given(data=st.data())
def test_word_roundtrip(data, he_sp):
    """§10.2 over every language, lengths 1–25, final letters anywhere."""
    for i in range(len(REF["runs"])):
        sp = ref_splinter(i) if i else he_sp
        w = data.draw(_alphabet_words(sp.lang))
        enc = sp.encode_word(w)
        assert sp.decode_word(enc) == w
        assert all(sp.reserved[0] <= ord(c) <= sp.reserved[1] for c in enc)


HEBREW_MIX = st.text(alphabet=st.one_of(
    st.sampled_from(HE.letters), st.sampled_from(HE.diacritics), st.sampled_from(" .,-:\"()\n\t0123456789abc"),
    st.characters(min_codepoint=0xE000, max_codepoint=0xE200),          # the reserved block and around it
    st.sampled_from("\u5000\u4e2d\u0627\u0644\u064e\U0001F600\udc80"),
    st.characters()), max_size=80)
ARABIC_MIX = st.text(alphabet=st.one_of(
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF), st.sampled_from(" ،.\n0123"),
    st.characters(min_codepoint=0xE000, max_codepoint=0xE1A0)), max_size=80)


@pytest.mark.parametrize("segmentation", ["letter_runs", "reference"])
@settings(max_examples=300)
@given(text=st.one_of(st.text(), HEBREW_MIX))
def test_text_roundtrip_hebrew(he_sp, segmentation, text):
    """§10.3: arbitrary Unicode (all categories, reserved code points, CJK, vocalized Hebrew)."""
    sp = he_sp if segmentation == "letter_runs" else ref_splinter(0, segmentation="reference")
    assert sp.invert(sp.apply(text)) == text


@settings(max_examples=200)
@given(text=st.one_of(st.text(), ARABIC_MIX))
def test_text_roundtrip_arabic_malay(text):
    for i in (2, 3):
        sp = ref_splinter(i)
        assert sp.invert(sp.apply(text)) == text


def test_text_examples(he_sp):
    sp = he_sp
    text = "שָׁלוֹם, עולם! abc המלכים123 \u5000 \ue000 ספר."
    out = sp.apply(text)
    assert sp.invert(out) == text
    assert ", " in out and "abc " in out and "123 \u5000 " in out and out.endswith(".")   # passes through
    assert sp.esc + "\ue000" in out                                         # reserved input escaped
    assert not re.search("[\u05d0-\u05ea]", out)                           # every letter run transformed
    assert "\u05b8" in out and "\u05c1" in out                             # diacritics kept (after a MARK)
    assert sp.apply("ספר") == "".join(sp.symbol[c] for c in "ספר")
    long_word = "ב" + "\u05b0".join("ל" * 100)                             # marks after letter 64+: MARKX
    assert sp.markx in sp.apply(long_word) and sp.invert(sp.apply(long_word)) == long_word


def test_reserved_error_option(he_sp):
    sp = ref_splinter(0, on_reserved="error")
    outside = chr(sp.reserved[1] + 1)
    assert sp.invert(sp.apply("שלום " + outside)) == "שלום " + outside
    bad = chr(sp.reserved[0] + 3)
    with pytest.raises(NewbpeError, match="reserved for SPLINTER"):
        sp.apply("שלום " + bad)


def test_strip_diacritics_is_reference_lossy():
    sp = ref_splinter(0, diacritics="strip")
    text = "שָׁלוֹם עוֹלָם ְx"
    assert sp.invert(sp.apply(text)) == "שלום עולם ְx"                  # marks after a letter are dropped


def test_reference_segmentation_nonletter_branch():
    sp = ref_splinter(0, segmentation="reference")
    out = sp.apply("1שלום ab\u05e9\u05dd1 שלום")
    # a word with a non-letter is not reduced: its letters map one by one (after the final swap)
    assert out.startswith("1" + "".join(sp.symbol[c] for c in "שלומ") + " ab" + sp.symbol["ש"] + sp.symbol["ם"] + "1 ")
    assert sp.invert(out) == "1שלום abשם1 שלום"


def test_symbols_private_use_stable_and_ordered(he_sp):
    sp2 = ref_splinter(0)
    assert sp2.symbol == he_sp.symbol                                       # §10.5 stable
    assert sorted(he_sp.symbol) == he_sp.keys
    cps = [ord(c) for c in he_sp.symbol.values()]
    assert cps == list(range(0xE000, 0xE000 + len(cps))) and 0x5000 not in cps
    with pytest.raises(NewbpeError, match="private-use"):
        ref_splinter(0, base=0x5000)
    sp3 = ref_splinter(0, base=0xF0000)
    assert sp3.invert(sp3.apply("שלום \ue000")) == "שלום \ue000"


def test_save_load_identical(tmp_path, he_sp):
    """§10.7: maps saved to JSON and loaded back are identical (integer length keys restored)."""
    p = he_sp.save(tmp_path / "s.json")
    sp = Splinter.load(p)
    assert sp.map == he_sp.map and all(isinstance(n, int) for n in sp.map)
    assert [list(m.items()) for m in sp.map.values()] == [list(m.items()) for m in he_sp.map.values()]
    assert sp.to_dict() == he_sp.to_dict() and sp.symbol == he_sp.symbol
    bare = tmp_path / "reductions_map.json"                                 # the reference's own file
    bare.write_text(json.dumps(REF["runs"][0]["reductions_map"], ensure_ascii=False), encoding="utf-8")
    assert Splinter.load(bare, lang="he").map == he_sp.map


@pytest.mark.parametrize("mutate,msg", [
    (lambda d: d["reductions_map"]["4"].update({"9:ו": 0.1}), "invalid for length 4"),
    (lambda d: d["reductions_map"]["4"].update({"0:x": 0.1}), "invalid for length 4"),
    (lambda d: d["reductions_map"].update({"4": dict(reversed(list(d["reductions_map"]["4"].items())))}), "sorted"),
    (lambda d: d["reductions_map"].update({"2": {"0:ו": 1.0}}), "bad entry"),
    (lambda d: d["reductions_map"]["5"].pop(next(iter(d["reductions_map"]["5"]))), "sum to 1"),
    (lambda d: d["reductions_map"].pop("1"), "length-1"),
    (lambda d: d["options"].update({"depth": 0}), "depth"),
    (lambda d: d["options"].update({"bogus": 1}), "unknown SPLINTER option"),
    (lambda d: d.update({"lang": "xx"}), "languages"),
    (lambda d: d["symbols"].update({"0:ו": "U+5000"}), "symbol table"),
    (lambda d: d.update({"version": 99}), "version"),
])
def test_strict_map_validation(tmp_path, he_sp, mutate, msg):
    d = json.loads(json.dumps(he_sp.to_dict()))
    mutate(d)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(NewbpeError, match=msg) as e:
        Splinter.load(p)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------------- model
@pytest.fixture(scope="module")
def he_model(tmp_path_factory, he_sp):
    tok = newbpe.train([str(BUNDLED / "he" / "heq_contexts_val_test.txt")], vocab_size=700, splinter=he_sp,
                       special_tokens=["<s>"])
    out = tmp_path_factory.mktemp("spm") / "m"
    tok.save(out)
    return tok, out


def test_model_trains_on_transformed_text(he_model, he_sp):
    tok, out = he_model
    assert tok.info()["splinter"]["lang"] == "he"
    pua = [t for t in tok.vocab.values() if re.search("[\ue000-\uf8ff]", t.decode("utf-8", "ignore"))]
    assert len(pua) > 100                                                    # merges over symbols were learned
    assert not (out / "tokenizer.json").exists()                            # not expressible in HF
    text = "המלכים הלכו לבתיהם."
    assert tok.encode(text) == newbpe.train([str(BUNDLED / "he" / "heq_contexts_val_test.txt")], vocab_size=700,
                                            splinter=he_sp, special_tokens=["<s>"]).encode(text)


def test_splinter_counting_is_the_same_in_workers_and_in_process(he_sp, tmp_path):
    """Files are transformed in the counting worker processes; the table equals transforming the
    text in this process first, for any thread count."""
    files = [str(BUNDLED / "he" / f) for f in ("heq_contexts_val_test.txt", "ud_he_iahltwiki_dev.txt")]
    lines = [line for f in files for line in open(f, encoding="utf-8").read().splitlines(keepends=True)]
    reference = newbpe.count([he_sp.apply(line) for line in lines]).table
    assert reference == newbpe.count(lines, transform=he_sp).table
    for threads in (1, 2):
        assert newbpe.count(files, threads=threads, transform=he_sp).table == reference
    one = newbpe.train(files, vocab_size=600, splinter=he_sp, threads=1)
    two = newbpe.train(files, vocab_size=600, splinter=he_sp, threads=2)
    one.save(tmp_path / "a")
    two.save(tmp_path / "b")
    assert (tmp_path / "a" / "model.json").read_bytes() == (tmp_path / "b" / "model.json").read_bytes()


@settings(max_examples=150)
@given(text=st.one_of(st.text(), HEBREW_MIX.map(lambda t: "".join(c for c in t if not 0xD800 <= ord(c) <= 0xDFFF))))
def test_model_roundtrip(he_model, text):
    """§10.8: transform + tokenizer round-trips losslessly through save/load (byte units: no UNK).
    (Lone surrogates are not valid text for any byte-level model; the transform itself keeps them.)"""
    tok, out = he_model
    loaded = newbpe.load(out)
    ids = tok.encode(text)
    assert loaded.encode(text) == ids
    assert tok.decode(ids) == text and loaded.decode(ids) == text
    assert tok.decode_bytes(tok.encode_bytes(text.encode("utf-8", "surrogatepass"))) == text.encode("utf-8", "surrogatepass")


def test_model_specials_and_batch(he_model):
    tok, _ = he_model
    text = "שלום<s>עולם"
    ids = tok.encode(text, allowed_special="all")
    assert tok.special_tokens.index("<s>") in ids and tok.decode(ids) == text
    assert tok.encode_batch(["שלום", "עולם"]) == [tok.encode("שלום"), tok.encode("עולם")]


def test_model_json_splinter_validated(he_model, tmp_path):
    _, out = he_model
    d = json.loads((out / "model.json").read_text(encoding="utf-8"))
    d["pipeline"]["transforms"][0]["map"]["reductions_map"]["4"]["0:ו"] = 2.0
    (tmp_path / "model.json").write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelFileError, match="transform"):
        newbpe.load(tmp_path)


def test_train_splinter_bad_sources(he_sp):
    counts = newbpe.count([str(BUNDLED / "he" / "ud_he_iahltwiki_dev.txt")])
    with pytest.raises(NewbpeError, match="needs text"):
        newbpe.train(counts, vocab_size=600, splinter="he")
    with pytest.raises(NewbpeError, match="reads it twice"):
        newbpe.train(iter(["שלום עולם"] * 10), vocab_size=600, splinter="he")
    with pytest.raises(NewbpeError, match="not found"):
        newbpe.train("missing-file.txt", vocab_size=600, splinter="he")
    with pytest.raises(NewbpeError, match="splinter must be"):
        newbpe.train(["שלום"], vocab_size=600, splinter=3)
    tok = newbpe.train(["שלום עולם המלכים"] * 20, vocab_size=300, splinter=he_sp)   # a list of str is text
    assert tok.decode(tok.encode("המלכים!")) == "המלכים!"


def test_hf_export_inner_only(he_model, tmp_path, he_sp):
    tok, out = he_model
    with pytest.raises(NewbpeError, match="SPLINTER models are not expressible"):
        tok.to_hf()
    paths = tok.save_hf(tmp_path / "hf", inner=True)
    assert (tmp_path / "hf" / "splinter.json").exists() and len(paths) == 4
    cfg = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert "inner model" in cfg["newbpe_splinter"]["note"]
    from tokenizers import Tokenizer as HFTokenizer
    hf = HFTokenizer.from_file(str(tmp_path / "hf" / "tokenizer.json"))
    sp = Splinter.load(tmp_path / "hf" / "splinter.json")
    text = (BUNDLED / "he" / "ud_he_iahltwiki_test.txt").read_text(encoding="utf-8")[:5000]
    assert hf.encode(sp.apply(text), add_special_tokens=False).ids == tok.encode(text)


# ---------------------------------------------------------------------------------------------- CLI
HE_FILE = BUNDLED / "he" / "ud_he_iahltwiki_dev.txt"


def test_cli_learn_apply_invert(tmp_path):
    m = tmp_path / "he.json"
    r = run_cli("splinter", "learn", "--lang", "he", "-o", m, BUNDLED / "he" / "heq_contexts_val_test.txt")
    assert r.exit_code == 0 and "symbols" in r.output
    sp = Splinter.load(m)
    text = (BUNDLED / "he" / "heq_contexts_val_test.txt").read_text(encoding="utf-8")
    assert sp.map == Splinter.learn(count_words([text], "he"), "he").map     # CLI counting = library counting
    a = run_cli("splinter", "apply", "--map", m, "-o", tmp_path / "a.txt", BUNDLED / "he" / "heq_contexts_val_test.txt")
    assert a.exit_code == 0 and "MB/s" in a.stderr
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == sp.apply(text)


def test_cli_learn_word_counts_and_roundtrip(tmp_path):
    wc = tmp_path / "wc.tsv"
    wc.write_text("".join(f"{w}\t{c}\n" for w, c in TINY.items()), encoding="utf-8")
    m = tmp_path / "tiny.json"
    r = run_cli("splinter", "learn", "--lang", "he", "--word-counts", wc, "-o", m)
    assert r.exit_code == 0, r.output
    d = json.loads(m.read_text(encoding="utf-8"))
    assert list(d["reductions_map"]["5"]) == ["0:ה"]                        # position:letter keys, as the reference
    text = "הכתבו שָׁלוֹם \ue001 abc\n"
    a = run_cli("splinter", "apply", "--map", m, input=text)
    assert a.exit_code == 0
    inv = run_cli("splinter", "invert", "--map", m, input=a.stdout)
    assert inv.stdout == text


def test_cli_train_splinter_end_to_end(tmp_path):
    out = tmp_path / "m"
    r = run_cli("train", "--vocab-size", 500, "--splinter", "he", "--progress", "none", "-o", out, HE_FILE)
    assert r.exit_code == 0, r.output
    assert (out / "model.json").exists() and not (out / "tokenizer.json").exists()
    text = "המלכים הלכו, לבתיהם 12 abc\n"
    enc = run_cli("encode", "-m", out, input=text)
    dec = run_cli("decode", "-m", out, input=enc.stdout)
    assert dec.exit_code == 0 and dec.stdout == text
    # the model directory works as a map for apply/invert
    a = run_cli("splinter", "apply", "--map", out, "-o", tmp_path / "a.txt", HE_FILE)
    assert a.exit_code == 0
    inv = run_cli("splinter", "invert", "--map", out, tmp_path / "a.txt")
    assert inv.stdout_bytes == HE_FILE.read_bytes()
    # a pre-learned map
    m = tmp_path / "he.json"
    run_cli("splinter", "learn", "--lang", "he", "-o", m, HE_FILE)
    r = run_cli("train", "--vocab-size", 500, "--splinter-map", m, "--progress", "none", "-o", tmp_path / "m2", HE_FILE)
    assert r.exit_code == 0
    assert newbpe.load(tmp_path / "m2").encode(text) == newbpe.load(out).encode(text)
    # export: refuses, or the inner model with --inner
    e = run_cli("export", "-m", out, "-o", tmp_path / "hf")
    assert e.exit_code != 0 and "--inner" in e.output and not (tmp_path / "hf" / "tokenizer.json").exists()
    e = run_cli("export", "-m", out, "--inner", "-o", tmp_path / "hf")
    assert e.exit_code == 0 and (tmp_path / "hf" / "splinter.json").exists()


@pytest.mark.parametrize("args,msg", [
    (["train", "--vocab-size", 500, "--splinter", "he", "--counts", "x.npz", "-o", "{tmp}/o"], "--splinter needs FILES"),
    (["train", "--vocab-size", 500, "--splinter", "xx", "-o", "{tmp}/o", str(HE_FILE)], "Invalid value"),
    (["train", "--vocab-size", 500, "--splinter-map", "{tmp}/nomap.json", "-o", "{tmp}/o", str(HE_FILE)], "not found"),
    (["splinter", "learn", "--lang", "he", "-o", "{tmp}/o"], "exactly one of"),
    (["splinter", "learn", "--lang", "he", "--letters", "xyz", "-o", "{tmp}/o", str(HE_FILE)], "letters must be"),
    (["splinter", "learn", "--lang", "he", "--word-counts", str(HE_FILE), "-o", "{tmp}/o"], "word<TAB>count"),
    (["splinter", "apply", "--map", "{tmp}/bad.json", "-o", "{tmp}/o", str(HE_FILE)], "corrupt SPLINTER map"),
    (["splinter", "apply", "--map", "{tmp}/strict.json", "-o", "{tmp}/o", "{tmp}/reserved.txt"], "reserved"),
    (["splinter", "invert", "--map", "{tmp}/strict.json", "-o", "{tmp}/o", "{tmp}/missing.txt"], "not found"),
])
def test_cli_bad_input(tmp_path, args, msg):
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    ref_splinter(0, on_reserved="error").save(tmp_path / "strict.json")
    (tmp_path / "reserved.txt").write_text("שלום \ue003\n", encoding="utf-8")
    r = run_cli(*[a.replace("{tmp}", str(tmp_path)) if isinstance(a, str) else a for a in args])
    assert r.exit_code != 0
    assert msg in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_help_stays_light():
    import subprocess
    code = ("import sys, newbpe.cli; "
            "print(any(m.startswith(('numba', 'numpy', 'wordfreq', 'newbpe.preprocessors')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=BUNDLED.parent)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------- shared corpora
@pytest.mark.slow
def test_shared_corpora_roundtrip():
    """Every shared Hebrew and Arabic file round-trips exactly (vocalized Tanakh and Quran included)."""
    for lang, names in [("he", ["tanakh_wlc_vocalized.txt", "heq_contexts_val_test.txt"]),
                        ("ar", ["quran_uthmani_diacritized.txt", "hadith_darimi_diacritized.txt"])]:
        sp = ref_splinter(0 if lang == "he" else 2)
        for name in names:
            text = shared(f"{lang}/{name}").read_text(encoding="utf-8")
            assert sp.invert(sp.apply(text)) == text


def test_splinter_under_other_trainers_and_encoders(he_sp):
    """SPLINTER is a pipeline stage of any trainer/encoder: Picky BPE and the LBPE encoder round-trip too."""
    texts = (BUNDLED / "he" / "ud_he_iahltwiki_dev.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    held = "המלכים הלכו, לבתיהם 12 abc \ue000\n"
    for kw in ({"algo": "picky"}, {"algo": "bpe", "encoder": "lbpe"}):
        tok = newbpe.train(texts, vocab_size=500, splinter=he_sp, **kw)
        assert tok.decode(tok.encode(held)) == held
