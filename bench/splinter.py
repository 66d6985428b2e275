"""SPLINTER closing-note numbers: BPE with and without SPLINTER on the shared Hebrew and Arabic corpora.

    python bench/splinter.py [--vocab 2000,8000,32000] [--langs he,ar] [--json out.json]

Training text: the shared corpus files of each language (duplicate vocalized/diacritized copies left
out); every 10th line of each file is held out for evaluation. The SPLINTER map is learned from the
training text (what `newbpe train --splinter LANG` does) and, when the optional wordfreq package is
installed, from wordfreq's list. Byte-level BPE, `gpt2` pre-tokenizer for all rows; `--pua-pattern`
adds rows with a pattern that treats private-use symbols as letters (`SPLINTER_PATTERN`), since gpt2's
`\\p{L}+` does not match them and glues them to adjacent punctuation. Reported per row:
tokens per whitespace word and Rényi efficiency (α = 2.5) on the held-out lines (newbpe.metrics), and
the transform's speed on the training text.
"""
import argparse
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import newbpe  # noqa: E402
from newbpe.metrics import evaluate  # noqa: E402
from newbpe.preprocessors.splinter import Splinter  # noqa: E402
from newbpe.preprocessors.splinter_learn import count_words  # noqa: E402

SHARED = os.environ.get("NEWBPE_SHARED_CORPORA",
                        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "corpora"))
FILES = {
    "he": ["heq_contexts_val_test.txt", "tanakh_wlc_unvocalized.txt", "ud_he_iahltknesset_dev.txt",
           "ud_he_iahltknesset_test.txt", "ud_he_iahltwiki_dev.txt", "ud_he_iahltwiki_test.txt"],
    "ar": ["hadith_darimi_plain.txt", "hadith_malik_muwatta_plain.txt", "quran_undiacritized_approx.txt",
           "ud_ar_pud_test.txt"],
}
SPLINTER_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[\p{L}\p{Co}]+| ?\p{N}+| ?[^\s\p{L}\p{N}\p{Co}]+|\s+(?!\S)|\s+"""


def split_lines(lang):
    train, held = [], []
    for name in FILES[lang]:
        path = os.path.join(SHARED, lang, name)
        if not os.path.exists(path):
            sys.exit(f"{path} not present (the shared corpora are needed)")
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                (held if i % 10 == 9 else train).append(line)
    return train, held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", default="2000,8000,32000")
    ap.add_argument("--langs", default="he,ar")
    ap.add_argument("--json", default=None)
    ap.add_argument("--pua-pattern", action="store_true", help="also train with SPLINTER_PATTERN")
    args = ap.parse_args()
    sizes = [int(v) for v in args.vocab.split(",")]
    rows, speeds = [], []
    for lang in args.langs.split(","):
        train, held = split_lines(lang)
        text = "".join(train)
        mb = len(text.encode("utf-8")) / 1e6
        t = time.perf_counter()
        sp = Splinter.learn(count_words(train, lang), lang)
        t_learn = time.perf_counter() - t
        t = time.perf_counter()
        applied = sp.apply(text)
        t_cold = time.perf_counter() - t
        t = time.perf_counter()
        sp.apply(text)
        t_warm = time.perf_counter() - t
        fresh = Splinter.from_dict(sp.to_dict())
        t = time.perf_counter()
        assert fresh.invert(applied) == text
        t_inv = time.perf_counter() - t
        speeds.append({"lang": lang, "train_MB": round(mb, 2), "heldout_lines": len(held), "learn_s": round(t_learn, 2),
                       "symbols": len(sp.keys), "apply_MBps_cold": round(mb / t_cold, 2),
                       "apply_MBps_cached": round(mb / t_warm, 2), "invert_MBps": round(mb / t_inv, 2)})
        print(json.dumps(speeds[-1], ensure_ascii=False), flush=True)
        try:
            wf = Splinter.learn("wordfreq", lang)
        except Exception:  # noqa: BLE001 — wordfreq is optional
            wf = None
        for v in sizes:
            variants = [("BPE", {}), ("BPE + SPLINTER (map from the training text)", {"splinter": sp})]
            if wf is not None:
                variants.append(("BPE + SPLINTER (wordfreq map)", {"splinter": wf}))
            if args.pua_pattern:
                variants.append(("BPE + SPLINTER, PUA-as-letters pattern", {"splinter": sp, "pretokenizer": SPLINTER_PATTERN}))
            for name, kw in variants:
                t = time.perf_counter()
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    tok = newbpe.train(train, vocab_size=v, **kw)
                t_train = time.perf_counter() - t
                res = evaluate(tok, held)
                row = {"lang": lang, "vocab": v, "variant": name, "reached": tok.vocab_size,
                       "tokens_per_word": round(res["tokens_per_word"], 4),
                       "renyi_2.5": round(res["renyi_efficiency_2.5"], 4), "train_s": round(t_train, 1),
                       "warning": str(w[0].message) if w else ""}
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    print()
    print("| lang | vocab | variant | tokens/word | Rényi eff. (α=2.5) |")
    print("|---|---|---|---|---|")
    for r in rows:
        note = f" (reached {r['reached']})" if r["reached"] != r["vocab"] else ""
        print(f"| {r['lang']} | {r['vocab']:,}{note} | {r['variant']} | {r['tokens_per_word']:.3f} | {r['renyi_2.5']:.3f} |")
    print()
    for s in speeds:
        print(f"{s['lang']}: {s['train_MB']} MB training text, map learned in {s['learn_s']} s ({s['symbols']} symbols); "
              f"apply {s['apply_MBps_cold']} MB/s cold, {s['apply_MBps_cached']} MB/s cached; invert {s['invert_MBps']} MB/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "speed": speeds}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
