"""ByteSpan (specs bytespan.md): the n-gram LM, spans, vocabulary, encoder, export; one test per
acceptance invariant of §11 and per fixed reference bug of §10 where testable."""
import json
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe.errors import NewbpeError

TEXT_SEED = 1234


def small_corpus(n=600):
    rng = random.Random(TEXT_SEED)
    words = ("the cat sat on mat while dogs ran over hills and the ## heading of "
             "information spans predict bytes unlikely entropy surprisal tokenizer").split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + rng.choice([".", "!", "", " ###"])
            for _ in range(n)]


@pytest.fixture(scope="module")
def corpus():
    return small_corpus()


@pytest.fixture(scope="module")
def tok(corpus):
    return newbpe.train(corpus, "bytespan", 900, special_tokens=["<pad>"])


# ------------------------------------------------------------------ §3 the n-gram LM (invariant 9)
def test_ngram_distribution_sums_to_one_and_entropy_matches():
    from newbpe.trainers.bytespan.lm import NgramLM
    lm = NgramLM(order=5).fit([d.encode() for d in small_corpus(80)] + [bytes(range(256))])
    rng = random.Random(1)
    histories = [b"", b"the", b"the c", b"zzzz", b"\xff\x00", b"hills and t"]
    histories += [bytes(rng.randrange(256) for _ in range(rng.randint(0, 6))) for _ in range(30)]
    for h in histories:
        p, ent = lm.distribution(h)
        assert abs(p.sum() - 1) < 1e-9
        assert (p > 0).all()
        assert ent >= 0
        assert abs(ent - float(-(p * np.log(p)).sum())) < 1e-9


def test_ngram_signals_match_the_dense_distribution():
    from newbpe.trainers.bytespan.lm import NgramLM
    docs = [d.encode() for d in small_corpus(60)]
    lm = NgramLM(order=3, discount=0.5).fit(docs)
    doc = docs[3] + b" unseen\xc3\xa9"
    ent, sur = lm.signals(doc)
    for j in range(len(doc)):
        p, h = lm.distribution(doc[max(0, j - 2):j])
        assert abs(ent[j] - h) < 1e-9
        assert abs(sur[j] + np.log(p[doc[j]])) < 1e-9


def test_ngram_probability_by_hand():
    """Order 2 on 'ab': p(b | a) = max(1 - D, 0)/1 + D*1/1 * p_1(b), p_1(b) = max(1-D,0)/3 + D*3/3/257."""
    from newbpe.trainers.bytespan.lm import NgramLM
    D = 0.75
    lm = NgramLM(order=2, discount=D).fit([b"ab"])
    p1_b = (1 - D) / 3 + D * 3 / 3 / 257
    p, _ = lm.distribution(b"a")
    assert abs(p[ord("b")] - ((1 - D) + D * p1_b)) < 1e-12
    p0, _ = lm.distribution(b"")
    assert abs(p0[256] - ((1 - D) / 3 + D / 257)) < 1e-12       # end of document is an outcome


def test_crossfit_differs_from_same_on_memorized_text():
    from newbpe.trainers.bytespan.lm import pack_documents
    from newbpe.trainers.bytespan.passes import corpus_signals
    docs = [d.encode() for d in small_corpus(200)]
    data, off = pack_documents(docs)
    same = corpus_signals(data, off, lm_fit="same")
    cross = corpus_signals(data, off, lm_fit="crossfit")
    assert not np.allclose(same[1], cross[1])
    assert same[1].mean() < cross[1].mean()          # memorized text is more predictable


def test_signals_do_not_depend_on_document_order_or_threads():
    from newbpe.trainers.bytespan.lm import pack_documents
    from newbpe.trainers.bytespan.passes import corpus_signals
    docs = [d.encode() for d in small_corpus(150)]
    data, off = pack_documents(docs)
    from newbpe._threads import threads_limit
    with threads_limit(1):
        ref = corpus_signals(data, off)
    perm = list(range(len(docs)))
    random.Random(3).shuffle(perm)
    data2, off2 = pack_documents([docs[i] for i in perm])
    with threads_limit(2):
        got = corpus_signals(data2, off2)
    for k, i in enumerate(perm):
        for a, b in zip(ref, got):
            assert np.array_equal(a[off[i]:off[i + 1]], b[off2[k]:off2[k + 1]])


