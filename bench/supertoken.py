"""Random-chunk supertokens (issue 14): newbpe `--algo supertoken` vs HF `BpeTrainer` fed the same
chunks, one thread, plus bytes/token on held-out text vs plain BPE at the same vocabulary.

    python bench/supertoken.py [--corpus FILE] [--mb 50] [--vocab 32000] [--heldout FILE]

Each measurement runs in its own subprocess (peak RSS is that process's):
- newbpe: `newbpe.train(corpus, "supertoken", VOCAB, threads=1)` end to end: reading the file,
  chunking, counting the pieces and the merge loop (kernels loaded by an untimed 1 MB job first);
- HF: the pieces newbpe trains on (same seed, repeat runs removed) are made untimed and held as a
  list of str, then only `train_from_iterator(pieces)` is timed, with the reference's trainer
  settings (min_frequency 2, max_token_length 30, full ByteLevel alphabet) and
  ByteLevel(use_regex=False) as the only pre-tokenizer (each piece one pre-token); RAYON_NUM_THREADS=1.
Prints one table: seconds, MB/s of corpus, peak RSS, time ratio newbpe / HF (the issue's target is
<= 0.33), then bytes/token of both newbpe models on the held-out file, then (`--encode-sizes`) the
time to encode ONE unsplit line of 10^5 / 10^6 / 10^7 bytes (corpus text, newlines made spaces) with
the supertoken model: newbpe's `encode` vs stock HF `tokenizers` on the exported tokenizer.json (the
whole line is one pre-token for both), ids checked equal, each size in its own process.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NEWBPE = r"""
import json, resource, sys, time
import newbpe
corpus, vocab, warm, out, algo = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
kw = {"pretokenizer": "gpt2"} if algo == "bpe" else {}
newbpe.train(warm, algo, 1000, threads=1, **kw)                       # untimed: loads the kernels
t = time.perf_counter()
tok = newbpe.train(corpus, algo, vocab, threads=1, **kw)
seconds = time.perf_counter() - t
tok.save(out)
print(json.dumps({"seconds": seconds, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "unique": tok.stats.get("word_types"), "pieces": tok.stats.get("word_tokens")}))
"""

HF = r"""
import json, resource, sys, time
import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from newbpe.corpus import Corpus
from newbpe.pretokenizers.random_chunks import check_chunk_bins, chunk_batch
corpus, vocab = sys.argv[1], int(sys.argv[2])
bins, pieces, batch, n = check_chunk_bins(None), [], [], 0

def flush():
    global n
    data, bounds, _ = chunk_batch(batch, 0, np.arange(n, n + len(batch)), bins, remove_repeats=7)
    raw = data.tobytes()
    pieces.extend(raw[bounds[i]:bounds[i + 1]].decode("utf-8", "surrogateescape") for i in range(len(bounds) - 1))
    n += len(batch)
for text in Corpus(corpus).texts():
    batch.append(text)
    if len(batch) >= 20000:
        flush(); batch = []
if batch:
    flush()
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, max_token_length=30, show_progress=False,
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
t = time.perf_counter()
tok.train_from_iterator(pieces, trainer=trainer)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "unique": len(set(pieces)), "pieces": len(pieces)}))
"""

ENCODE = r"""
import json, resource, sys, time
model, corpus, n, who = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
raw = open(corpus, "rb").read(n + 4).replace(b"\n", b" ")[:n].decode("utf-8", "ignore")
if who == "newbpe":
    import newbpe
    tok = newbpe.load(model)
    tok.encode(raw[:1000])                                     # untimed: loads the kernels
    t = time.perf_counter(); ids = tok.encode(raw); seconds = time.perf_counter() - t
else:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(model + "/tokenizer.json")
    t = time.perf_counter(); ids = tok.encode(raw).ids; seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "bytes": len(raw.encode()), "n_ids": len(ids), "hash": hash(tuple(ids))}))
