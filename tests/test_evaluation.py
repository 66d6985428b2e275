"""newbpe.evaluation: every metric against hand-computed values, the entropies against
tokenization-scorer, MorphScore against a naive re-implementation of the reference, parity on the
PUD pair, and one-line errors for bad input."""
import base64
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe.errors import NewbpeError
from newbpe.evaluation import run_eval
from newbpe.evaluation.metrics import gini, parity
from newbpe.evaluation.tokenizers import load_adapter

from conftest import BUNDLED, shared

TEXTS = ["the cat", "unbelievable cat", "café"]
WORDPIECE_VOCAB = ["[UNK]", "the", "cat", "un", "##believ", "##able", "café", "rec", "##at", "##s"]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_bpe(tmp_path_factory):
    """A small byte-level BPE trained in the test (Shakespeare's first 60 kB)."""
    text = (BUNDLED / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:60000]
    tok = newbpe.train([text], vocab_size=400, threads=1)
    out = tmp_path_factory.mktemp("bpe") / "model"
    tok.save(out)
    return out


def wordpiece_json(tmp_path):
    """A hand-made HF WordPiece tokenizer.json (Whitespace pre-tokenizer)."""
    d = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
         "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                   "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(WORDPIECE_VOCAB)}}}
    d_path = tmp_path / "wp"
    d_path.mkdir()
    return write(d_path / "tokenizer.json", json.dumps(d))


def wordlevel_json(tmp_path, vocab):
    d = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
         "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None, "decoder": None,
         "model": {"type": "WordLevel", "unk_token": "[UNK]", "vocab": {t: i for i, t in enumerate(vocab)}}}
    return write(tmp_path / "wordlevel.json", json.dumps(d))


def tiktoken_file(tmp_path, extra):
    ranks = [bytes([b]) for b in range(256)] + extra
    return write(tmp_path / "tiny.tiktoken",
                 "".join(f"{base64.b64encode(t).decode()} {r}\n" for r, t in enumerate(ranks)))


def only_row(result):
    assert len(result.rows) == 1
    return result.rows[0]


# ------------------------------------------------------------------ metrics by hand
def test_metrics_by_hand_wordpiece(tmp_path):
    """TEXTS under the WordPiece vocabulary: the | cat / un ##believ ##able | cat / café."""
    corpus = write(tmp_path / "c.txt", "\n".join(TEXTS) + "\n")
    wp = wordpiece_json(tmp_path)
    r = run_eval([(wp, "wp")], [(corpus, "en")], samples=3)
    row = only_row(r)
    n, b, c, w, p = 7, 7 + 16 + 5, 7 + 16 + 4, 5, 5          # tokens, bytes, chars, words, GPT-2 pre-tokens
    probs = [2 / 7] + [1 / 7] * 5                               # cat twice, five types once
    h1 = -sum(q * math.log2(q) for q in probs)
    h25 = math.log2(sum(q ** 2.5 for q in probs)) / (1 - 2.5)
    expected = {"tokens": n, "types": 6, "bytes_per_token": b / n, "chars_per_token": c / n,
                "fertility": n / w, "fertility_pretoken": n / p, "split_words": 1 / 5,
                "shannon_entropy": h1, "shannon_efficiency": h1 / math.log2(6),
                "shannon_efficiency_vocab": h1 / math.log2(10), "renyi_entropy": h25,
                "renyi_efficiency": h25 / math.log2(6), "renyi_efficiency_vocab": h25 / math.log2(10),
                "vocab_utilisation": 6 / 10, "type_token_ratio": 6 / 7,
                "mean_token_bytes": (3 + 3 + 2 + 6 + 4 + 3 + 5) / 7, "mean_token_chars": (3 + 3 + 2 + 6 + 4 + 3 + 4) / 7,
                "inner_space_share": 0.0}
    for k, v in expected.items():
        assert row[k] == pytest.approx(v, rel=1e-12), k
    assert r.corpora == [{"label": "c.txt", "path": str(corpus), "language": "en", "bytes": b, "chars": c,
                          "words": w, "lines": 3}]
    assert r.histograms["wp"] == {"token_length": {2: 1, 3: 3, 4: 1, 5: 1, 6: 1}, "tokens_per_word": {1: 4, 3: 1}}
    assert r.totals[0]["gini"] is None and r.totals[0]["tokens"] == n
    assert r.tokenizers == [{"label": "wp", "source": str(wp), "kind": "hf", "vocab_size": 10}]