def test_external_fit():
    from newbpe.trainers.bytespan.lm import pack_documents
    from newbpe.trainers.bytespan.passes import corpus_signals
    data, off = pack_documents([b"abc abc abc"])
    ent, sur = corpus_signals(data, off, lm_fit="external", lm_corpus=[b"abc " * 50])
    assert sur[5] < 0.5
    with pytest.raises(NewbpeError):
        corpus_signals(data, off, lm_fit="external")


# ------------------------------------------------------------------ §5 spans (invariants 2, 3; bugs 1, 2)
def spans_of(sig, mode, theta=0.0, data=None, boundary=None):
    from newbpe.trainers.bytespan import spans as S
    n = len(sig)
    data = np.frombuffer(data or b"x" * n, dtype=np.uint8)
    boundary = np.zeros(n, np.uint8) if boundary is None else np.array(boundary, np.uint8)
    boundary[0] = 1
    s, e = S.detect_spans(data, np.array([0, n]), np.array(sig, float), boundary, mode, theta)
    return list(zip(s.tolist(), e.tolist()))


def test_span_goldens():
    from newbpe.trainers.bytespan.spans import COMBINED, MONOTONIC
    assert spans_of([0.1, 3, 2, 4, 1], COMBINED, 0.5) == [(1, 2), (3, 4)]       # bug 1: no flip inversion
    assert spans_of([3, 2, 1, 5, 4], MONOTONIC) == [(0, 2), (3, 4)]             # bug 2: final span kept


def test_span_post_processing():
    from newbpe.trainers.bytespan.spans import MONOTONIC
    # " ab": the raw span [1, 2] absorbs the space before it at a boundary-free position
    assert spans_of([1, 5, 4], MONOTONIC, data=b" ab") == [(0, 2)]
    # a boundary at 2 splits [0, 3]
    assert spans_of([4, 3, 2, 1], MONOTONIC, data=b"abcd", boundary=[1, 0, 1, 0]) == [(0, 1), (2, 3)]
    # a span ending on a boundary loses that byte; one byte left is dropped
    assert spans_of([4, 3, 9], MONOTONIC, data=b"abc", boundary=[1, 1, 0]) == []


def test_spans_stay_inside_pre_tokens_and_documents(corpus):
    from newbpe.trainers.bytespan import spans as S
    from newbpe.trainers.bytespan.lm import pack_documents
    from newbpe.trainers.bytespan.passes import corpus_signals
    data, off = pack_documents([d.encode() for d in corpus[:200]])
    boundary = S.boundaries(data, off, "gpt2")
    ent, _ = corpus_signals(data, off)
    for mode in (S.MONOTONIC, S.COMBINED):
        starts, ends = S.detect_spans(data, off, ent, boundary, mode, S.threshold(ent, 30))
        assert len(starts) > 0
        for s, e in zip(starts, ends):
            assert s <= e
            assert not boundary[s + 1:e + 1].any()
            assert np.searchsorted(off, s, "right") == np.searchsorted(off, e, "right")


# ------------------------------------------------------------------ §6 vocabulary (invariants 4, 5, 6)
def test_base_vocabulary_always_present(tok):
    from newbpe.trainers.bytespan.vocab import base_tokens
    tokens, idents, _ = base_tokens(["<pad>"])
    assert len(tokens) == 767 + 1
    v = tok.vocabulary
    keys = {v.key(i) for i in v.model_ids}
    assert all((i, t) in keys for t, i in zip(tokens[1:], idents[1:]))
    assert v.tokens[:len(tokens)] == tokens and v.idents[:len(tokens)] == idents


def test_frequency_variant_selects_the_top_spans(corpus):
    from newbpe.trainers.bytespan import spans as S
    from newbpe.trainers.bytespan.lm import pack_documents
    from newbpe.trainers.bytespan.passes import corpus_signals
    tok = newbpe.train(corpus, "bytespan", 800, constraint="monotonic", span_ties="first_occurrence")
    data, off = pack_documents([d.encode() for d in corpus])
    boundary = S.boundaries(data, off, "gpt2")
    ent, _ = corpus_signals(data, off)
    starts, ends = S.detect_spans(data, off, ent, boundary, S.MONOTONIC, 0.0)
    counts, first = {}, {}
    for k, (s, e) in enumerate(zip(starts, ends)):
        key = (0 if boundary[s] else 1, data[s:e + 1].tobytes())
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, k)
    from newbpe.trainers.bytespan.vocab import is_base
    ranked = sorted((k for k in counts if not is_base(k[1], k[0])), key=lambda k: (-counts[k], first[k]))
    v = tok.vocabulary
    got = [v.key(i) for i in range(767, len(v))]
    assert got[:tok.stats["spans_in_vocab"]] == ranked[:800 - 767]
    # the default breaks count ties by (bytes, flag): the same spans, a document-order-free order
    tok = newbpe.train(corpus, "bytespan", 800, constraint="monotonic")
    by_bytes = sorted(ranked, key=lambda k: (-counts[k], k[1], k[0]))
    got = [tok.vocabulary.key(i) for i in range(767, len(tok.vocabulary))]
    assert got[:tok.stats["spans_in_vocab"]] == by_bytes[:800 - 767]