"""

BYTES_PER_TOKEN = r"""
import json, sys
import newbpe
text = open(sys.argv[2], encoding="utf-8").read()
tok = newbpe.load(sys.argv[1])
print(json.dumps({"bytes_per_token": len(text.encode()) / len(tok.encode(text))}))
"""


def run(code, *args, env=None):
    environ = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "RAYON_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", **(env or {})}
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=environ, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpora", "en", "gutenberg_50MB.txt"))
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--encode-sizes", default="1e5,1e6,1e7", help="single-line sizes in bytes ('' skips)")
    ap.add_argument("--hf-encode-max", type=float, default=1e7, help="largest line HF is asked to encode")
    ap.add_argument("--heldout", default=os.path.join(ROOT, "corpora", "en", "ud_en_pud_test.txt"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="newbpe-supertoken-")
    corpus, warm = os.path.join(tmp, "corpus.txt"), os.path.join(tmp, "warm.txt")
    with open(a.corpus, "rb") as f:
        data = f.read(int(a.mb * (1 << 20)))
    data = data[:data.rfind(b"\n") + 1]
    with open(corpus, "wb") as f:
        f.write(data)
    with open(warm, "wb") as f:
        f.write(data[:1 << 20])
    mb = len(data) / (1 << 20)
    rows = [("newbpe supertoken", run(NEWBPE, corpus, a.vocab, warm, os.path.join(tmp, "st"), "supertoken")),
            ("HF BpeTrainer, same pieces", run(HF, corpus, a.vocab))]
    print(f"corpus {mb:.1f} MB ({os.path.basename(a.corpus)}), vocab {a.vocab}, 1 thread")
    print("| trainer | seconds | MB/s | peak RSS MiB | pieces (unique / all) | time / HF |")
    print("|---|---|---|---|---|---|")
    hf_s = rows[1][1]["seconds"]
    for name, r in rows:
        print(f"| {name} | {r['seconds']:.1f} | {mb / r['seconds']:.2f} | {r['rss'] / 2**20:.0f} | "
              f"{r['unique']:,} / {r['pieces']:,} | {r['seconds'] / hf_s:.2f} |")
    bpe = run(NEWBPE, corpus, a.vocab, warm, os.path.join(tmp, "bpe"), "bpe")
    st = run(BYTES_PER_TOKEN, os.path.join(tmp, "st"), a.heldout)["bytes_per_token"]
    bp = run(BYTES_PER_TOKEN, os.path.join(tmp, "bpe"), a.heldout)["bytes_per_token"]
    print(f"\nheld-out {os.path.basename(a.heldout)}: bytes/token supertoken {st:.3f}, BPE (gpt2 pre-tokenizer) "
          f"{bp:.3f} ({(st / bp - 1) * 100:+.1f} % tokens for BPE); BPE training {bpe['seconds']:.1f} s")
    sizes = [int(float(x)) for x in a.encode_sizes.split(",") if x]
    if sizes:
        print("\none unsplit line, supertoken model (the whole line is one piece), 1 thread")
        print("| bytes | newbpe s | newbpe MB/s | newbpe peak RSS MiB | HF s | HF MB/s | HF peak RSS MiB | same ids |")
        print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        ours = run(ENCODE, os.path.join(tmp, "st"), a.corpus, n, "newbpe")
        theirs = run(ENCODE, os.path.join(tmp, "st"), a.corpus, n, "hf") if n <= a.hf_encode_max else None
        mb_n = ours["bytes"] / 1e6
        hf_cells = (f"{theirs['seconds']:.2f} | {mb_n / theirs['seconds']:.2f} | {theirs['rss'] / 2**20:.0f} | "
                    f"{'yes' if theirs['hash'] == ours['hash'] else 'NO'}") if theirs else "— | — | — | —"
        print(f"| {ours['bytes']:,} | {ours['seconds']:.2f} | {mb_n / ours['seconds']:.2f} | {ours['rss'] / 2**20:.0f} | "
              f"{hf_cells} |")


if __name__ == "__main__":
    main()
