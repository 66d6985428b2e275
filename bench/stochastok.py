"""StochasTok throughput: newbpe's kernel vs the reference algorithm on the same ids.

    python bench/stochastok.py [--corpus FILE] [--vocab 8000] [--tokens 1000000] [--doc-len 1024]
                               [--reference-dir PATH] [--single-doc-attempts 2000]

Trains a byte-level BPE model (gpt2 pattern, no special tokens, so newbpe ids equal the ranks of its
tiktoken export), encodes the corpus until `--tokens` ids, and times the expansion of those ids at
p = 0.1 and p = 1.0:
- as documents of `--doc-len` tokens (the reference expands each dataset example on its own), and
- as one document of all the ids (the reference splices Python lists, O(n) per split, so this is
  measured on its first `--single-doc-attempts` attempts and extrapolated linearly; marked "est.").
newbpe runs on 1 and 2 threads (best of 3, numba cache warm). With `--reference-dir` pointing to a
local checkout of anyasims/stochastok, its `StochastokProcessor` is imported from a private copy of
`stochastok_processor.py` in a temp directory (so its JSON cache, whose string keys would silently
disable expansion on a second run, is always fresh) and given a `tiktoken.Encoding` built from the
same model (`export/tiktoken.py`); its table is checked equal to newbpe's and its output checked
to have grown. Throughput is input tokens per second.
"""
import argparse
import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import newbpe  # noqa: E402
from newbpe.augment.stochastok import StochasTok  # noqa: E402


def corpus_default():
    shared = os.path.join(os.path.dirname(HERE), "..", "shared", "corpora", "en", "gutenberg_50MB.txt")
    return shared if os.path.exists(shared) else os.path.join(os.path.dirname(HERE), "corpora", "en", "tinyshakespeare.txt")


def get_ids(tok, path, n_tokens):
    out, total = [], 0
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        while total < n_tokens:
            block = f.read(4 << 20)
            if not block:
                f.seek(0)
                continue
            ids = np.concatenate([np.asarray(x, np.int64) for x in tok.encode_batch(block.splitlines(keepends=True))])
            out.append(ids)
            total += ids.size
    return np.concatenate(out)[:n_tokens]


def best_of(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def load_reference(ref_dir, tmp):
    """StochastokProcessor from a private copy of the reference module (fresh table cache)."""
    src = os.path.join(ref_dir, "stochastok_processor.py")
    if not os.path.exists(src):
        sys.exit(f"no stochastok_processor.py in {ref_dir}")
    private = os.path.join(tmp, "reference")
    os.makedirs(os.path.join(private, "data"), exist_ok=True)
    shutil.copy(src, private)
    sys.path.insert(0, private)
    import stochastok_processor
    return stochastok_processor.StochastokProcessor


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=corpus_default())
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--doc-len", type=int, default=1024)
    ap.add_argument("--reference-dir", default=None)
    ap.add_argument("--single-doc-attempts", type=int, default=2000)
    ap.add_argument("--train-mb", type=float, default=20)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="stochastok-bench-")
    t = time.perf_counter()
    with open(args.corpus, encoding="utf-8", errors="surrogateescape") as f:
        sample = f.read(int(args.train_mb * 1e6)).splitlines(keepends=True)
    tok = newbpe.train(sample, algo="bpe", vocab_size=args.vocab, pretokenizer="gpt2")
    ids = get_ids(tok, args.corpus, args.tokens)
    print(f"model: BPE vocab {tok.vocab_size} trained on {args.train_mb:g} MB of {os.path.basename(args.corpus)}; "
          f"{ids.size:,} ids ({time.perf_counter() - t:.1f} s)")
    t = time.perf_counter()
    st = StochasTok(tok)
    print(f"newbpe split table: {st} in {time.perf_counter() - t:.3f} s")

    n = ids.size
    doc_off = np.append(np.arange(0, n, args.doc_len), n).astype(np.int64)
    one_off = np.array([0, n], np.int64)
    st.expand_flat(ids[:5000], np.array([0, 5000]), 1.0, seed=0, threads=2)       # warm the numba cache
    st.expand_flat(ids[:5000], np.array([0, 2500, 5000]), 1.0, seed=0, threads=2)

    rows = []
    for label, offs in ((f"{len(doc_off) - 1} docs x {args.doc_len}", doc_off), ("1 doc", one_off)):
        for p in (0.1, 1.0):
            r = {"setting": label, "p": p}
            for th in (1, 2):
                r[f"newbpe_{th}"] = n / best_of(lambda: st.expand_flat(ids, offs, p, seed=0, threads=th))
            rows.append(r)

    if args.reference_dir:
        from newbpe.export.tiktoken import load_tiktoken_encoding, save_tiktoken
        save_tiktoken(tok, tmp, name="bench")
        enc = load_tiktoken_encoding(tmp, name="bench")
        Processor = load_reference(args.reference_dir, tmp)
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            proc = Processor(enc)
        print(f"reference split table built in {time.perf_counter() - t:.1f} s")
        ref_table = {int(k): sorted(tuple(x) for x in v) for k, v in proc.expansions.items()}
        ours = {k: sorted(v) for k, v in st.to_dict().items()}
        print("reference table == newbpe table:", ref_table == ours)
        docs = [ids[a:b].tolist() for a, b in zip(doc_off[:-1], doc_off[1:])]
        for r in rows:
            np.random.seed(0)
            random.seed(0)
            if r["setting"] == "1 doc":
                k = args.single_doc_attempts
                full = int(n * r["p"])
                doc = ids.tolist()
                t = time.perf_counter()
                out = proc.expand(doc, expand_prop=k / n)
                sec = (time.perf_counter() - t) * full / k
                r["reference_est"] = True
            else:
                t = time.perf_counter()
                out = [proc.expand(d, expand_prop=r["p"]) for d in docs]
                sec = time.perf_counter() - t
                out = [x for d in out for x in d]
            assert len(out) > n, "the reference did not expand (string-key cache?)"
            r["reference"] = n / sec

    print()
    print("| input | p | newbpe 1 thread | newbpe 2 threads | reference | speedup 1 thread | speedup 2 threads |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ref = r.get("reference")
        est = " (est.)" if r.get("reference_est") else ""
        cells = [r["setting"], f"{r['p']}", f"{r['newbpe_1'] / 1e6:.1f} M tok/s", f"{r['newbpe_2'] / 1e6:.1f} M tok/s"]
        if ref:
            cells += [f"{ref / 1e3:.1f} k tok/s{est}", f"{r['newbpe_1'] / ref:,.0f}x{est}", f"{r['newbpe_2'] / ref:,.0f}x{est}"]
        else:
            cells += ["-", "-", "-"]
        print("| " + " | ".join(cells) + " |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