@pytest.mark.parametrize("options", [dict(constraint="monotonic"), dict(constraint="combined"),
                                     dict(proportion_bytespan=0.5), dict(constraint="global")])
def test_model_does_not_depend_on_document_order_or_threads(corpus, options):
    """§11 invariant 10: shuffled documents (equal content) and another thread count give a
    byte-identical model.json."""
    import json
    perm = list(corpus)
    random.Random(11).shuffle(perm)
    a = newbpe.train(corpus, "bytespan", 850, threads=1, **options).to_dict()
    b = newbpe.train(perm, "bytespan", 850, threads=2, **options).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_seeding_zero_is_bpe_wp_and_completion_keeps_bytes(corpus):
    a = newbpe.train(corpus, "bytespan", 820, proportion_bytespan=0.0)
    b = newbpe.train(corpus, "bytespan", 820, proportion_bytespan=0.0, signal="surprisal", constraint="monotonic")
    assert a.vocabulary.tokens == b.vocabulary.tokens and a.vocabulary.idents == b.vocabulary.idents
    assert a.stats["spans_in_vocab"] == 0 and a.vocab_size == 820


def test_bpe_completion_never_crosses_boundaries_and_loses_no_bytes(corpus):
    """Invariant 6 (and bugs 3, 4): bytes of the re-segmented corpus are invariant under every merge;
    a merge output keeps its left part's flag; '##' and 'aaa' survive."""
    from newbpe.trainers.bytespan import spans as S
    from newbpe.trainers.bytespan import vocab as V
    from newbpe.trainers.bytespan.lm import pack_documents
    docs = [d.encode() for d in corpus[:150]] + [b"aaa aaaa ####", b"a a a aaa"]
    data, off = pack_documents(docs)
    boundary = S.boundaries(data, off, "gpt2")
    base = V.base_tokens([])
    sel = [(b"####", 1)]
    starts = np.array([len(data) - 13 - 9 + 9], np.int64)       # the ' ####' pre-token's '####'
    assert data[starts[0] - 1] == 0x20 and data[starts[0]:starts[0] + 4].tobytes() == b"####"
    occ = (starts, starts + 3, np.array([0], np.int64))
    boundary[starts[0]] = 0                                      # (make it a continuation span)
    init_id, cont_id = V.byte_ids(0)
    words = V.resegment(data, off, boundary, occ[0], occ[1], (occ[2] + 767).astype(np.int32), init_id, cont_id)
    engine = V.complete_with_bpe(words, base, sel, 2000)
    total = sum(int(f) * len(engine.token_bytes(t)) for t, f in enumerate(engine.token_freqs()))
    assert total == len(data)
    for a, b, new, _ in engine.merge_events:
        assert engine.token_ident(new) == engine.token_ident(a)
        assert engine.token_bytes(new) == engine.token_bytes(a) + engine.token_bytes(b)
    keys = [(i, t) for i, t in zip(engine.token_idents(), engine.vocab_bytes())]
    assert len(set(keys)) == len(keys)


