"""Compare the BPE-family methods on one corpus: training time, vocabulary statistics, tokens on held-out
text for each encoder, and encoding speed.

    python bench/methods.py CORPUS --heldout FILE [--vocab 8000,32000] [--algos bpe,scaffold,picky]
                            [--encode-mb 10] [--threads 2]

The corpus is counted once (time reported on its own); each trainer then runs on the same word table,
so the training column is the trainer alone. Held-out columns: tokens for every (model, encoder) pair
that makes sense (BPE: rank, lbpe; Scaffold: scaffold, lbpe; Picky: replay, lbpe) and the ratio to
BPE's rank encoding. Encoding: MB/s of each encoder on the first `--encode-mb` MB of the corpus.
"""
import argparse
import os
import platform
import time

import newbpe

ENCODERS = {"bpe": ("rank", "lbpe"), "scaffold": ("scaffold", "lbpe"), "picky": ("replay", "lbpe")}


def read_prefix(path, mb):
    with open(path, "rb") as f:
        return f.read(int(mb * 1e6)).decode("utf-8", "ignore")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--vocab", default="8000,32000")
    ap.add_argument("--algos", default="bpe,scaffold")
    ap.add_argument("--encode-mb", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"newbpe {newbpe.__version__}")
    newbpe.train(["warm up the compile cache"] * 3, "scaffold", 260).encode("x", encoder="lbpe")
    t = time.perf_counter()
    wc = newbpe.count(args.corpus, threads=args.threads)
    print(f"counting {os.path.getsize(args.corpus) / 1e6:.1f} MB: {time.perf_counter() - t:.2f} s, "
          f"{len(wc)} word types")
    heldout = open(args.heldout, encoding="utf-8").read().splitlines(keepends=True)
    sample = read_prefix(args.corpus, args.encode_mb).splitlines(keepends=True)
    mb = sum(len(s.encode()) for s in sample) / 1e6
    print()
    print("| vocab | algo | train s | x BPE | hidden tokens | encoder | held-out tokens | vs BPE rank | encode MB/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for v in (int(x) for x in args.vocab.split(",")):
        base_time = base_tokens = None
        for algo in args.algos.split(","):
            t = time.perf_counter()
            tok = newbpe.train(wc, algo, v)
            secs = time.perf_counter() - t
            base_time = base_time or secs
            info = tok.info()
            hidden = info.get("scaffold_tokens", info.get("removed_tokens", 0))
            share = f"{hidden} ({hidden / v:.1%})" if algo != "bpe" else "-"
            for k, enc in enumerate(ENCODERS[algo]):
                n = sum(len(ids) for ids in tok.encode_batch(heldout, encoder=enc, threads=args.threads))
                base_tokens = base_tokens or n
                tok.encode_batch(sample[:2000], encoder=enc, threads=args.threads)          # warm
                t = time.perf_counter()
                tok.encode_batch(sample, encoder=enc, threads=args.threads)
                speed = mb / (time.perf_counter() - t)
                lead = f"| {v} | {algo} | {secs:.2f} | {secs / base_time:.2f} | {share} |" if k == 0 else "| | | | | |"
                print(f"{lead} {enc} | {n} | {n / base_tokens - 1:+.2%} | {speed:.1f} |", flush=True)


if __name__ == "__main__":
    main()
