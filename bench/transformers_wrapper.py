"""The transformers wrapper's speed (issue 16): `NewbpeTokenizer(batch)` — newbpe's `encode_batch`
behind transformers' API — vs the fast HF tokenizer (`AutoTokenizer`, PreTrainedTokenizerFast) that
stock HF loads from the same directory, on the same byte-level BPE vocabulary.

    python bench/transformers_wrapper.py [--corpus FILE] [--vocab 32000] [--heldout FILE] [--mb 5] [--repeat 3]

Trains BPE (gpt2 pre-tokenizer) on --corpus, `save_pretrained`s it, then times `tok(lines)` (a list
of lines, no padding; input_ids as Python lists, what a data pipeline gets) for both tokenizers on
--mb MB of held-out lines, best of --repeat after one untimed warm-up call, threads = all cores for
both (RAYON default, newbpe default). The ids are checked equal. Also prints the bare encoders
(`tokenizers.Tokenizer.encode_batch` ids, `newbpe.Tokenizer.encode_batch`).
"""
import argparse
import os
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpora", "en", "tinyshakespeare.txt"))
    ap.add_argument("--heldout", default=None, help="default: the corpus itself")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    import newbpe
    from transformers import AutoTokenizer
    from newbpe.hf_transformers import NewbpeTokenizer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = newbpe.train(a.corpus, vocab_size=a.vocab, pretokenizer="gpt2", special_tokens=["<|endoftext|>"],
                           roles={"eos": "<|endoftext|>"})
    text = open(a.heldout or a.corpus, encoding="utf-8").read()
    lines = []
    size = 0
    while size < a.mb * 1e6:
        for line in text.splitlines(keepends=True):
            lines.append(line)
            size += len(line.encode("utf-8"))
            if size >= a.mb * 1e6:
                break
    with tempfile.TemporaryDirectory() as d:
        tok.save_pretrained(d)
        fast = AutoTokenizer.from_pretrained(d)
        wrapper = NewbpeTokenizer.from_pretrained(d)
        t_fast, ids_fast = best(lambda: fast(lines)["input_ids"], a.repeat)
        t_wrap, ids_wrap = best(lambda: wrapper(lines)["input_ids"], a.repeat)
        assert ids_fast == ids_wrap, "ids differ"
        t_raw_hf, _ = best(lambda: [e.ids for e in fast.backend_tokenizer.encode_batch(lines)]
                           if hasattr(fast, "backend_tokenizer") else None, a.repeat)
        t_raw_nb, raw = best(lambda: tok.encode_batch(lines, disallowed_special=()), a.repeat)
        assert raw == ids_fast
    mb = size / 1e6
    print(f"{len(lines)} lines, {mb:.1f} MB, {sum(map(len, ids_fast))} tokens, vocab {tok.vocab_size}, "
          f"{os.cpu_count()} cores ({type(fast).__name__} vs NewbpeTokenizer)")
    print("| call | seconds | MB/s | vs fast HF |")
    print("|---|---|---|---|")
    for name, t in (("AutoTokenizer (fast HF) `tok(lines)`", t_fast), ("NewbpeTokenizer `tok(lines)`", t_wrap),
                    ("tokenizers `encode_batch` (ids)", t_raw_hf), ("newbpe `encode_batch`", t_raw_nb)):
        print(f"| {name} | {t:.3f} | {mb / t:.1f} | {t / t_fast:.2f}x |")


if __name__ == "__main__":
    main()