def test_samples_cut_at_tokens_and_concatenate(tmp_path, tiny_bpe):
    corpus = write(tmp_path / "c.txt", "short\nunbelievable cat sat on the mat\ncafé au lait, s'il vous plaît!\n")
    r = run_eval([(tiny_bpe, "bpe"), (wordpiece_json(tmp_path), "wp")], [(corpus, None)], samples=5)
    assert [s["text"] for s in r.samples] == ["unbelievable cat sat on the mat", "café au lait, s'il vous plaît!"]
    assert r.samples[0]["segments"]["wp"] == ["un", "believ", "able", " cat", " sat", " on", " the", " mat"]
    tok = newbpe.load(tiny_bpe)
    for s in r.samples:
        for label, pieces in s["segments"].items():
            assert "".join(pieces) == s["text"], label
        ids = tok.encode(s["text"])
        expected = [tok.decode_bytes([i]) for i in ids]
        assert [x.encode() for x in s["segments"]["bpe"]] == _merge_partial(expected)


def _merge_partial(pieces):
    """Token byte strings joined where a token ends inside a UTF-8 character (samples cut at characters)."""
    out, pending = [], b""
    for p in pieces:
        pending += p
        try:
            pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(pending)
        pending = b""
    return out + ([pending] if pending else [])


def test_wordlevel_inner_space_and_gini(tmp_path):
    """WordLevel: one token per whitespace word; two languages with known token costs."""
    en = write(tmp_path / "en.txt", "a b\nc\n")                 # 3 tokens, 2 non-empty lines → 1.5
    xx = write(tmp_path / "xx.txt", "a b c d e f\n\n")          # 6 tokens, 1 non-empty line → 6
    r = run_eval([(wordlevel_json(tmp_path, ["[UNK]", "a", "b", "c"]), None)], [(en, "en"), (xx, "xx")])
    assert r.tokenizers[0]["label"] == "wordlevel.json" and r.tokenizers[0]["kind"] == "hf"
    costs = [1.5, 6.0]
    assert r.totals[0]["gini"] == pytest.approx(sum(abs(a - b) for a in costs for b in costs) / (2 * 4 * 3.75))
    assert r.rows[1]["tokens"] == 6 and r.rows[1]["types"] == 4       # d e f are [UNK]
    assert r.rows[1]["split_words"] == 0 and r.rows[1]["fertility"] == 1


def test_gini_and_parity_formulas():
    assert gini([1, 3]) == pytest.approx(0.25)
    assert gini([2, 2, 2]) == 0 and gini([5]) is None
    premium, share = parity([10, 10, 0, 4], [11, 20, 0, 5])
    assert premium == pytest.approx(36 / 24)
    assert share == pytest.approx(2 / 4)                          # 11/10 within ±10 %, 0/0 parity; 2.0, 1.25 not


def test_tiktoken_pattern_and_inner_space(tmp_path):
    path = tiktoken_file(tmp_path, [b"th", b"the", b" c", b"at", b" cat", b"the cat"])
    corpus = write(tmp_path / "c.txt", "the cat\n")
    default = only_row(run_eval([(path, None)], [(corpus, None)]))     # gpt2 pattern: "the", " cat"
    assert default["tokens"] == 2 and default["inner_space_share"] == 0
    whole = only_row(run_eval([(path, None)], [(corpus, None)], tiktoken_pattern=r"[^\n]+"))
    assert whole["tokens"] == 1 and whole["inner_space_share"] == 1 and whole["mean_token_bytes"] == 7
    assert whole["split_words"] == 0 and whole["fertility"] == 0.5


