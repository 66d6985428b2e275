"""Memory on one long line (issue 12): peak RSS and time of whole `newbpe` commands.

    python bench/long_line.py [--corpus FILE] [--mb 30] [--vocab 1000]

Makes one line of `--mb` MB from the corpus (its line breaks become spaces), then runs, each in its
own process with /usr/bin/time's peak RSS, on that line and on a 1 KB line (the process floor):
- `newbpe encode` with a gpt2 model (4,000 tokens, trained on the bundled Shakespeare): the line is
  read and encoded in parts cut at safe points (newbpe/cuts.py);
- `newbpe train --pretokenizer none --vocab-size VOCAB`: the line is one 30M-unit word;
- `newbpe encode` of the line with that `none` model: one piece, which cannot be cut.
Prints a table: peak RSS, growth above the floor per byte of input, seconds. The README's "Memory per
piece" table comes from this script (and the same run against the commit before the change).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(args):
    """(peak RSS bytes, seconds) of `python -m newbpe.cli ARGS`."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "newbpe.cli", *map(str, args)],
                       env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return kb * 1024, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpora", "en", "gutenberg_50MB.txt"))
    ap.add_argument("--mb", type=float, default=30)
    ap.add_argument("--vocab", type=int, default=1000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="newbpe-long-line-")
    n = int(a.mb * (1 << 20))
    with open(a.corpus, "rb") as f:
        data = f.read(n).replace(b"\n", b" ")
    big, tiny = os.path.join(tmp, "big.txt"), os.path.join(tmp, "tiny.txt")
    with open(big, "wb") as f:
        f.write(data + b"\n")
    with open(tiny, "wb") as f:
        f.write(data[:1000] + b"\n")
    gpt2, none = os.path.join(tmp, "gpt2"), os.path.join(tmp, "none")
    run(["train", "--vocab-size", 4000, "--progress", "none", "-o", gpt2,
         os.path.join(ROOT, "corpora", "en", "tinyshakespeare.txt")])
    rows = []
    for name, args in (("encode (gpt2 model)", ["encode", "-m", gpt2, "{}"]),
                       (f"train --pretokenizer none --vocab-size {a.vocab}",
                        ["train", "--pretokenizer", "none", "--vocab-size", a.vocab, "--progress", "none",
                         "-o", none, "{}"]),
                       ("encode one piece (none model)", ["encode", "-m", none, "{}"])):
        floor, _ = run([tiny if x == "{}" else x for x in args])
        peak, seconds = run([big if x == "{}" else x for x in args])     # (train: the model encoded next)
        rows.append((name, peak, floor, seconds))
    print(f"# one line of {len(data) / 2**20:.1f} MiB from {os.path.basename(a.corpus)}; peak RSS of the whole command")
    print("| command | peak RSS MiB | floor (1 KB line) MiB | growth / input size | seconds |")
    print("|---|---|---|---|---|")
    for name, peak, floor, seconds in rows:
        print(f"| {name} | {peak / 2**20:.0f} | {floor / 2**20:.0f} | {(peak - floor) / len(data):.1f}x | {seconds:.1f} |")


if __name__ == "__main__":
    main()