# ------------------------------------------------------------------ §7 encoder (invariants 1, 7)
def naive_encode(tok, text):
    v = tok.vocabulary
    init = {v.tokens[i]: m for m, i in enumerate(v.model_ids) if not v.is_special(i) and v.idents[i] == 0}
    cont = {v.tokens[i]: m for m, i in enumerate(v.model_ids) if not v.is_special(i) and v.idents[i] == 1}
    out = []
    for piece in tok.pretokenizer.split(text):
        b = piece.encode("utf-8", "surrogateescape")
        i = 0
        while i < len(b):
            table = init if i == 0 else cont
            L = max(L for L in range(1, len(b) - i + 1) if b[i:i + L] in table)
            out.append(table[b[i:i + L]])
            i += L
    return out


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["the cat sat", "\n### Heading", "日本語のテキスト", "emoji 😀👍🏽", "x" * 300, " ## ###"]))
def test_roundtrip_and_greedy_reference(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert ids == naive_encode(tok, text)


def test_encode_batch_threads_and_save_load(tok, tmp_path):
    texts = small_corpus(50) + ["x" * 300, "\n### Heading", "中文 😀"]
    one = tok.encode_batch(texts, threads=1)
    assert tok.encode_batch(texts, threads=2) == one
    tok.save(tmp_path / "m")
    again = newbpe.load(tmp_path / "m")
    assert again.encode_batch(texts, threads=1) == one
    assert again.vocabulary.idents == tok.vocabulary.idents


def test_training_is_deterministic_across_threads(corpus):
    from newbpe._threads import threads_limit
    with threads_limit(1):
        a = newbpe.train(corpus[:300], "bytespan", 850)
    with threads_limit(2):
        b = newbpe.train(corpus[:300], "bytespan", 850)
    assert a.vocabulary.tokens == b.vocabulary.tokens and a.vocabulary.idents == b.vocabulary.idents


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("opts, msg", [
    (dict(signal="bits"), "signal"),
    (dict(constraint="up"), "constraint"),
    (dict(proportion_bytespan=50), "proportion_bytespan"),
    (dict(threshold_percentile=101), "threshold_percentile"),
    (dict(lm_fit="external"), "lm_corpus"),
    (dict(lm="/no/such/model"), "not found"),
    (dict(lm_order=9), "lm_order"),
    (dict(units="chars"), "byte-level"),
    (dict(pretokenizer="whitespace"), "lossless"),
])
def test_bad_options_are_one_line_errors(corpus, opts, msg):
    with pytest.raises(NewbpeError, match=msg) as e:
        newbpe.train(corpus[:5], "bytespan", 900, **opts)
    assert "\n" not in str(e.value)


def test_vocab_size_must_exceed_the_base(corpus):
    with pytest.raises(NewbpeError, match="767"):
        newbpe.train(corpus[:5], "bytespan", 767)


# ------------------------------------------------------------------ §3.4 HF causal byte LM adapter
def tiny_hf_lm(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed (the optional newbpe[lm] extra)")
    transformers = pytest.importorskip("transformers", reason="transformers is not installed (newbpe[lm])")
    from tokenizers import Tokenizer as HFTok, models, pre_tokenizers
    from newbpe.units import bytes_to_token_string
    vocab = {"<|padding|>": 0, "<|endoftext|>": 1}
    vocab.update({bytes_to_token_string(bytes([b])): 2 + b for b in range(256)})
    hf = HFTok(models.BPE(vocab=vocab, merges=[]))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=hf, eos_token="<|endoftext|>",
                                                pad_token="<|padding|>")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=258, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, max_position_embeddings=64, tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(tmp_path / "lm")
    fast.save_pretrained(tmp_path / "lm")
    return tmp_path / "lm"


def test_hf_adapter_sliding_window(tmp_path, corpus):
    path = tiny_hf_lm(tmp_path)
    from newbpe.trainers.bytespan.hf_lm import HFByteLM
    docs = [d.encode() for d in corpus[:6]]
    full = HFByteLM(str(path), window=64, stride=63).signals_batch(docs)
    slid = HFByteLM(str(path), window=16, stride=4).signals_batch(docs)
    for (e, s), d in zip(slid, docs):
        assert e.shape == s.shape == (len(d),) and (e >= 0).all() and (s >= 0).all()
    assert all(np.isfinite(e).all() for e, _ in full)
    # a causal LM: the first window's predictions do not depend on the window size
    assert np.allclose(slid[0][0][:14], full[0][0][:14], atol=1e-5)
    assert np.allclose(slid[0][1][:14], full[0][1][:14], atol=1e-5)
    # later positions see at most `window` tokens: the context is cut, values differ
    assert not np.allclose(slid[2][1], full[2][1], atol=1e-5)
    tok = newbpe.train(corpus[:60], "bytespan", 800, lm=str(path), lm_window=32, lm_stride=8)
    assert tok.decode(tok.encode(corpus[0])) == corpus[0]


# ------------------------------------------------------------------ §7 HF export (invariant 1, bug 5)
HF_TEXTS = ["Hello there, friend!", "x" * 300, "\n### Heading", "日本語のテキスト 中文", "emoji 😀👍🏽 ok",
            "  spaces   and\ttabs\n\n", " ## ### #### a##b", ""]


def test_hf_wordpiece_export_is_lossless_and_id_for_id(tok, heldout_en, tmp_path):
    hf_mod = pytest.importorskip("tokenizers", reason="tokenizers is not installed")
    d = json.loads(tok.to_hf())
    assert d["model"]["type"] == "WordPiece" and d["model"]["max_input_chars_per_word"] == 10**9
    assert d["model"]["continuing_subword_prefix"] == "\u2021"
    hf = hf_mod.Tokenizer.from_str(tok.to_hf())
    for text in HF_TEXTS + heldout_en.split("\n")[:200] + [heldout_en[:20000]]:
        ids = tok.encode(text)
        assert hf.encode(text).ids == ids
        assert hf.decode(ids) == text
    paths = tok.save(tmp_path / "m")
    assert any(str(p).endswith("tokenizer.json") for p in paths)
    back = newbpe.load(tmp_path / "m" / "tokenizer.json")
    assert back.algo == "bytespan"
    for text in HF_TEXTS + [heldout_en[:5000]]:
        assert back.encode(text) == tok.encode(text)
        assert back.decode(back.encode(text)) == text


def test_hf_export_with_other_pretokenizer(corpus):
    hf_mod = pytest.importorskip("tokenizers", reason="tokenizers is not installed")
    tok = newbpe.train(corpus[:200], "bytespan", 800, pretokenizer="cl100k", special_tokens=["<s>", "</s>"])
    hf = hf_mod.Tokenizer.from_str(tok.to_hf())
    for text in HF_TEXTS + corpus[:20]:
        assert hf.encode(text, add_special_tokens=False).ids == tok.encode(text)
        assert hf.decode(tok.encode(text)) == text


# ------------------------------------------------------------------ CLI
def run_cli(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "newbpe.cli", *map(str, args)], capture_output=True, text=True)


