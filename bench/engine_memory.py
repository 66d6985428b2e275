"""Merge-engine memory per unique word, and the projection to a 100 GB corpus (issue 19).

    python bench/engine_memory.py [--sizes 150000,1000000,5000000] [--vocab 32000] [--heaps-mb 64]

1. Word tables of each size are built from the words of ../shared/corpora (every corpus pre-tokenized
   with gpt2), varied so unique words keep growing as they do in real data: a variant is a corpus
   word with a digit suffix, a prefix ("re", "un", "pre", "de", "co", "anti") or both (numbers,
   inflections, hapaxes); counts follow the corpus word's count divided by the variant's rank (Zipf
   tail). Each size is trained in its own child process (`newbpe.train(table, vocab_size=VOCAB)`);
   the child loads the table, warms the kernels of both engines (single and partitioned: above
   400k words the loop partitions) on a small table, resets its peak RSS
   (/proc/self/clear_refs 5), trains, and reports VmHWM minus the RSS before training: the engine's
   own peak, per unique word (the table itself is not included).
2. Heaps' law: unique gpt2 words U(n) of growing prefixes of a mix of the corpora (64 KB blocks of
   every corpus, shuffled with a fixed seed, so each prefix mixes languages and code alike), fitted as U = K n^beta by least
   squares in log space, extrapolated to 10 and 100 GB; the projected engine memory is U times the
   bytes per word of the largest table measured (smaller tables carry the fixed costs of a 32k
   vocabulary).
Prints one table (sizes) and the fit with its projection. The README's "Memory" figures come from it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPORA = os.path.join(ROOT, "..", "shared", "corpora")
PREFIXES = ("", "re", "un", "pre", "de", "co", "anti")


def corpus_files():
    out = []
    for d, _, names in sorted(os.walk(CORPORA)):
        out += [os.path.join(d, n) for n in sorted(names) if n.endswith(".txt")]
    return out


def base_words():
    """(words, counts) of every corpus, gpt2 pieces, most frequent first."""
    import newbpe
    wc = newbpe.count(corpus_files(), threads=2)
    table = sorted(wc.table.items(), key=lambda kv: (-kv[1], kv[0]))
    return [w for w, _ in table], [c for _, c in table]


def synthetic_table(words, counts, n):
    """A {word: count} of n unique words: the corpus words, then variants (see the docstring)."""
    out = dict(zip(words[:n], counts[:n]))
    rank = 1
    while len(out) < n:
        rank += 1
        for w, c in zip(words, counts):
            if len(out) >= n:
                break
            lead = w[:1] if w[:1] == b" " else b""
            stem = w[len(lead):]
            prefix = PREFIXES[rank % len(PREFIXES)].encode()
            variant = lead + prefix + stem + (str(rank).encode() if rank % 3 else b"")
            if variant not in out:
                out[variant] = max(1, c // rank)
    return out


def child(path, vocab):
    """In a child process: load the table, warm up, reset the peak, train, report."""
    import numpy as np
    import newbpe
    wc = newbpe.WordCounts.load(path)
    from newbpe.trainers.bpe import train as train_bpe
    warm = newbpe.WordCounts.from_dict({b"warm up %d" % i: 3 + i % 5 for i in range(3000)})
    for partitions in (1, 2):           # both engines' kernels loaded (or compiled) before the reset
        train_bpe(warm, 400, _partitions=partitions, _parallel_threshold=1)
    rss = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    t = time.perf_counter()
    newbpe.train(wc, vocab_size=vocab)
    seconds = time.perf_counter() - t
    data, offsets, counts = wc.arrays(copy=False)
    print(json.dumps({"words": len(wc), "bytes": int(len(data)), "peak": _status("VmHWM") - rss,
                      "seconds": seconds, "mean_len": float(np.diff(offsets).mean())}))


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def heaps(mb):
    """[(bytes, unique words)] of growing prefixes, up to `mb` MB, of the corpora cut into 64 KB
    blocks (at line ends) and shuffled with a fixed seed: every prefix is the same mix of languages
    and code, as one large corpus would be."""
    import random
    import newbpe
    blocks = []
    for p in corpus_files():
        with open(p, "rb") as f:
            data = f.read()
        start = 0
        while start < len(data):
            end = data.rfind(b"\n", start, start + (1 << 16)) + 1
            end = end if end > start else min(len(data), start + (1 << 16))
            blocks.append((start, end, p))
            start = end
    random.Random(0).shuffle(blocks)
    wc = newbpe.WordCounts("gpt2")
    points, done, target, cache = [], 0, 1 << 20, {}
    for start, end, p in blocks:
        if done >= mb << 20:
            break
        if p not in cache:
            with open(p, "rb") as f:
                cache[p] = f.read()
        b = cache[p][start:end]
        wc.add_texts(b.decode("utf-8", "surrogateescape").splitlines(keepends=True))
        done += len(b)
        if done >= target:
            points.append((done, len(wc)))
            target *= 2
    if not points or points[-1][0] != done:
        points.append((done, len(wc)))
    return points


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="150000,1000000,5000000")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--heaps-mb", type=int, default=128)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child[0], int(a.child[1]))
    sys.path.insert(0, ROOT)
    import numpy as np
    import newbpe
    words, counts = base_words()
    tmp = tempfile.mkdtemp(prefix="newbpe-engine-memory-")
    rows = []
    for n in [int(s) for s in a.sizes.split(",")]:
        path = os.path.join(tmp, f"{n}.npz")
        newbpe.WordCounts.from_dict(synthetic_table(words, counts, n)).save(path)
        env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        r = subprocess.run([sys.executable, __file__, "--child", path, str(a.vocab)], env=env,
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(r.stderr[-2000:])
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        os.remove(path)
    print(f"engine peak RSS of newbpe.train(WordCounts, vocab_size={a.vocab}), bpe, gpt2 words "
          f"({len(words)} corpus words + variants)")
    print(f"{'unique words':>13} {'mean bytes':>10} {'engine peak MB':>15} {'bytes/word':>11} {'train s':>8}")
    for r in rows:
        print(f"{r['words']:>13,} {r['mean_len']:>10.2f} {r['peak'] / 1e6:>15.1f} "
              f"{r['peak'] / r['words']:>11.0f} {r['seconds']:>8.1f}")
    points = heaps(a.heaps_mb)
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    beta, log_k = np.polyfit(x, y, 1)
    print("\nHeaps' law on growing prefixes of the mixed corpora (bytes -> unique gpt2 words):")
    print("  " + ", ".join(f"{b / 2**20:.0f} MB: {u:,}" for b, u in points))
    per_word = rows[-1]["peak"] / rows[-1]["words"]      # the largest table: fixed costs amortised
    for gb in (10, 100):
        u = float(np.exp(log_k) * (gb * 1e9) ** beta)
        print(f"  U = {np.exp(log_k):.2f} n^{beta:.3f}  ->  {gb} GB: {u / 1e6:.1f}M unique words, "
              f"engine ~{u * per_word / 1e9:.1f} GB at {per_word:.0f} bytes/word")


if __name__ == "__main__":
    main()