def test_byte_fallback_pieces_do_not_break_spans(tmp_path):
    """An HF BPE with byte fallback: 'é' becomes two byte tokens sharing one character's offsets."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    vocab = {"<0xC3>": 0, "<0xA9>": 1, "a": 2, "b": 3}
    hf = Tokenizer(models.BPE(vocab=vocab, merges=[], byte_fallback=True))
    hf.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf.save(str(tmp_path / "bf.json"))
    corpus = write(tmp_path / "c.txt", "aéb ab\n")
    r = run_eval([(tmp_path / "bf.json", "bf")], [(corpus, None)], samples=1, progress=None)
    row = only_row(r)
    assert row["tokens"] == 6 and row["mean_token_bytes"] == pytest.approx(6 / 5)   # 5 tokens with a span
    assert r.samples == [] or "".join(r.samples[0]["segments"]["bf"]) == "aéb ab"
    enc = load_adapter(tmp_path / "bf.json").encode(["aéb"], np.array([0, 4]))
    assert enc.starts.tolist() == [0, 1, 3, 3] and enc.ends.tolist() == [1, 3, 3, 4]


# ------------------------------------------------------------------ against tokenization-scorer
def test_entropies_equal_tokenization_scorer(tmp_path, tiny_bpe):
    ts = pytest.importorskip("tokenization_scorer", reason="tokenization-scorer not installed (test extra, Python ≥ 3.11)")
    text = (BUNDLED / "en" / "ud_en_pud_test.txt").read_text(encoding="utf-8").splitlines()[:200]
    corpus = write(tmp_path / "c.txt", "\n".join(text) + "\n")
    tok = newbpe.load(tiny_bpe)
    row = only_row(run_eval([(tiny_bpe, None)], [(corpus, None)], alpha=2.5))
    stream = "\n".join(" ".join(f"t{i}" for i in tok.encode(line)) for line in text)
    v = tok.vocab_size
    assert row["renyi_entropy"] == pytest.approx(ts.score(stream, metric="renyi_entropy", power=2.5), rel=1e-9)
    assert row["renyi_efficiency"] == pytest.approx(ts.score(stream, metric="renyi", power=2.5), rel=1e-9)
    assert row["renyi_efficiency_vocab"] == pytest.approx(ts.score(stream, metric="renyi", power=2.5, vocab=v), rel=1e-9)
    assert row["shannon_entropy"] == pytest.approx(ts.score(stream, metric="shannon_entropy"), rel=1e-9)
    assert row["shannon_efficiency"] == pytest.approx(ts.score(stream, metric="shannon_efficiency"), rel=1e-9)
    assert row["shannon_efficiency_vocab"] == pytest.approx(ts.score(stream, metric="shannon_efficiency", vocab=v),
                                                            rel=1e-9)


def test_old_metrics_module_uses_the_same_renyi(tiny_bpe):
    from newbpe.metrics import renyi_efficiency
    from newbpe.evaluation.metrics import efficiency, renyi_entropy
    counts = {3: 5, 1: 2, 7: 1}
    assert renyi_efficiency(counts, 400, 2.5) == efficiency(renyi_entropy([2, 5, 1], 2.5), 400)
    p = np.array([2, 5, 1]) / 8
    assert renyi_efficiency(counts, 400, 2.5) == pytest.approx(math.log(np.sum(p ** 2.5)) / -1.5 / math.log(400))


# ------------------------------------------------------------------ MorphScore and segmentation
def naive_morphscore(tok, rows):
    """The reference's morph_eval (catherinearnett/morphscore morphscore.py) on decoded token bytes."""
    points = []
    for word, pt1, rest in rows:
        tokens = [tok.decode_bytes([i]) for i in tok.encode(word)]
        if len(tokens) == 1:
            continue                                            # point 0: excluded
        hits = sum([b"".join(tokens[:t + 1]), b"".join(tokens[t + 1:])] == [pt1.encode(), rest.encode()]
                   for t in range(len(tokens) - 1))
        points.append(1 if hits == 1 else 0)
    return (sum(points) / len(points) if points else 0.0), len(points), len(rows) - len(points)


