"""TokenAdapt random-chunk supertokens (Sharthak et al. 2025, arXiv 2505.09738; reference
Tinycompany-AI/SuperTokenizer): byte-level BPE on random 4-23-character chunks of the training text,
so tokens may cross spaces and word boundaries (specs supertokens.md §3, §4).

    for each document d (a line, or a whole file with split="document"):
        [NFC]                           normalizer="nfc" (compat="reference")               §3.2
        chunks = random_chunks(d)       bins of DEFAULT_CHUNK_BINS, seeded per document     §3.1
        pieces = each chunk minus its runs of `remove_repeats` identical characters
                 (a removed run cuts its chunk; newline runs stay)                          §3.2
        count the pieces (memory grows with unique pieces, not corpus size)
    byte-level BPE on the piece counts (the engine, as `trainers.bpe`): full byte alphabet,
    min_frequency=2, max_token_length=30 with max_token_length_mode (bpe.md §6.3)            §3.2

Inference (§3.3): the model's pre-tokenizer is `none` (the whole text is one piece; the rank
encoder's heap path keeps a long piece O(n log n)), or with ``split_long_at="\\n"`` pieces cut after
each newline (`split_long_pattern`); with normalizer="nfc" the model runs the `nfc`
text transform first, so decode(encode(x)) == NFC(x). HF export is exact: ByteLevel(use_regex=false)
alone, the ByteLevel decoder, the NFC normalizer when set (§5).

Randomness: document d's chunks come from `rng.document_seeds(seed, d)` (``seed_by="index"``,
stochastok.md §6; d counts documents across files in order) or from a hash of its text
(``seed_by="content"``: the model then does not depend on document order or file layout either);
never on the thread count or batching (specs §6, invariants 6 and 9). The reference seeds nothing.

``compat="reference"`` sets what the reference does beyond the defaults: the NFC normalizer,
HF's max_token_length cap (``max_token_length_mode="hf"``: merged tokens of at most 29 bytes) and,
when no special tokens are given, `REFERENCE_SPECIALS`.
"""
import os
import warnings

from ..errors import NewbpeError
from . import bpe
from .base import Progress, prepare, token_shape_stats

#: The reference trainer's special tokens (train.py); compat="reference" uses them when none are given.
REFERENCE_SPECIALS = ("<|endoftext|>", "<|beginoftext|>", "<|image|>", "<|audio|>")

_BPE_OPTIONS = ("byte_alphabet",)

OPTIONS = {
    "min_frequency": 2,                  # reference BpeTrainer(min_frequency=2)
    "max_token_length": 30,              # reference BpeTrainer(max_token_length=30)
    "max_token_length_mode": "exact",    # "hf": HF's semantics (the reference's 29-byte cap), bpe.md §6.3
    "byte_alphabet": "full",             # reference initial_alphabet=ByteLevel.alphabet()
    "chunk_bins": None,                  # [[lo, hi, probability], ...]; None: DEFAULT_CHUNK_BINS (§3.1)
    "seed": 0,                           # global seed of the chunker
    "seed_by": "index",                  # "index" (document number) | "content" (document text hash)
    "remove_repeats": 7,                 # drop runs of 7 identical characters from training text; None: keep
    "normalizer": None,                  # None (lossless) | "nfc" (the reference)
    "compat": None,                      # "reference": NFC, max_token_length_mode="hf", REFERENCE_SPECIALS
    "split_long_at": None,               # a character: encode in pieces cut after each one (§3.3); None: whole text
}


def split_long_pattern(sep):
    """The inference pre-tokenizer of ``split_long_at=sep`` (§3.3: "encode very long inputs in
    pieces split at newlines", off by default because the cut can change the tokens there): every
    piece ends just after a `sep` (or at the end of the text), so a long input encodes piece by
    piece and memory follows the longest piece. Expressed as a regex pre-tokenizer, so the HF and
    tiktoken exports stay exact. A single character (a newbpe decision: one character keeps the
    pattern a plain class). Returns the `regex:` spec, or None for None."""
    if sep is None:
        return None
    if not isinstance(sep, str) or len(sep) != 1 or ord(sep) > 0xFFFF:
        raise NewbpeError(f"split_long_at must be one character of the BMP (e.g. '\\n') or None, got {sep!r}")
    # spelled the same for Python regex, HF's Oniguruma and tiktoken's fancy-regex
    esc = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}.get(sep) or (
        sep if sep.isalnum() and sep.isascii() else f"\\u{ord(sep):04X}")
    return f"regex:[^{esc}]*{esc}|[^{esc}]+"


