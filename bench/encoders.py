"""Encoding speed of each encoder, end to end and in the numba kernels alone, for one or more source
trees measured in the same run (e.g. a branch against main: `--tree /path/to/main --tree .`).

    python bench/encoders.py TEXT --model DIR:ENCODER[:MB] [--model ...] [--tree PATH ...]
                             [--threads 1,2] [--repeat 3]

For every (model, encoder, threads, tree): `encode_batch` MB/s over the first MB megabytes of TEXT
(default 10; documents split at blank lines, as bench/peers.py does), and `encode_units` MB/s of the
same input already pre-tokenized, starting from empty piece caches (the part the encoders own). Each measurement runs in a fresh
process with PYTHONPATH set to the tree, after a warm-up call that loads the compiled kernels; with
--repeat N the trees take turns N times (a shared VM drifts) and the median is printed.
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
model, encoder, text, mb, threads = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
with open(text, "rb") as f:
    docs = f.read(int(mb * 1e6)).decode("utf-8", "ignore").split("\n\n")
n_bytes = sum(len(d.encode()) for d in docs)
tok = newbpe.load(model)
tok.encode_batch(docs[:10], encoder=encoder, threads=threads)          # load compiled kernels
t = time.perf_counter()
ids = tok.encode_batch(docs, encoder=encoder, threads=threads)
batch = time.perf_counter() - t
enc = tok._encoder(encoder)
enc._bank = None                                                       # cold piece caches again
enc.encode_units(*tok._segments_units(docs[:10])[:2], threads=threads)
units, offsets, _ = tok._segments_units(docs, threads)
t = time.perf_counter()
got, _ = enc.encode_units(units, offsets, threads=threads)
kernel = time.perf_counter() - t
print(json.dumps({"batch": n_bytes / 1e6 / batch, "kernel": n_bytes / 1e6 / kernel,
                  "tokens": sum(map(len, ids)), "kernel_tokens": int(len(got))}))
"""


def run(tree, model, encoder, text, mb, threads):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    r = subprocess.run([sys.executable, "-c", PROBE, model, encoder, text, str(mb), str(threads)],
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
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    trees = args.tree or ["."]
    print(f"# {os.path.basename(args.text)}; median of {args.repeat} fresh processes per cell; "
          f"MB/s of UTF-8 input")
    print("\n| model | encoder | MB | threads | tree | encode_batch MB/s | encode_units MB/s | tokens |")
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.model:
        model, encoder, *mb = spec.split(":")
        mb = float(mb[0]) if mb else 10.0
        for th in (int(t) for t in args.threads.split(",")):
            runs = {tree: [] for tree in trees}
            for _ in range(args.repeat):
                for tree in trees:
                    runs[tree].append(run(tree, model, encoder, args.text, mb, th))
            for tree in trees:
                rs = runs[tree]
                if len({r["tokens"] for r in rs}) != 1:
                    raise SystemExit(f"{tree}: token counts differ between runs")
                print(f"| {os.path.basename(model.rstrip('/'))} | {encoder} | {mb:g} | {th} | {tree} | "
                      f"{statistics.median(r['batch'] for r in rs):.2f} | "
                      f"{statistics.median(r['kernel'] for r in rs):.2f} | {rs[0]['tokens']} |", flush=True)


if __name__ == "__main__":
    main()