def write_morphscore(path, rows):
    import csv
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["lang", "full_word", "pt1", "rest"])
        w.writerows([["x", word, pt1, rest] for word, pt1, rest in rows])
    return path


word_splits = st.text(alphabet="abcdefghilmnorstuéü", min_size=2, max_size=10).flatmap(
    lambda w: st.integers(1, len(w) - 1).map(lambda k: (w, w[:k], w[k:])))


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(word_splits, min_size=1, max_size=30))
def test_morphscore_equals_naive_reference(tmp_path_factory, tiny_bpe, rows):
    path = write_morphscore(tmp_path_factory.mktemp("ms") / "m.csv", rows)
    r = run_eval([(tiny_bpe, "bpe")], [], morphscore=[path])
    entry = r.morphology[0]
    score, n, excluded = naive_morphscore(newbpe.load(tiny_bpe), rows)
    assert (entry["score"], entry["n"], entry["excluded"]) == (pytest.approx(score), n, excluded)
    assert entry["kind"] == "morphscore" and entry["n_space"] + entry["excluded_space"] == len(rows)


def test_morphscore_space_form_and_segmentation_by_hand(tmp_path):
    wp = wordpiece_json(tmp_path)
    ms = write_morphscore(tmp_path / "m.csv", [("unbelievable", "un", "believable"), ("cats", "cat", "s"),
                                               ("the", "th", "e"), ("recat", "re", "cat")])
    seg = write(tmp_path / "eng.surface.tsv", "unbelievable\tun believ able\t110\ncats\tcat s\t100\n"
                "the\tthe\t000\nrecat\tre cat\t100\nmouth harpist\tmouth harp ist\t100\n")
    r = run_eval([(wp, "wp")], [], morphscore=[ms], segmentation=[seg])
    m, s = r.morphology
    # un|believ|able (boundary at 2: hit), cat|s (3: hit), the (one token: excluded), rec|at (3 ≠ 2: miss)
    assert (m["score"], m["n"], m["excluded"]) == (pytest.approx(2 / 3), 3, 1)
    assert (m["score_space"], m["n_space"], m["excluded_space"]) == (pytest.approx(2 / 3), 3, 1)
    # gold {2, 8}, {3}, {}, {2}; predicted {2, 8}, {3}, {}, {3}: 3 of 4 either way
    assert (s["precision"], s["recall"], s["f1"], s["n"], s["excluded"]) == (0.75, 0.75, 0.75, 4, 1)
    assert s["kind"] == "segmentation"


def test_segmentation_on_sigmorphon_surface_file(tiny_bpe):
    path = shared("morph/sigmorphon2022/eng.word.dev.surface.tsv")
    entry = run_eval([(tiny_bpe, None)], [], segmentation=[path]).morphology[0]
    assert entry["n"] > 40000 and 0 < entry["precision"] < 1 and 0 < entry["recall"] < 1
    assert entry["f1"] == pytest.approx(2 * entry["precision"] * entry["recall"] / (entry["precision"] + entry["recall"]))


# ------------------------------------------------------------------ parity
def test_parity_on_pud_pair(tiny_bpe):
    en, ar = shared("en/ud_en_pud_test.txt"), shared("ar/ud_ar_pud_test.txt")
    r = run_eval([(tiny_bpe, "bpe")], [(en, "en"), (ar, "ar")], parallel=[(en, ar)])
    tok = newbpe.load(tiny_bpe)
    n_en = [len(tok.encode(x)) for x in en.read_text(encoding="utf-8").splitlines()]
    n_ar = [len(tok.encode(x)) for x in ar.read_text(encoding="utf-8").splitlines()]
    p = r.parity[0]
    assert p["lines"] == 1000 and p["premium"] == pytest.approx(sum(n_ar) / sum(n_en))
    assert p["premium"] > 2                      # an English byte-level BPE spends far more tokens on Arabic
    share = sum(1 / 1.1 <= a / e <= 1.1 for e, a in zip(n_en, n_ar)) / 1000
    assert p["parity_share"] == pytest.approx(share)
    assert r.totals[0]["gini"] == pytest.approx(gini([sum(n_en) / 1000, sum(n_ar) / 1000]))


