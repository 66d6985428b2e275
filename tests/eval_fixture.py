"""A small evaluation result in the EvalResult.to_dict() shape (newbpe/evaluation/result.py), built
from real computations on the bundled corpora with two tiny newbpe models: the report tests
(test_eval_cli.py, test_report_browser.py) render it without depending on the engine's speed."""
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EN = ROOT / "corpora" / "en" / "ud_en_pud_test.txt"
AR = ROOT / "corpora" / "ar" / "ud_ar_pud_test.txt"
TRAIN = ROOT / "corpora" / "en" / "tinyshakespeare.txt"
SAMPLE_TEXTS = ["The quick brown fox — naïve café, 2024!", "الجملة العربية هنا.", "a\ttab and 😀 emoji"]


def train_models(directory, sizes=(300, 420)):
    """Two tiny BPE models trained on Shakespeare, saved under `directory`; returns their paths."""
    import newbpe
    lines = TRAIN.read_text(encoding="utf-8").splitlines(keepends=True)[:4000]
    paths = []
    for size in sizes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tok = newbpe.train(lines, vocab_size=size)
        path = Path(directory) / f"bpe{size}"
        tok.save(path)
        paths.append(path)
    return paths


def pieces(tok, text):
    return [tok.decode_bytes([i]).decode("utf-8", "surrogateescape") for i in tok.encode(text)]


def build_result(model_paths, corpora=((EN, "en"), (AR, "ar"))):
    """The result dict of the models on the corpora: newbpe.metrics.evaluate per (model, corpus) and
    pooled, the truncated curve, histograms, the EN-AR premium, samples."""
    import newbpe
    from newbpe.metrics import evaluate, truncated_curve
    toks = [(p.name, newbpe.load(p)) for p in model_paths]
    texts = {str(path): path.read_text(encoding="utf-8").splitlines(keepends=True) for path, _ in corpora}
    d = {"tokenizers": [{"label": label, "source": str(p), "kind": "newbpe", "vocab_size": tok.vocab_size}
                        for (label, tok), p in zip(toks, model_paths)],
         "corpora": [{"label": path.name, "path": str(path), "language": lang,
                      "bytes": len(path.read_bytes()), "chars": len(path.read_text(encoding="utf-8")),
                      "words": len(path.read_text(encoding="utf-8").split()), "lines": len(texts[str(path)])}
                     for path, lang in corpora],
         "rows": [], "totals": [], "parity": [], "morphology": [], "curves": {}, "histograms": {},
         "samples": [], "metric_info": {}}
    for label, tok in toks:
        for path, lang in corpora:
            d["rows"].append({"tokenizer": label, "corpus": path.name, "language": lang,
                              **evaluate(tok, texts[str(path)])})
        pooled = [t for path, _ in corpora for t in texts[str(path)]]
        d["totals"].append({"tokenizer": label, **evaluate(tok, pooled), "gini": None})
        ref, other = (sum(len(tok.encode(t)) for t in texts[str(p)]) for p, _ in corpora[:2])
        d["parity"].append({"tokenizer": label, "reference": str(corpora[0][0]), "other": str(corpora[1][0]),
                            "premium": other / ref, "parity_share": 0.0, "lines": len(texts[str(corpora[0][0])])})
        merges = len(tok.merges)
        d["curves"][label] = [{k: r[k] for k in ("merges", "vocab_size", "bytes_per_token")}
                              for r in truncated_curve(tok, texts[str(corpora[0][0])], [0, merges // 2, merges])]
        ids = [i for t in texts[str(corpora[0][0])] for i in tok.encode(t)]
        words = [len(tok.encode(w)) for t in texts[str(corpora[0][0])] for w in t.split()]
        d["histograms"][label] = {  # JSON-ready: keys as strings
            "token_length": {str(k): v for k, v in sorted(Counter(len(tok.decode_bytes([i])) for i in ids).items())},
            "tokens_per_word": {str(k): v for k, v in sorted(Counter(words).items())}}
    d["samples"] = [{"text": s, "segments": {label: pieces(tok, s) for label, tok in toks}} for s in SAMPLE_TEXTS]
    d["metric_info"] = {
        "bytes_per_token": {"title": "Bytes per token", "formula": "bytes / tokens", "source": "-", "better": "higher"},
        "tokens_per_word": {"title": "Fertility", "formula": "tokens / words", "source": "Rust et al. 2021",
                            "better": "lower"},
        "renyi_efficiency_2.5": {"title": "Rényi efficiency (α=2.5)", "formula": "H_α(p) / log |V|",
                                 "source": "Zouhar et al. 2023", "better": "higher"},
        "vocab_used": {"title": "Vocabulary utilisation", "formula": "types / |V|", "source": "-", "better": "higher"},
    }
    return d
