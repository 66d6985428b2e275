"""Benchmark newbpe against its peers in one run and print one table.

    python bench/run.py CORPUS [--vocab 32000] [--patterns gpt2,cl100k] [--threads 1,2] [--mb 0]
                               [--peers newbpe,newbpe-parts,newbpe-cli,hf,rustbpe,sentencepiece]
                               [--encode-mb 10] [--repeat 1]

Training: wall seconds (counting included) and peak RSS per peer and thread count, ratio to HF at the
same thread count. `newbpe` is the library call (`newbpe.count` + `newbpe.train`, like HF's
`Tokenizer.train`); `newbpe-cli` is the whole `newbpe train` command in its own process, writing
model.json and tokenizer.json; `newbpe-parts` is the library call with the partitioned (parallel)
merge loop forced on. A second table splits newbpe's time into counting and merging per thread
count (the merge loop's 1- vs 2-thread ratio, with and without partitions). Encoding: MB/s on `--encode-mb` MB of the corpus with the same 32k vocabulary
(newbpe's model exported to tokenizer.json and .tiktoken). Each measurement runs in its own process;
numba's compile cache is warmed first (cold start is reported on its own line). Peers that are not
installed are skipped.
"""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


REPEAT = 1


def measure(*args):
    """One measurement in a fresh process; with --repeat N, the run with the median time (a shared
    VM varies by 20-30% between runs)."""
    runs = []
    for _ in range(REPEAT):
        r = subprocess.run([sys.executable, os.path.join(HERE, "peers.py"), *map(str, args)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    runs.sort(key=lambda x: x["seconds"])
    return runs[len(runs) // 2]


def installed(peer):
    if peer == "newbpe-cli":
        import shutil
        return shutil.which("newbpe") is not None
    mod = {"hf": "tokenizers", "newbpe-parts": "newbpe"}.get(peer, peer)
    return importlib.util.find_spec(mod) is not None


def slice_corpus(path, mb, out_dir):
    if not mb:
        return path
    out = os.path.join(out_dir, f"slice_{mb}MB.txt")
    left = int(mb * 1e6)
    with open(out, "wb") as w:
        while left > 0:
            with open(path, "rb") as r:
                while left > 0:
                    chunk = r.read(min(left, 1 << 24))
                    if not chunk:
                        break
                    w.write(chunk)
                    left -= len(chunk)
    return out


def print_rows(task, pattern, threads, rows, size_mb):
    """One table row per peer: seconds, MB/s, peak RSS and the ratio to HF at the same threads."""
    hf = rows.get("hf", {}).get("seconds")
    for peer, r in rows.items():
        if "error" in r:
            print(f"| {task} | {pattern} | {peer} | {threads} | error: {r['error'][:60]} | | | |")
            continue
        ratio = f"{r['seconds'] / hf:.2f}x" if hf else ""
        print(f"| {task} | {pattern} | {peer} | {threads} | {r['seconds']:.2f} | {size_mb / r['seconds']:.1f} | "
              f"{r['peak_rss_mb']:.0f} | {ratio} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--patterns", default="gpt2")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--mb", type=float, default=0, help="use (and repeat if needed) this many MB of the corpus")
    ap.add_argument("--peers", default="newbpe,newbpe-parts,newbpe-cli,hf,rustbpe,sentencepiece")
    ap.add_argument("--encode-mb", type=float, default=10)
    ap.add_argument("--no-encode", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="runs per cell; the median is reported")
    args = ap.parse_args()
    global REPEAT
    REPEAT = max(1, args.repeat)
    tmp = tempfile.mkdtemp(prefix="newbpe-bench-")
    corpus = slice_corpus(args.corpus, args.mb, tmp)
    size_mb = os.path.getsize(corpus) / 1e6
    threads = [int(t) for t in args.threads.split(",")]
    peers = [p for p in args.peers.split(",") if installed(p)]
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"corpus {os.path.basename(args.corpus)} {size_mb:.1f} MB; vocab {args.vocab}; "
          f"median of {REPEAT} run(s) per cell")
    t0 = time.perf_counter()
    cold = measure("train", "newbpe", corpus if size_mb < 2 else slice_corpus(args.corpus, 1, tmp), 1000, "gpt2", 1)
    print(f"# newbpe first call in this run (compile or cache load): {cold.get('seconds', float('nan')):.2f} s")
    # Kernels that only a full-size job reaches (pool growth, occurrence-index rebuilds, the
    # partitioned loop's parallel rewrite) compile on first use: one untimed full job per variant and
    # thread count first, so no timed cell includes a compile.
    for peer in [p for p in ("newbpe", "newbpe-parts") if p in peers]:
        for t in threads:
            measure("train", peer, corpus, args.vocab, "gpt2", t)
    print()
    print("| task | pattern | peer | threads | seconds | MB/s | peak RSS MB | vs HF |")
    print("|---|---|---|---|---|---|---|---|")
    phases = []
    for pattern in args.patterns.split(","):
        for th in threads:
            rows = {p: measure("train", p, corpus, args.vocab, pattern, th) for p in peers}
            print_rows("train", pattern, th, rows, size_mb)
            for variant in ("newbpe", "newbpe-parts"):
                if "merge_seconds" in rows.get(variant, {}):
                    phases.append((variant, pattern, th, rows[variant]["count_seconds"], rows[variant]["merge_seconds"]))
    if phases:
        print("\nnewbpe's phases (library call; count includes numba's start-up, merge = engine build + merge loop):\n")
        print("| variant | pattern | threads | count s | merge s | merge vs newbpe at 1 thread |")
        print("|---|---|---|---|---|---|")
        one = {p: m for v, p, th, _, m in phases if th == 1 and v == "newbpe"}
        for variant, pattern, th, c, m in phases:
            ratio = f"{m / one[pattern]:.2f}x" if pattern in one else ""
            print(f"| {variant} | {pattern} | {th} | {c:.2f} | {m:.2f} | {ratio} |")
    if not args.no_encode:
        import newbpe
        from newbpe.export.tiktoken import save_tiktoken
        model_dir = os.path.join(tmp, "model")
        pattern = args.patterns.split(",")[0]
        tok = newbpe.train([corpus], vocab_size=args.vocab, pretokenizer=pattern)
        tok.save(model_dir)
        save_tiktoken(tok, model_dir, strict=False)
        text = slice_corpus(args.corpus, args.encode_mb, tmp)
        for th in threads:
            rows = {p: measure("encode", p, model_dir, text, th) for p in ("newbpe", "hf", "tiktoken") if installed(p)}
            print_rows(f"encode {args.encode_mb:g} MB", pattern, th, rows, args.encode_mb)
    print(f"\n# total bench time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
