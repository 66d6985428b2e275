"""SuperBPE's shape on our corpus (specs supertokens.md §2.5): bytes/token of BPE (stage-1 regex) vs
SuperBPE for a sweep of the transition t at one vocabulary size, and the truncated-vocabulary curve
(the first N merges) of BPE vs SuperBPE at t = V/2.

    python bench/superbpe_fidelity.py [--corpus FILE] [--holdout-mb 2] [--vocab 32000]
                                      [--transitions 2000,4000,8000,12000,16000,20000,24000,28000]
                                      [--truncate 8000,12000,16000,20000,24000,28000,31743] [--work DIR]

The last `--holdout-mb` of the corpus (cut at a line) is held out, and so is the bundled
`corpora/en/ud_en_pud_test.txt`; the rest is the training text. Stage 1 is trained once (BPE on
`superbpe_stage1` to the full vocabulary) and every SuperBPE run extends it (`stage1=PATH`, the
first t - 1 merges of a BPE run do not depend on how far it goes), on one `Corpus`, so the stage-2
chunk table is counted once. Prints markdown tables; expect only the paper's shape: bytes/token
rising steeply with t to a plateau, falling back toward BPE as t approaches V, and superwords (tokens
with an inner space) a large share of the new merges.
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import newbpe  # noqa: E402
from newbpe.corpus import Corpus  # noqa: E402
from newbpe.metrics import evaluate, truncated_curve  # noqa: E402


def split_holdout(path, holdout_bytes, work):
    """(train path, held-out text): the tail of `path` from the first line start within its last
    `holdout_bytes` bytes is held out."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(size - holdout_bytes, 0))
        tail = f.read()
    cut = size - len(tail) + tail.index(b"\n") + 1
    train = os.path.join(work, "train.txt")
    with open(path, "rb") as src, open(train, "wb") as dst:
        left = cut
        while left:
            block = src.read(min(left, 8 << 20))
            dst.write(block)
            left -= len(block)
    with open(path, "rb") as f:
        f.seek(cut)
        return train, f.read().decode("utf-8", "surrogateescape")


def lines(text):
    return text.splitlines(keepends=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpora", "en", "gutenberg_50MB.txt"))
    ap.add_argument("--holdout-mb", type=float, default=2.0)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--transitions", default="2000,4000,8000,12000,16000,20000,24000,28000")
    ap.add_argument("--truncate", default=None, help="N values (default: V/4 ... V in steps of V/8)")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    if not os.path.exists(args.corpus):
        sys.exit(f"corpus {args.corpus} not found (the shared corpora are needed for this benchmark)")
    work = args.work or tempfile.mkdtemp(prefix="superbpe-fidelity-")
    os.makedirs(work, exist_ok=True)
    V = args.vocab
    train_path, tail = split_holdout(args.corpus, int(args.holdout_mb * 1e6), work)
    pud = open(os.path.join(ROOT, "corpora", "en", "ud_en_pud_test.txt"), encoding="utf-8").read()
    heldout = {"gutenberg tail": lines(tail), "ud_en_pud_test": lines(pud)}
    print(f"training text {os.path.getsize(train_path) / 1e6:.1f} MB; held out: gutenberg tail "
          f"{len(tail.encode()) / 1e6:.2f} MB, ud_en_pud_test {len(pud.encode()) / 1e6:.2f} MB; V = {V}\n")

    corpus = Corpus(train_path)
    t0 = time.time()
    bpe = newbpe.train(corpus, "bpe", V, pretokenizer="superbpe_stage1")
    stage1 = os.path.join(work, "stage1")
    bpe.save(stage1)
    print(f"stage 1 (BPE, superbpe_stage1, V = {V}) trained in {time.time() - t0:.1f} s")

    def bpt(tok, texts):
        return evaluate(tok, texts)["bytes_per_token"]

    rows = [("BPE (stage-1 regex)", "—", bpt(bpe, heldout["gutenberg tail"]), bpt(bpe, heldout["ud_en_pud_test"]),
             "—", "—", "—")]
    models = {}
    for t in [int(x) for x in args.transitions.split(",")]:
        t0 = time.time()
        tok = newbpe.train(corpus, "superbpe", V, transition=t, stage1=stage1)
        s = tok.stats
        models[t] = tok
        new = s["new_merges"]
        inner_new = sum(1 for _, _, c in tok.vocabulary.merges[s["inherited_merges"]:]
                        if b" " in tok.vocabulary.tokens[c][1:])
        rows.append((f"SuperBPE t = {t}", f"{time.time() - t0:.1f}", bpt(tok, heldout["gutenberg tail"]),
                     bpt(tok, heldout["ud_en_pud_test"]), new, f"{inner_new / max(new, 1):.1%}",
                     s["tokens_with_inner_space"]))
    print("\n| tokenizer | train s | bytes/token, gutenberg tail | bytes/token, ud_en_pud | new merges | "
          "new merges with an inner space | tokens with an inner space |")
    print("|---|---|---|---|---|---|---|")
    for name, secs, a, b, new, share, inner in rows:
        print(f"| {name} | {secs} | {a:.3f} | {b:.3f} | {new} | {share} | {inner} |")

    t_half = V // 2
    sb = models.get(t_half) or newbpe.train(corpus, "superbpe", V, transition=t_half, stage1=stage1)
    n_max = min(len(sb.vocabulary.merges), len(bpe.vocabulary.merges))
    ns = ([int(x) for x in args.truncate.split(",")] if args.truncate else
          [V * k // 8 for k in range(2, 8)] + [n_max])
    ns = [min(n, n_max) for n in ns]
    curve_bpe = truncated_curve(bpe, heldout["gutenberg tail"], ns)
    curve_sb = truncated_curve(sb, heldout["gutenberg tail"], ns)
    print(f"\nTruncated vocabularies (first N merges), bytes/token on the gutenberg tail, SuperBPE t = {t_half}:\n")
    print("| N merges | BPE | SuperBPE |")
    print("|---|---|---|")
    for a, b in zip(curve_bpe, curve_sb):
        print(f"| {a['merges']} | {a['bytes_per_token']:.3f} | {b['bytes_per_token']:.3f} |")


if __name__ == "__main__":
    main()