def test_cli_train_info_and_bad_input(tmp_path, corpus):
    src = tmp_path / "c.txt"
    src.write_text("\n".join(corpus[:300]) + "\n", encoding="utf-8")
    r = run_cli("train", src, "--algo", "bytespan", "--vocab-size", 820, "--signal", "surprisal", "--constraint",
                "monotonic", "--threshold-percentile", 30, "--proportion-bytespan", 0.5, "--lm", "ngram",
                "-o", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    r = run_cli("info", "-m", tmp_path / "m")
    assert "continuation_tokens" in r.stdout and "spans_in_vocab" in r.stdout
    for bad in (["--proportion-bytespan", 50], ["--lm", tmp_path / "nope"], ["--option", "lm_fit=external"],
                ["--units", "chars"]):
        r = run_cli("train", src, "--algo", "bytespan", "--vocab-size", 820, *bad, "-o", tmp_path / "x")
        assert r.returncode != 0 and "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr


# ------------------------------------------------------------------ §5.5 global incremental (invariant 8)
@pytest.mark.parametrize("counting", ["exact", "reference"])
def test_global_counts_equal_a_recount_after_every_visit(counting):
    from newbpe.trainers.bytespan import OPTIONS, global_spans as G, spans as S, vocab as V
    from newbpe.trainers.bytespan.lm import pack_documents
    from newbpe.trainers.bytespan.passes import corpus_signals
    data, off = pack_documents([d.encode() for d in small_corpus(30)] + [b"a  b\n\n  c", b"x"])
    boundary = S.boundaries(data, off, "gpt2")
    ent, _ = corpus_signals(data, off)
    for left in (False, True):
        opts = {**OPTIONS, "global_counting": counting, "check_every": 1, "frequency_threshold": 2,
                "include_left_byte": left}
        with pytest.warns(UserWarning):
            tokens, idents, stats = G.global_vocabulary(data, off, ent, boundary, V.base_tokens([]), 5000, opts,
                                                        debug=True)
        assert stats["global_visits"] == len(data)
        if counting == "exact":
            assert stats["recount_ok"]
        assert len(set(zip(idents, tokens))) == len(tokens)


def test_global_reference_base_is_699():
    from newbpe.trainers.bytespan.global_spans import reference_base
    assert len(reference_base(["<|padding|>", "<|endoftext|>", "<unk>"])[0]) == 699


def test_global_variant_trains_and_round_trips(corpus):
    tok = newbpe.train(corpus, "bytespan", 800, constraint="global", frequency_threshold=2, check_every=10)
    assert tok.vocab_size == 800 and tok.stats["global_visits"] < sum(len(c.encode()) for c in corpus)
    for text in corpus[:20] + HF_TEXTS:
        assert tok.decode(tok.encode(text)) == text
    ref = newbpe.train(corpus, "bytespan", 720, constraint="global", global_base="reference",
                       global_counting="reference", frequency_threshold=2)
    assert ref.vocab_size == 720 and ref.vocabulary.n_base == 512 and len(ref.vocabulary.tokens) == 720


# ------------------------------------------------------------------ inspection, info, balanced
def test_signals_cli_and_api(tmp_path, corpus):
    from newbpe.trainers.bytespan.inspect import inspect
    docs, theta = inspect(corpus[:50], constraint="combined")
    assert theta is not None and len(docs) == 50
    for d in docs:
        assert len(d["entropy"]) == len(d["bytes"]) == len(d["boundary"])
        assert all(0 <= s < e < len(d["bytes"]) for s, e in d["spans"])
    src = tmp_path / "c.txt"
    src.write_text("\n".join(corpus[:50]) + "\n", encoding="utf-8")
    r = run_cli("signals", src, "--signal", "surprisal", "--constraint", "monotonic")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split("\t") == ["doc", "pos", "byte", "entropy", "surprisal", "boundary", "span"]
    assert len(lines) == 1 + sum(len(c.encode()) + 1 for c in corpus[:50])     # lines keep their \n
    r = run_cli("signals", tmp_path / "missing.txt")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    from click.testing import CliRunner
    from newbpe.cli import main
    piped = CliRunner().invoke(main, ["signals", "-", "--signal", "surprisal", "--constraint", "monotonic"],
                               input=src.read_text(encoding="utf-8"))
    assert piped.exit_code == 0 and piped.stdout.splitlines() == lines          # '-' reads stdin


def test_info_reports_initial_continuation_and_span_share(tok):
    info = tok.info()
    assert info["initial_tokens"] + info["continuation_tokens"] == tok.vocab_size - 1
    assert 0 <= info["share_from_spans"] <= 1
    assert info["spans_in_vocab"] + info["bpe_completion_tokens"] == tok.vocab_size - 768


def test_balanced_round_robin_by_language(tmp_path):
    from newbpe.trainers.bytespan.vocab import balanced
    a = [(b"xa", 0, 9, 0), (b"ya", 0, 5, 1), (b"za", 0, 1, 2)]
    b = [(b"xb", 1, 3, 0), (b"xa", 0, 2, 1)]
    assert [t for t, *_ in balanced([a, b], 4)] == [b"xa", b"xb", b"ya", b"za"]
    en = ["the cat sat on the mat"] * 30 + ["the dog ran over the hill"] * 30
    de = ["der Hund lief über den Hügel"] * 30 + ["die Katze saß auf der Matte"] * 30
    pairs = [("en", t) for t in en] + [("de", t) for t in de]
    ref = dict(span_ties="first_occurrence")                # the reference's orders: corpus order
    tok = newbpe.train(pairs, "bytespan", 800, balance_by_language=True, lm_fit="same", **ref)
    added = [tok.vocabulary.tokens[i] for i in range(767, 767 + tok.stats["spans_in_vocab"])]
    plain = newbpe.train(en + de, "bytespan", 800, lm_fit="same", **ref)
    unbalanced = [plain.vocabulary.tokens[i] for i in range(767, 767 + plain.stats["spans_in_vocab"])]
    assert added[0] == b"the" and added[1] == b" de"        # en's first, then de's first
    assert added.index(b"der") < unbalanced.index(b"der")
    default = newbpe.train(pairs[::-1], "bytespan", 800, balance_by_language=True, lm_fit="same")
    again = newbpe.train(pairs, "bytespan", 800, balance_by_language=True, lm_fit="same")
    assert default.vocabulary.tokens == again.vocabulary.tokens   # languages by name, ties by bytes
    first = [default.vocabulary.tokens[i] for i in range(767, 769)]
    assert first[0] in {b" de", b"der", b"die", b" Hund", b" den"} and first[1] in {b"the", b" the"}  # de, then en
    (tmp_path / "en.txt").write_text("\n".join(en), encoding="utf-8")
    (tmp_path / "de.txt").write_text("\n".join(de), encoding="utf-8")
    tok2 = newbpe.train([str(tmp_path / "en.txt"), str(tmp_path / "de.txt")], "bytespan", 800,
                        balance_by_language=True, lm_fit="same", **ref)
    assert tok2.vocabulary.tokens == tok.vocabulary.tokens
    with pytest.raises(NewbpeError, match="language"):
        newbpe.train(en, "bytespan", 800, balance_by_language=True)


def test_external_lm_corpus_file_and_token_strings(tmp_path, corpus):
    lm_file = tmp_path / "lm.txt"
    lm_file.write_text("\n".join(corpus[300:]) + "\n", encoding="utf-8")
    tok = newbpe.train(corpus[:300], "bytespan", 820, lm_fit="external", lm_corpus=str(lm_file))
    assert tok.decode(tok.encode(corpus[0])) == corpus[0]
    with pytest.raises(NewbpeError, match="lm_corpus"):
        newbpe.train(corpus[:5], "bytespan", 820, lm_fit="external", lm_corpus=str(tmp_path / "none.txt"))
    ids = tok.encode("spans")
    strings = tok.token_strings(ids)
    assert strings[0][0] != "\u2021" and all(s.startswith("\u2021") for s in strings[1:])


# ------------------------------------------------------------------ batched passes (memory follows distinct keys)
def test_weighted_percentile_equals_numpy():
    from newbpe.trainers.bytespan.passes import weighted_percentile
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(1, 12))
        values = np.round(rng.normal(1, 1, k), int(rng.integers(0, 3)))
        values[rng.random(k) < 0.1] = 0.0
        counts = rng.integers(0, 5, k)
        q = float(rng.choice([0, 30, 50, 99.5, 100, rng.uniform(0, 100)]))
        full = np.repeat(values, counts)
        full = full[np.isfinite(full) & (full != 0)]
        want = float(np.percentile(full, q)) if len(full) else 0.0
        assert weighted_percentile(values, counts, q) == want


