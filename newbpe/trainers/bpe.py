"""Classic BPE (Sennrich et al. 2016, arXiv 1508.07909) with exact HF `BpeTrainer` parity.

    visible = |specials| + |alphabet|
    while visible < vocab_size:
        (a, b) = the pair with the highest count; ties: smallest (a, b) on ids   # HF's rule
        stop if no pair is left or its count < max(1, min_frequency)
        merge (a, b) everywhere -> token a+b; a string that already exists (reached by another pair)
        reuses its id and adds nothing to `visible` (a "duplicate merge")

The loop runs inside the engine (`Engine.run_bpe`); the variants (Picky, Scaffold) drive the same
engine one step at a time. Differences from HF, all deliberate (bpe.md §7): int64 counts (HF's i32
overflow), signed counts never cast (HF's phantom merges), `max_token_length` exact by default
(``max_token_length_mode="hf"`` reproduces HF), a pair is merged at most once, and a vocab size at
or below the base vocabulary is an error instead of a silently larger vocabulary.
"""
import warnings

from ..model import Tokenizer
from .base import Progress, count_words, prepare

OPTIONS = {
    "min_frequency": 0,
    "max_token_length": None,
    "max_token_length_mode": "exact",
    "byte_alphabet": "full",
    "limit_alphabet": None,
    "initial_alphabet": (),
    "coverage": 1.0,
    "unknown_chars": "unk",
    "unk_token": "<unk>",
}


# The partitioned merge loop (engine.PartitionedEngine: one word partition per thread, same result
# for any thread count) is used from this many unique words when numba may use >= 2 threads (None:
# never). Measured on 2 cores, 32k merges, merge phase medians of 4 alternating runs: it pays on
# large word tables (multilingual text: 606k words 2.47 s vs 2.96 s single, 750k 2.82 vs 3.12, 930k
# 3.03 vs 3.46; 930k at 64k merges 3.6 vs 3.8) and not on small ones (195k words 1.02 vs 0.95;
# Gutenberg 72k / 150k words 0.55-0.60 vs 0.43-0.50 s and 0.89-0.94 vs 0.80-0.95 s), where merges of
# >= 2000 slots are only ~0.2 s of the loop and the lookups across partitions cost what the parallel
# rewrite saves.
PARTITION_MIN_WORDS = 400_000


def partitions_for(n_words, threads):
    """How many word partitions the merge loop uses (1: the single engine)."""
    if threads < 2 or PARTITION_MIN_WORDS is None or n_words < PARTITION_MIN_WORDS:
        return 1
    return int(threads)


def train(corpus, vocab_size, special_tokens=(), progress=None, *, pretokenizer="gpt2", units="bytes",
          transform=None, _partitions=None, _parallel_threshold=None, **options):
    """Train byte- or char-level BPE on the word counts of a `Corpus` (or a `WordCounts` table).
    Returns a `Tokenizer`. The merge
    loop may use numba's threads (`newbpe.train(threads=…)` bounds them); the result is the same
    for any number. Private, for tests and measurements: `_partitions` forces that many word
    partitions (1: the single engine), `_parallel_threshold` sets `PartitionedEngine`'s (None: its
    default)."""
    opts = {**OPTIONS, **options}
    word_counts = count_words(corpus, special_tokens, pretokenizer, units, transform)
    if _partitions is None:
        import numba
        _partitions = partitions_for(len(word_counts), numba.get_num_threads())
    extra = {} if _partitions <= 1 or _parallel_threshold is None else {"parallel_threshold": _parallel_threshold}
    base, engine = prepare(word_counts, vocab_size, special_tokens, opts, partitions=_partitions, **extra)
    visible, stop = engine.run_bpe(base.n_base, vocab_size, max(1, int(opts["min_frequency"])),
                                   progress=Progress(progress))
    if visible < vocab_size:
        warnings.warn(f"training stopped at vocab size {visible} < {vocab_size}: "
                      f"{'no pair left' if stop == 'empty' else 'best pair below min_frequency'}", stacklevel=3)
    return tokenizer_from_engine("bpe", engine, base, word_counts, opts, vocab_size)


def tokenizer_from_engine(algo, engine, base, word_counts, opts, vocab_size, model_ids=None,
                          flags=None, extra=None, stats=None, encoder="rank"):
    """Package an engine's result as a Tokenizer (shared by the BPE-family trainers)."""
    merges = [(a, b, new) for a, b, new, _ in engine.merge_events]
    n_dup = len(merges) - (engine.n_tokens - base.n_base)
    all_stats = {
        "target_vocab_size": int(vocab_size),
        "num_duplicate_merges": int(n_dup),
        "word_types": int(len(base.counts)),
        "word_tokens": int(base.counts.sum()),
        "corpus_tokens_after_training": int(sum(engine.token_freqs())),
        **base.notes,
        **(stats or {}),
    }
    options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()}
    return Tokenizer(algo=algo, units=base.units, pretokenizer=word_counts.pretokenizer,
                     special_tokens=base.special_tokens, n_alphabet=len(base.alphabet),
                     tokens=engine.vocab_bytes(), merges=merges, model_ids=model_ids, options=options,
                     stats=all_stats, encoder=encoder, flags=flags, extra=extra)