# ------------------------------------------------------------------ streaming, determinism, curves, kinds
def test_batches_and_threads_do_not_change_results(tmp_path, tiny_bpe, monkeypatch):
    from newbpe.evaluation import run as run_module
    text = (BUNDLED / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:40000]
    corpus = write(tmp_path / "c.txt", text)
    kw = dict(samples=2, curve_merges=3)
    tokenizers = [(tiny_bpe, "x"), (wordpiece_json(tmp_path), "wp")]
    a = run_eval(tokenizers, [(corpus, "en")], threads=1, **kw).to_dict()
    monkeypatch.setattr(run_module, "BATCH_BYTES", 300)
    b = run_eval(tokenizers, [(corpus, "en")], threads=2, **kw).to_dict()
    assert json.dumps(a) == json.dumps(b)
    assert [p["merges"] for p in a["curves"]["x"]] == [48, 96, 144] and "wp" not in a["curves"]
    bpt = [p["bytes_per_token"] for p in a["curves"]["x"]]
    assert bpt == sorted(bpt) and bpt[-1] == pytest.approx(a["rows"][0]["bytes_per_token"])


def test_progress_reports_eval_bytes(tmp_path, tiny_bpe):
    corpus = write(tmp_path / "c.txt", "hello world\n" * 50)
    seen = []
    run_eval([(tiny_bpe, None), (tiny_bpe, None)], [(corpus, None)], progress=lambda *a: seen.append(a))
    assert seen[-1] == ("eval", 2 * 600, 2 * 600) and {s for s, _, _ in seen} == {"eval"}


def test_sentencepiece_model_spans(tmp_path):
    spm = pytest.importorskip("sentencepiece", reason="sentencepiece not installed")
    text = (BUNDLED / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:50000]
    write(tmp_path / "train.txt", text)
    spm.SentencePieceTrainer.train(input=str(tmp_path / "train.txt"), model_prefix=str(tmp_path / "sp"),
                                   vocab_size=400, num_threads=1, minloglevel=2, byte_fallback=True)
    corpus = write(tmp_path / "c.txt", "First Citizen: café ünd Ωmega\nwhat say you\n")
    r = run_eval([(tmp_path / "sp.model", "sp")], [(corpus, None)], samples=2)
    row = only_row(r)
    assert r.tokenizers[0]["kind"] == "sentencepiece" and r.tokenizers[0]["vocab_size"] == 400
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "sp.model"))
    assert row["tokens"] == sum(len(sp.encode(x)) for x in ["First Citizen: café ünd Ωmega", "what say you"])
    for s in r.samples:
        assert "".join(s["segments"]["sp"]) == s["text"]


# ------------------------------------------------------------------ bad input: one line naming the file
def one_line(excinfo, name):
    msg = str(excinfo.value)
    assert "\n" not in msg and str(name) in msg, msg
    return msg


