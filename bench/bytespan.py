"""ByteSpan vs BPE at the same vocabulary size: held-out compression and training time.

    python bench/bytespan.py [--mb 4] [--vocab 8192] [--json out.json]

Training text: the first MB megabytes (whole lines) of the shared Gutenberg English corpus
(`en/gutenberg_50MB.txt`); evaluation: UD English PUD (`corpora/en/ud_en_pud_test.txt`, held out).
Rows: newbpe BPE (rank encoder) and ByteSpan variants (default byte 5-gram LM, crossfit, gpt2
pre-tokens): BPE-WP (p = 0), Entropy/Surprisal Monotonic and Combined (T30) Frequency, Entropy
Combined Seeding (p = 0.5), Entropy Global. Reported: bytes per token and tokens per whitespace word
on the held-out text (newbpe.metrics), Rényi efficiency (α = 2.5), and training time, wall clock and
CPU (all threads; steadier than wall clock on a shared machine). Kernels are loaded (or compiled) by a
small warm-up run first.
"""
import argparse
import json
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import newbpe  # noqa: E402
from newbpe.metrics import evaluate  # noqa: E402

SHARED = os.environ.get("NEWBPE_SHARED_CORPORA", os.path.join(ROOT, "..", "shared", "corpora"))

ROWS = [
    ("BPE", "bpe", {}),
    ("BPE-WP (p=0)", "bytespan", {"proportion_bytespan": 0.0}),
    ("Entropy Monotonic Frequency", "bytespan", {"constraint": "monotonic"}),
    ("Entropy Combined (T30) Frequency", "bytespan", {"constraint": "combined"}),
    ("Entropy Combined Seeding (p=.5)", "bytespan", {"constraint": "combined", "proportion_bytespan": 0.5}),
    ("Surprisal Monotonic Frequency", "bytespan", {"constraint": "monotonic", "signal": "surprisal"}),
    ("Surprisal Combined Frequency", "bytespan", {"constraint": "combined", "signal": "surprisal"}),
    ("Entropy Global (incremental)", "bytespan", {"constraint": "global"}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=4.0)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    lines, size = [], 0
    with open(os.path.join(SHARED, "en", "gutenberg_50MB.txt"), encoding="utf-8") as f:
        for line in f:
            if size >= args.mb * 1e6:
                break
            lines.append(line)
            size += len(line.encode("utf-8"))
    with open(os.path.join(ROOT, "corpora", "en", "ud_en_pud_test.txt"), encoding="utf-8") as f:
        held = f.read().splitlines(keepends=True)
    for algo, opts in (("bpe", {}), ("bytespan", {}), ("bytespan", {"constraint": "global"})):
        with warnings.catch_warnings():                   # load (or compile) the kernels outside the timings
            warnings.simplefilter("ignore")
            newbpe.train(lines[:2000], algo, 1000, **opts)
    out = []
    print(f"train: {size / 1e6:.1f} MB Gutenberg English; eval: UD English PUD; |V| = {args.vocab}")
    print(f"{'tokenizer':36s} {'bytes/token':>11s} {'tokens/word':>11s} {'Rényi 2.5':>9s} {'train s':>8s} {'CPU s':>6s}")
    for name, algo, opts in ROWS:
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tok = newbpe.train(lines, algo, args.vocab, **opts)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        m = evaluate(tok, held)
        row = {"tokenizer": name, "bytes_per_token": m["bytes_per_token"], "tokens_per_word": m["tokens_per_word"],
               "renyi": m["renyi_efficiency_2.5"], "train_seconds": dt, "cpu_seconds": cpu,
               "vocab_size": tok.vocab_size}
        out.append(row)
        print(f"{name:36s} {row['bytes_per_token']:11.3f} {row['tokens_per_word']:11.3f} {row['renyi']:9.3f} "
              f"{dt:8.1f} {cpu:6.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