def resolve_options(options, special_tokens):
    """Every supertoken option checked and `compat` applied, before any counting. Returns
    (options, special tokens, chunk bins as check_chunk_bins gives them)."""
    from ..checks import check, check_special_tokens
    from ..pretokenizers.random_chunks import SEED_BY, check_chunk_bins, check_remove_repeats
    opts = {**OPTIONS, **options}
    specials = check_special_tokens(special_tokens)
    if opts["compat"] not in (None, "reference"):
        raise NewbpeError(f"compat must be 'reference' (or None), got {opts['compat']!r}")
    if opts["compat"] == "reference":
        opts["normalizer"] = opts["normalizer"] or "nfc"
        opts["max_token_length_mode"] = "hf"
        specials = specials or list(REFERENCE_SPECIALS)
    if opts["normalizer"] not in (None, "nfc"):
        raise NewbpeError(f"normalizer must be 'nfc' (or None: lossless), got {opts['normalizer']!r}")
    if opts["seed_by"] not in SEED_BY:
        raise NewbpeError(f"seed_by must be one of {', '.join(SEED_BY)}, got {opts['seed_by']!r}")
    mtl = opts["max_token_length"]
    if mtl is not None and (isinstance(mtl, bool) or not isinstance(mtl, int) or mtl < 2):
        raise NewbpeError(f"max_token_length must be an integer >= 2 (or None: no limit), got {mtl!r}")
    check("max_token_length_mode", opts["max_token_length_mode"])
    check("min_frequency", opts["min_frequency"])
    check("byte_alphabet", opts["byte_alphabet"])
    opts["seed"] = check("seed", opts["seed"], none_ok=False)
    opts["remove_repeats"] = check_remove_repeats(opts["remove_repeats"])
    split_long_pattern(opts["split_long_at"])
    bins = check_chunk_bins(opts["chunk_bins"])
    return opts, specials, bins


def count_chunks(corpus, seed, bins, *, remove_repeats=7, specials=(), seed_by="index", transform=None,
                 threads=None, progress=None):
    """The `WordCounts` table (pre-tokenizer `none`, bytes) of the random-chunk pieces of every
    document of `corpus`, and the number of chunks. Documents are numbered in corpus order. A corpus
    counted on a Dask cluster (`corpus.cluster`) chunks its files there (newbpe.cluster), with the
    same numbering, so the table is the same."""
    if getattr(corpus, "cluster", None) is not None:
        from ..cluster import count_random_chunks
        return count_random_chunks(corpus, seed, bins, remove_repeats=remove_repeats, specials=specials,
                                   seed_by=seed_by, transform=transform)
    from .chunk_counts import chunk_texts
    try:
        table, n_chunks, _ = chunk_texts(corpus.texts(), 0, seed, bins, remove_repeats=remove_repeats,
                                         specials=specials, seed_by=seed_by, transform=transform,
                                         threads=threads or os.cpu_count() or 1, progress=progress)
    except UnicodeEncodeError as e:
        from ..checks import text_error
        raise text_error(e) from None
    return table, n_chunks


def train(corpus, vocab_size, special_tokens=(), progress=None, *, pretokenizer=None, units="bytes",
          transform=None, **options):
    """Train random-chunk supertokens (module doc) on a `Corpus` of text. Returns a `Tokenizer`
    (algo "supertoken", pre-tokenizer `none`). The `pretokenizer` argument is not used: the chunker
    is the training pre-tokenization and inference uses none (§3.3)."""
    from ..corpus import Corpus
    if units != "bytes":
        raise NewbpeError("supertoken is byte-level: units must be 'bytes'")
    if transform is not None:
        raise NewbpeError("supertoken takes no text transform other than its normalizer option")
    opts, specials, bins = resolve_options(options, special_tokens)
    corpus = Corpus.of(corpus)
    corpus.require_text("supertoken (random chunks of the text)")
    nfc = None
    if opts["normalizer"] == "nfc":
        from ..preprocessors.nfc import NFC
        nfc = NFC()
    prog = Progress(progress)

    table, n_chunks = count_chunks(corpus, opts["seed"], bins, remove_repeats=opts["remove_repeats"],
                                   specials=specials, seed_by=opts["seed_by"], transform=nfc,
                                   threads=corpus.threads, progress=progress)
    if len(table) == 0:
        raise NewbpeError("the training source contains no text")
    engine_opts = {**bpe.OPTIONS, **{k: opts[k] for k in ("min_frequency", "max_token_length",
                                                          "max_token_length_mode", "byte_alphabet")}}
    import numba
    partitions = bpe.partitions_for(len(table), numba.get_num_threads())
    base, engine = prepare(table, vocab_size, specials, engine_opts, partitions=partitions)
    visible, stop = engine.run_bpe(base.n_base, vocab_size, max(1, int(opts["min_frequency"])), progress=prog)
    if visible < vocab_size:
        warnings.warn(f"training stopped at vocab size {visible} < {vocab_size}: "
                      f"{'no pair left' if stop == 'empty' else 'best pair below min_frequency'}", stacklevel=3)
    stats = {"training_chunks": int(n_chunks), **token_shape_stats(engine.vocab_bytes()[base.n_specials:])}
    public = {k: opts[k] for k in OPTIONS}
    if public["chunk_bins"] is not None:
        public["chunk_bins"] = [list(b) for b in public["chunk_bins"]]
    tok = bpe.tokenizer_from_engine("supertoken", engine, base, table, public, vocab_size, stats=stats)
    if nfc is not None:
        tok.set_transforms([nfc])
    if opts["split_long_at"] is not None:
        from ..pretokenizers import PreTokenizer
        tok.pretokenizer = PreTokenizer(split_long_pattern(opts["split_long_at"]))
    return tok