def test_bad_inputs_are_one_line_errors(tmp_path, tiny_bpe):
    good = write(tmp_path / "good.txt", "some text\n")
    with pytest.raises(NewbpeError) as e:
        run_eval([(tmp_path / "missing_model", None)], [(good, None)])
    one_line(e, tmp_path / "missing_model")
    (tmp_path / "junk").mkdir()
    junk = write(tmp_path / "junk" / "tokenizer.json", "{not json")
    with pytest.raises(NewbpeError) as e:
        run_eval([(junk, None)], [(good, None)])
    one_line(e, junk)
    tt = write(tmp_path / "bad.tiktoken", "not base64 at all\n")
    sp = write(tmp_path / "bad.model", "not a sentencepiece model")
    (tmp_path / "empty_dir").mkdir()
    for bad in (tt, sp, tmp_path / "empty_dir"):
        with pytest.raises(NewbpeError) as e:
            run_eval([(tiny_bpe, None), (bad, None)], [(good, None)])
        one_line(e, bad)
    empty = write(tmp_path / "empty.txt", "\n  \n")
    with pytest.raises(NewbpeError) as e:
        run_eval([(tiny_bpe, None)], [(empty, None)])
    assert "empty corpus" in one_line(e, empty)
    a, b = write(tmp_path / "a.txt", "x\ny\n"), write(tmp_path / "b.txt", "x\ny\nz\n")
    with pytest.raises(NewbpeError) as e:
        run_eval([(tiny_bpe, None)], [], parallel=[(a, b)])
    assert "line counts differ" in one_line(e, a) and str(b) in str(e.value)
    csv_bad = write(tmp_path / "m.csv", "word,pt1\nwalked,walk\n")
    with pytest.raises(NewbpeError) as e:
        run_eval([(tiny_bpe, None)], [], morphscore=[csv_bad])
    assert "full_word" in one_line(e, csv_bad) and "rest" in str(e.value)
    canonical = write(tmp_path / "eng.tsv", "happily\thappy @@ly\t100\n")
    with pytest.raises(NewbpeError) as e:
        run_eval([(tiny_bpe, None)], [], segmentation=[canonical])
    assert "surface" in one_line(e, canonical)
    with pytest.raises(NewbpeError) as e:
        run_eval([tiny_bpe], [tmp_path / "nope.txt"])                 # bare paths: label/language None
    one_line(e, tmp_path / "nope.txt")
    for bad in (dict(samples=-1), dict(curve_merges=["x"])):
        with pytest.raises(NewbpeError):
            run_eval([tiny_bpe], [good], **bad)


def test_invalid_utf8_in_a_corpus_does_not_crash(tmp_path, tiny_bpe):
    """Invalid bytes reach every kind of tokenizer (as U+FFFD where a Rust library needs valid text)."""
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"the cat \xff\xfe sat\ncaf\xc3 x\n")
    tt = tiktoken_file(tmp_path, [b"th", b"the"])
    r = run_eval([(tiny_bpe, "bpe"), (wordpiece_json(tmp_path), "wp"), (tt, "tt")], [(corpus, None)], samples=0)
    assert [c["bytes"] for c in r.corpora] == [len(b"the cat \xff\xfe sat") + len(b"caf\xc3 x")]
    wp = r.rows[1]
    # Whitespace pre-tokenizer: the | cat | \xff\xfe ([UNK]) | sat ([UNK]) / caf ([UNK]) | \xc3 ([UNK]) | x ([UNK])
    assert wp["tokens"] == 7 and wp["split_words"] == pytest.approx(1 / 6)       # "caf\xc3" is split
    assert wp["mean_token_bytes"] == pytest.approx((3 + 3 + 2 + 3 + 3 + 1 + 1) / 7)
    for row in r.rows:
        assert row["tokens"] > 0 and 0 <= row["mean_token_bytes"] <= 19