@pytest.mark.parametrize("signal, fit", [("entropy", "crossfit"), ("surprisal", "crossfit"), ("surprisal", "same")])
def test_threshold_from_value_keys_equals_the_percentile_of_all_signals(corpus, signal, fit):
    from newbpe.trainers.bytespan import OPTIONS, passes as P, spans as S
    from newbpe.corpus import Corpus
    from newbpe.pretokenizers import PreTokenizer
    docs = P.Documents(Corpus(corpus), (), None, False, PreTokenizer("gpt2"), batch_bytes=3000)
    opts = {**OPTIONS, "signal": signal, "lm_fit": fit}
    sig = P.signals_for(docs, opts)
    everything = np.concatenate([sig(data, off) for data, off, _, _ in docs.batches()])
    for pct in (30, 7.5, 90):
        assert sig.threshold(docs, pct) == S.threshold(everything, pct)


def test_batch_size_does_not_change_the_model(corpus, monkeypatch):
    from newbpe.trainers.bytespan import passes as P
    for opts in ({}, {"constraint": "monotonic", "signal": "surprisal", "proportion_bytespan": 0.9}):
        whole = newbpe.train(corpus, "bytespan", 850, **opts)
        monkeypatch.setattr(P, "BATCH_BYTES", 2500)
        monkeypatch.setattr(P, "SIGNAL_CACHE_BYTES", 20000)       # some batches kept, the others recomputed
        small = newbpe.train(corpus, "bytespan", 850, **opts)
        monkeypatch.setattr(P, "BATCH_BYTES", 4 << 20)
        monkeypatch.setattr(P, "SIGNAL_CACHE_BYTES", 256 << 20)
        assert small.vocabulary.tokens == whole.vocabulary.tokens
        assert small.vocabulary.idents == whole.vocabulary.idents
        assert small.stats == whole.stats


def test_one_shot_source_and_add_prefix_space(corpus):
    listed = newbpe.train(corpus, "bytespan", 850)
    streamed = newbpe.train((c for c in corpus), "bytespan", 850)         # read once, held for the passes
    assert streamed.vocabulary.tokens == listed.vocabulary.tokens
    prefixed = newbpe.train(corpus, "bytespan", 850, add_prefix_space=True)
    assert prefixed.stats != listed.stats                               # documents start with a space
    for text in ["the cat", " the cat", "x"]:
        assert prefixed.decode(prefixed.encode(text)) == text           # encoding adds nothing
