"""Encoding speed of each encoder, end to end and in the numba kernels alone, for one or more source
trees measured in the same run (e.g. a branch against main: `--tree /path/to/main --tree .`).

    python bench/encoders.py TEXT --model DIR:ENCODER[:MB] [--model ...] [--tree PATH ...]
                             [--threads 1,2] [--repeat 3] [--runs 3]

For every (model, encoder, threads, tree): `encode_batch` MB/s over the first MB megabytes of TEXT
(default 10; documents split at blank lines, as bench/peers.py does), and `encode_units` MB/s of the
same input already pre-tokenized (the part the encoders own), each run from empty piece caches, in
wall-clock MB/s and in MB per CPU second of the process (all threads; less sensitive to other jobs).
A process loads the compiled kernels first, then keeps the best of --runs runs (interference from
other jobs on a shared machine only ever slows a run down); the trees take turns for --repeat fresh
processes each, with PYTHONPATH set to the tree, and the median of those bests is printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

PROBE = r"""
import json, sys, time
import newbpe
model, encoder, text = sys.argv[1:4]
mb, threads, runs = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
with open(text, "rb") as f:
    docs = f.read(int(mb * 1e6)).decode("utf-8", "ignore").split("\n\n")
n_bytes = sum(len(d.encode()) for d in docs)
tok = newbpe.load(model)
tok.encode_batch(docs[:10], encoder=encoder, threads=threads)          # load compiled kernels
enc = tok._encoder(encoder)
units, offsets, _ = tok._segments_units(docs, threads)
best = {k: float("inf") for k in ("batch", "kernel", "kernel_cpu")}
for _ in range(runs):                          # best of `runs`, each from empty piece caches
    enc._bank = None
    t = time.perf_counter()
    ids = tok.encode_batch(docs, encoder=encoder, threads=threads)
    best["batch"] = min(best["batch"], time.perf_counter() - t)
    enc._bank = None
    t, c = time.perf_counter(), time.process_time()
    got, _ = enc.encode_units(units, offsets, threads=threads)
    best["kernel"] = min(best["kernel"], time.perf_counter() - t)
    best["kernel_cpu"] = min(best["kernel_cpu"], time.process_time() - c)
res = {k: n_bytes / 1e6 / v for k, v in best.items()}
print(json.dumps({**res, "tokens": sum(map(len, ids)), "kernel_tokens": int(len(got))}))
"""


def run(tree, model, encoder, text, mb, threads, runs):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    r = subprocess.run([sys.executable, "-c", PROBE, model, encoder, text, str(mb), str(threads), str(runs)],
                       capture_output=True, text=True, env=env, cwd=os.path.abspath(tree))
    if r.returncode != 0:
        raise SystemExit(f"{tree}: {(r.stderr.strip().splitlines() or ['failed'])[-1]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text")
    ap.add_argument("--model", action="append", required=True, help="DIR:ENCODER[:MB]")
    ap.add_argument("--tree", action="append", help="source tree to import newbpe from (default .)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per cell (median)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per process (best)")
    args = ap.parse_args()
    trees = args.tree or ["."]
    print(f"# {os.path.basename(args.text)}; MB/s of UTF-8 input: median over {args.repeat} fresh processes "
          f"of the best of {args.runs} runs each")
    print("\n| model | encoder | MB | threads | tree | encode_batch MB/s | encode_units MB/s | "
          "encode_units MB per CPU s | tokens |")
    print("|---|---|---|---|---|---|---|---|---|")
    for spec in args.model:
        model, encoder, *mb = spec.split(":")
        mb = float(mb[0]) if mb else 10.0
        for th in (int(t) for t in args.threads.split(",")):
            runs = {tree: [] for tree in trees}
            for _ in range(args.repeat):
                for tree in trees:
                    runs[tree].append(run(tree, model, encoder, args.text, mb, th, args.runs))
            for tree in trees:
                rs = runs[tree]
                if len({r["tokens"] for r in rs}) != 1:
                    raise SystemExit(f"{tree}: token counts differ between runs")
                print(f"| {os.path.basename(model.rstrip('/'))} | {encoder} | {mb:g} | {th} | {tree} | "
                      f"{statistics.median(r['batch'] for r in rs):.2f} | "
                      f"{statistics.median(r['kernel'] for r in rs):.2f} | "
                      f"{statistics.median(r['kernel_cpu'] for r in rs):.2f} | {rs[0]['tokens']} |", flush=True)


if __name__ == "__main__":
    main()