@pytest.mark.parametrize("long_line", [False, True])
def test_newbpe_lines_at_once_equal_the_stream(tiny_bpe, long_line):
    """Tokenizer.encode_flat's one-call path for short lines (and its streamed path when a line is
    over cuts.PART_SIZE) gives iter_encoded's ids, line by line."""
    from newbpe.cuts import PART_SIZE
    tok = newbpe.load(tiny_bpe)
    lines = (BUNDLED / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8").splitlines()[:3000]
    lines += ["", "  two  spaces ", "café ünd Ωmega \udcff", "tabs\tand\u00a0nbsp"]
    if long_line:
        lines.append("word " * (PART_SIZE // 5 + 10))
    ids, bounds = tok.encode_flat(lines, threads=2)
    expected = [i for _, arr, _ in tok.iter_encoded(lines, threads=1) for i in arr.tolist()]
    assert ids.tolist() == expected
    assert [len(tok.encode_ordinary(t)) for t in lines] == np.diff(bounds).tolist()


def test_memory_does_not_grow_with_the_corpus(tmp_path, tiny_bpe, monkeypatch):
    """Counts, not token lists: the traced peak on 4x the text stays that of 1x (one batch's arrays;
    batches of 64 kB, so keeping the 1.1 MB text's ~500k ids as int64 would show as +4 MB)."""
    import tracemalloc
    from newbpe.evaluation import run as run_module
    monkeypatch.setattr(run_module, "BATCH_BYTES", 1 << 16)
    text = (BUNDLED / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    small, large = write(tmp_path / "x1.txt", text), write(tmp_path / "x4.txt", text * 4)
    run_eval([(tiny_bpe, None)], [(small, None)], samples=0)          # compile and import outside the trace
    peaks = []
    for corpus in (small, large):
        tracemalloc.start()
        try:
            run_eval([(tiny_bpe, None)], [(corpus, None)], samples=0)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0] and peaks[0] < 40e6, peaks


def test_hf_unigram_metaspace_offsets_become_byte_spans(tmp_path):
    """An HF Unigram model with Metaspace: HF's character offsets → byte spans ('é' is 2 bytes)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    vocab = [("<unk>", 0.0), ("▁the", -1.0), ("▁c", -2.0), ("at", -2.0), ("▁cat", -1.5), ("▁", -3.0),
             ("a", -4.0), ("t", -4.0), ("c", -4.0), ("é", -4.0)]
    hf = Tokenizer(models.Unigram(vocab, unk_id=0))
    hf.pre_tokenizer = pre_tokenizers.Metaspace()
    hf.save(str(tmp_path / "uni.json"))
    text = "the cat écat"                                 # ▁the ▁cat ▁ é c at
    enc = load_adapter(tmp_path / "uni.json").encode([text], np.array([0, len(text.encode())]))
    assert list(zip(enc.starts.tolist(), enc.ends.tolist())) == [(0, 3), (3, 7), (7, 8), (8, 10), (10, 11), (11, 13)]
    corpus = write(tmp_path / "c.txt", text + " and more words\n")
    r = run_eval([(tmp_path / "uni.json", "uni")], [(corpus, None)], samples=1)
    assert r.samples[0]["segments"]["uni"][:6] == ["the", " cat", " ", "é", "c", "at"]
    ids = hf.encode(text + " and more words", add_special_tokens=False).ids
    assert r.rows[0]["tokens"] == len(ids) and r.rows[0]["vocab_utilisation"] == pytest.approx(len(set(ids)) / 10)


@settings(max_examples=30, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.sampled_from(list("ab cé\tΩ😀x\udcff,.")), max_size=20), min_size=1, max_size=8))
def test_spans_stay_inside_their_text_for_every_kind(tmp_path_factory, tiny_bpe, texts):
    """Whatever the text (multi-byte characters, emoji, invalid bytes, empty lines), every adapter's
    spans are non-decreasing, non-overlapping and inside their own text."""
    tmp = tmp_path_factory.mktemp("spans")
    sources = [tiny_bpe, wordpiece_json(tmp), tiktoken_file(tmp, [b"ab", b" c"])]
    data = [t.encode("utf-8", "surrogateescape") for t in texts]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in data])]).astype(np.int64)
    for source in sources:
        enc = load_adapter(source).encode(texts, offsets)
        assert len(enc.token_bounds) == len(texts) + 1 and enc.token_bounds[-1] == len(enc.ids)
        assert np.all(enc.starts <= enc.ends) and np.all(enc.ends[:-1] <= enc.starts[1:])
        for k in range(len(texts)):
            sl = slice(enc.token_bounds[k], enc.token_bounds[k + 1])
            assert np.all(enc.starts[sl] >= offsets[k]) and np.all(enc.ends[sl] <= offsets[k + 1]), source
