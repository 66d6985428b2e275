"""How long `run_eval` takes per tokenizer on 10 MB, how much of it is encoding, and what
tokenization-scorer (zouharvi/tokenization-scorer) takes for its Rényi efficiency and Shannon
entropy on the same token streams.

    python bench/eval.py [--mb 10] [--threads 2] [--cache /tmp/newbpe-bench-eval]

Tokenizers (trained once into --cache, then reused): newbpe BPE 32k on the corpus head, newbpe Picky
BPE 8k on its first 2 MB, the BPE's tokenizer.json encoded through `tokenizers` (a
`tokenizers.Tokenizer` object, so newbpe's encoder is not used), its `.tiktoken` export through
tiktoken, and a SentencePiece unigram 8k on 2 MB. Columns: `encode s` = the adapter's encode calls
alone over the corpus; `run_eval s` = run_eval on that tokenizer and corpus (encoding + every
metric + GPT-2 pre-token count of the corpus); `scorer s` = tokenization_scorer.score for
metric="renyi" (α=2.5) plus metric="shannon_entropy" on the token stream written as
space-separated ids, one line per corpus line (building that string is not counted).
Prints one table.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpora", "en",
                      "gutenberg_50MB.txt")


def head(src, dst, n_bytes):
    if not os.path.exists(dst):
        with open(src, "rb") as f:
            data = f.read(n_bytes)
        with open(dst, "wb") as f:
            f.write(data[:data.rfind(b"\n") + 1])
    return dst


def build(cache, corpus, small, threads):
    """{label: source} for the five tokenizers, trained into `cache` once."""
    import newbpe
    bpe, picky, sp = (os.path.join(cache, n) for n in ("bpe32k", "picky8k", "sp8k"))
    if not os.path.exists(os.path.join(bpe, "model.json")):
        tok = newbpe.train(corpus, vocab_size=32000, threads=threads)
        tok.save(bpe)
        from newbpe.export.tiktoken import save_tiktoken
        save_tiktoken(tok, bpe, name="bpe32k")
    if not os.path.exists(os.path.join(picky, "model.json")):
        newbpe.train(small, algo="picky", vocab_size=8000, threads=threads).save(picky)
    if not os.path.exists(sp + ".model"):
        import sentencepiece as spm
        spm.SentencePieceTrainer.train(input=small, model_prefix=sp, vocab_size=8000, model_type="unigram",
                                       num_threads=threads, minloglevel=2, byte_fallback=True,
                                       input_sentence_size=200000, shuffle_input_sentence=False)
    from tokenizers import Tokenizer as HFTokenizer
    return {"newbpe bpe32k": bpe, "newbpe picky8k": picky,
            "hf tokenizers (bpe32k json)": HFTokenizer.from_file(os.path.join(bpe, "tokenizer.json")),
            "tiktoken (bpe32k)": os.path.join(bpe, "bpe32k.tiktoken"), "sentencepiece unigram8k": sp + ".model"}


def encode_only(adapter, corpus):
    """Seconds of the adapter's encode calls over the corpus, and the token stream as id lines."""
    from newbpe.evaluation.run import _Batch, read_batches
    seconds, lines = 0.0, []
    for batch_lines in read_batches(corpus):
        offsets = _Batch(batch_lines).offsets
        t0 = time.perf_counter()
        enc = adapter.encode(batch_lines, offsets)
        seconds += time.perf_counter() - t0
        ids = enc.ids.astype(str)
        lines.extend(" ".join(ids[a:b]) for a, b in zip(enc.token_bounds[:-1], enc.token_bounds[1:]))
    return seconds, "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="/tmp/newbpe-bench-eval")
    args = ap.parse_args()
    if not os.path.exists(CORPUS):
        sys.exit(f"{CORPUS} not present (shared corpora are needed for this benchmark)")
    os.makedirs(args.cache, exist_ok=True)
    corpus = head(CORPUS, os.path.join(args.cache, f"gutenberg_{args.mb:g}MB.txt"), int(args.mb * 1e6))
    small = head(CORPUS, os.path.join(args.cache, "gutenberg_2MB.txt"), 2_000_000)
    import numpy as np
    from newbpe.evaluation import run_eval
    from newbpe.evaluation.tokenizers import load_adapter
    try:
        import tokenization_scorer
    except ImportError:
        tokenization_scorer = None
    sources = build(args.cache, corpus, small, args.threads)
    rows = []
    for label, source in sources.items():
        adapter = load_adapter(source, args.threads)
        adapter.encode(["warm up the compiled encoders"], np.array([0, 29]))
        enc_s, stream = encode_only(adapter, corpus)
        t0 = time.perf_counter()
        r = run_eval([(source, label)], [(corpus, "en")], threads=args.threads, samples=0)
        total_s = time.perf_counter() - t0
        scorer_s = None
        if tokenization_scorer is not None:
            devnull = open(os.devnull, "w")
            stderr, sys.stderr = sys.stderr, devnull           # it prints its vocabulary size and tqdm bars
            try:
                t0 = time.perf_counter()
                renyi = tokenization_scorer.score(stream, metric="renyi", power=2.5)
                shannon = tokenization_scorer.score(stream, metric="shannon_entropy")
                scorer_s = time.perf_counter() - t0
            finally:
                sys.stderr = stderr
                devnull.close()
            row = r.rows[0]
            assert abs(renyi - row["renyi_efficiency"]) < 1e-9 and abs(shannon - row["shannon_entropy"]) < 1e-9
        row = r.rows[0]
        rows.append((label, r.tokenizers[0]["kind"], r.tokenizers[0]["vocab_size"], row["tokens"],
                     row["bytes_per_token"], enc_s, total_s, scorer_s))
    mb = os.path.getsize(corpus) / 1e6
    print(f"run_eval on {mb:.1f} MB of Gutenberg, {args.threads} threads")
    print("| tokenizer | kind | vocab | tokens | bytes/token | encode s | run_eval s | MB/s | scorer s (Rényi + Shannon) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, kind, v, n, bpt, enc_s, total_s, scorer_s in rows:
        scorer = f"{scorer_s:.2f}" if scorer_s is not None else "not installed"
        print(f"| {label} | {kind} | {v} | {n:,} | {bpt:.3f} | {enc_s:.2f} | {total_s:.2f} | {mb / total_s:.1f} | {scorer} |")


if __name__ == "__main__":
    main()
