"""One benchmark measurement per process, so peak RSS is the measured tool's own.

    python bench/peers.py train PEER CORPUS VOCAB PATTERN THREADS
    python bench/peers.py encode PEER MODEL_DIR TEXT THREADS
    python bench/peers.py superbpe PEER CORPUS VOCAB TRANSITION THREADS

prints one JSON line: {"seconds": …, "peak_rss_mb": …, …}. Peers: newbpe (library call; also reports
its count and merge phases), newbpe-parts (the same with the partitioned merge loop forced on), newbpe-cli (the `newbpe train` command, files written), hf, rustbpe,
sentencepiece (training); newbpe, hf, tiktoken (encoding); SuperBPE (bench/superbpe.py): newbpe's
whole two-stage run, and hf = HF BpeTrainer from scratch on the stage-2 pre-tokenization (what the
reference's stage 2 costs without its replay).
"""
import json
import os
import resource
import sys
import time


def lines(path, chunk=1 << 20):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        yield from f


def train(peer, corpus, vocab, pattern, threads):
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    t0 = time.perf_counter()
    phases = {}
    if peer in ("newbpe", "newbpe-parts"):
        import newbpe
        if peer == "newbpe-parts":              # force the partitioned merge loop (off by default)
            import newbpe.trainers.bpe
            newbpe.trainers.bpe.PARTITION_MIN_WORDS = 0
        wc = newbpe.count([corpus], pretokenizer=pattern, threads=threads)      # = newbpe.train([corpus], ...)
        phases["count_seconds"] = time.perf_counter() - t0
        tok = newbpe.train(wc, vocab_size=vocab, threads=threads)
        phases["merge_seconds"] = time.perf_counter() - t0 - phases["count_seconds"]
        n = tok.vocab_size
    elif peer == "newbpe-cli":
        # the whole `newbpe train` command in its own process: start-up, counting, merging, and
        # writing model.json + tokenizer.json (peak RSS is that process's)
        import subprocess
        import tempfile
        out = tempfile.mkdtemp(prefix="newbpe-cli-")
        subprocess.run(["newbpe", "train", corpus, "--vocab-size", str(vocab), "--pretokenizer", pattern,
                        "--threads", str(threads), "--progress", "none", "-o", out],
                       check=True, capture_output=True)
        with open(os.path.join(out, "model.json")) as f:
            n = len(json.load(f)["tokens"])
    elif peer == "hf":
        from tokenizers import pre_tokenizers, trainers
        from newbpe.export.hf import hf_untrained
        tok = hf_untrained(pattern)
        tok.train([corpus], trainers.BpeTrainer(vocab_size=vocab, show_progress=False,
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        n = tok.get_vocab_size()
    elif peer == "rustbpe":
        import rustbpe
        from newbpe.pretokenizers import PATTERNS
        tok = rustbpe.Tokenizer()
        tok.train_from_iterator(lines(corpus), vocab, pattern=PATTERNS[pattern])
        n = tok.vocab_size
    elif peer == "sentencepiece":
        import sentencepiece as spm
        import io
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(input=corpus, model_type="bpe", vocab_size=vocab, num_threads=threads,
                                       model_writer=model, minloglevel=2, byte_fallback=True,
                                       character_coverage=0.9995, max_sentence_length=1 << 16,
                                       input_sentence_size=0, train_extremely_large_corpus=False)
        n = vocab
    else:
        raise SystemExit(f"unknown peer {peer}")
    return {"seconds": time.perf_counter() - t0, "vocab": n, **phases}


def encode(peer, model_dir, text_path, threads):
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    with open(text_path, encoding="utf-8") as f:
        docs = f.read().split("\n\n")
    n_bytes = sum(len(d.encode()) for d in docs)
    if peer in ("newbpe", "newbpe-parts"):
        import newbpe
        if peer == "newbpe-parts":              # force the partitioned merge loop (off by default)
            import newbpe.trainers.bpe
            newbpe.trainers.bpe.PARTITION_MIN_WORDS = 0
        tok = newbpe.load(model_dir)
        tok.encode_batch(docs[:10], threads=threads)          # load compiled kernels
        run = lambda: tok.encode_batch(docs, threads=threads)
    elif peer == "hf":
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        run = lambda: [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)]
    elif peer == "tiktoken":
        from newbpe.export.tiktoken import load_tiktoken_encoding
        enc = load_tiktoken_encoding(model_dir)
        run = lambda: enc.encode_ordinary_batch(docs, num_threads=threads)
    else:
        raise SystemExit(f"unknown peer {peer}")
    t0 = time.perf_counter()
    out = run()
    dt = time.perf_counter() - t0
    return {"seconds": dt, "mb_per_s": n_bytes / 1e6 / dt, "tokens": sum(len(x) for x in out)}


def superbpe(peer, corpus, vocab, transition, threads):
    """newbpe: `newbpe.train(algo="superbpe", transition=T)`, stage 1 and stage 2 (counting
    included). hf: `BpeTrainer` from scratch with newbpe's HF form of `superbpe_stage2`
    (Split(REGEX2, Isolated) + ByteLevel(use_regex=False)) and the 256-byte initial alphabet."""
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    t0 = time.perf_counter()
    if peer == "newbpe":
        import newbpe
        tok = newbpe.train([corpus], "superbpe", vocab, transition=transition, threads=threads)
        n = tok.vocab_size
    elif peer == "hf":
        from tokenizers import pre_tokenizers, trainers
        from newbpe.export.hf import hf_untrained
        tok = hf_untrained("superbpe_stage2")
        tok.train([corpus], trainers.BpeTrainer(vocab_size=vocab, show_progress=False,
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        n = tok.get_vocab_size()
    else:
        raise SystemExit(f"unknown peer {peer}")
    return {"seconds": time.perf_counter() - t0, "vocab": n}


if __name__ == "__main__":
    kind, peer, *rest = sys.argv[1:]
    if kind == "train":
        res = train(peer, rest[0], int(rest[1]), rest[2], int(rest[3]))
    elif kind == "superbpe":
        res = superbpe(peer, rest[0], int(rest[1]), int(rest[2]), int(rest[3]))
    else:
        res = encode(peer, rest[0], rest[1], int(rest[2]))
    who = resource.RUSAGE_CHILDREN if "newbpe-cli" in sys.argv[1:3] else resource.RUSAGE_SELF
    res["peak_rss_mb"] = resource.getrusage(who).ru_maxrss / 1024
    print(json.dumps(res))
