"""SuperBPE training: newbpe's whole run against HF's stage 2 from scratch, in one table.

    python bench/superbpe.py CORPUS [--mb 50,100] [--threads 1,2] [--vocab 32000] [--transition 16000]
                                    [--repeat 1]

newbpe: `newbpe.train(algo="superbpe", transition=T)`, both stages and both countings included (the
`threads` option). HF: `BpeTrainer` from scratch on the same stage-2 pre-tokenization
(Split(REGEX2, Isolated) + ByteLevel, the 256-byte initial alphabet; RAYON_NUM_THREADS), which is
what stage 2 costs HF's trainer even before the reference fork replays anything (issue 14's yardstick:
newbpe's whole run within 0.25x of it, peak RSS below it). Wall seconds, MB/s, peak RSS (the child's
ru_maxrss) and the ratio to HF at the same size and thread count. Each measurement runs in its own
process (bench/peers.py, `superbpe` kind); one untimed full newbpe job per thread count first, so no
timed cell includes a numba compile.
"""
import argparse
import os
import platform
import tempfile
import time

import run                      # bench/run.py: measure, slice_corpus, installed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--mb", default="50,100", help="corpus sizes in MB (the corpus is cut or repeated)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--transition", type=int, default=16000)
    ap.add_argument("--peers", default="newbpe,hf")
    ap.add_argument("--repeat", type=int, default=1, help="runs per cell; the median is reported")
    args = ap.parse_args()
    run.REPEAT = max(1, args.repeat)
    tmp = tempfile.mkdtemp(prefix="newbpe-bench-")
    sizes = [float(m) for m in args.mb.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    peers = [p for p in args.peers.split(",") if run.installed(p)]
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"corpus {os.path.basename(args.corpus)}; vocab {args.vocab}, transition {args.transition}; "
          f"median of {run.REPEAT} run(s) per cell")
    t0 = time.perf_counter()
    corpora = {mb: run.slice_corpus(args.corpus, mb, tmp) for mb in sizes}
    if "newbpe" in peers:
        for th in threads:          # warm: every kernel a full job reaches is compiled or loaded
            run.measure("superbpe", "newbpe", corpora[sizes[0]], args.vocab, args.transition, th)
    print()
    print("| MB | threads | peer | seconds | MB/s | peak RSS MB | vs HF |")
    print("|---|---|---|---|---|---|---|")
    for mb in sizes:
        for th in threads:
            rows = {p: run.measure("superbpe", p, corpora[mb], args.vocab, args.transition, th) for p in peers}
            hf = rows.get("hf", {}).get("seconds")
            for peer, r in rows.items():
                name = "newbpe SuperBPE (whole run)" if peer == "newbpe" else "HF BpeTrainer, stage 2 from scratch"
                if "error" in r:
                    print(f"| {mb:g} | {th} | {name} | error: {r['error'][:60]} | | | |", flush=True)
                    continue
                ratio = f"{r['seconds'] / hf:.2f}x" if hf else ""
                print(f"| {mb:g} | {th} | {name} | {r['seconds']:.1f} | {mb / r['seconds']:.2f} | "
                      f"{r['peak_rss_mb']:.0f} | {ratio} |", flush=True)
    print(f"\n# total bench time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
