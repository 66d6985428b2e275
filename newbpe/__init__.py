"""newbpe: train tokenizers with the newest BPE variants.

    import newbpe
    tok = newbpe.train("corpus.txt", algo="bpe", vocab_size=32000, pretokenizer="gpt2")
    ids = tok.encode("Hello world")
    assert tok.decode(ids) == "Hello world"
    tok.save("out/")                      # model.json (+ tokenizer.json where exact in HF)
    tok = newbpe.load("out/")

Heavy modules (numba kernels) load on first use, so importing newbpe is instant.
"""
import os

__version__ = "0.1.0"
__all__ = ["train", "load", "count", "Tokenizer", "WordCounts", "StochasTok", "NewbpeError", "Splinter",
           "algorithms"]


def __getattr__(name):
    if name == "Tokenizer":
        from .model import Tokenizer
        return Tokenizer
    if name == "StochasTok":
        from .augment.stochastok import StochasTok
        return StochasTok
    if name == "WordCounts":
        from .counting import WordCounts
        return WordCounts
    if name == "Splinter":
        from .preprocessors.splinter import Splinter
        return Splinter
    if name in ("NewbpeError", "ModelFileError"):
        from . import errors
        return getattr(errors, name)
    raise AttributeError(name)


def algorithms():
    from .trainers import ALGORITHMS
    return sorted(ALGORITHMS)


def count(source, pretokenizer="gpt2", units="bytes", special_tokens=(), split="line", column="text",
          threads=None, progress=None, transform=None):
    """Count the pre-tokens of a source into a `WordCounts` table.

    source: a file path or a list of paths (streamed, counted in parallel), a `datasets`
    Dataset/IterableDataset (`column`), a dict {word: count}, an existing WordCounts, or any
    other iterable of str (each str one sequence). A list of str counts as files only when every
    element is an existing file. `transform`: a text preprocessor (e.g. a `Splinter`) applied to every
    sequence, outside special tokens, before pre-tokenization (in the counting workers for files).
    """
    from .counting import WordCounts
    from .errors import NewbpeError
    if isinstance(source, WordCounts) or isinstance(source, dict):
        if transform is not None:
            raise NewbpeError("a text transform needs text: this source is already counted")
        return source if isinstance(source, WordCounts) else WordCounts.from_dict(source, pretokenizer, units)
    wc = WordCounts(pretokenizer, units, special_tokens, transform=transform)
    if isinstance(source, (str, os.PathLike)):
        return wc.add_files([source], split, threads, progress)
    if hasattr(source, "column_names") or type(source).__module__.startswith("datasets"):
        return wc.add_dataset(source, column)
    if isinstance(source, (list, tuple)) and source:
        is_file = [isinstance(p, os.PathLike) or (isinstance(p, str) and "\n" not in p and os.path.isfile(p))
                   for p in source]
        if all(is_file):
            return wc.add_files(list(source), split, threads, progress)
        if any(is_file) or any(isinstance(p, os.PathLike) for p in source):
            missing = [str(p) for p, f in zip(source, is_file) if not f]
            raise NewbpeError(f"input file not found: {missing[0]}")
    if isinstance(source, (bytes, int, float)) or source is None:
        raise NewbpeError(f"cannot train on a {type(source).__name__}")
    return wc.add_texts(source)


def train(source, algo="bpe", vocab_size=None, *, pretokenizer="gpt2", units="bytes", special_tokens=(),
          split="line", column="text", threads=None, progress=None, encoder=None, splinter=None, **options):
    """Train a tokenizer. `source` is anything `count` accepts (a WordCounts table is used as is,
    with its own pre-tokenizer and units). `options` are the algorithm's (see `newbpe.trainers`)
    plus the encoder options (`lbpe_ties`, `scaffold_mode`, see `newbpe.encoders`); an unknown
    option is an error. `encoder` sets the model's default encoder (e.g. "lbpe"; default: the
    algorithm's own). Returns a `Tokenizer`.

    splinter: run SPLINTER before the trainer: a language code ("he", "ar", "ms": the map is learned
    from `source` itself), a `Splinter`, or the path of a saved map. The model applies the transform
    in `encode` and inverts it in `decode`."""
    from .errors import NewbpeError
    from .counting import WordCounts
    if isinstance(source, WordCounts):
        if splinter is not None:
            raise NewbpeError("SPLINTER needs text: a word-count table was counted without the transform")
        units = source.units                    # a ready table brings its own units
    from .encoders import ENCODER_OPTIONS, check_encoder
    trainer = _precheck(algo, vocab_size, units, special_tokens, options, encoder)
    if splinter is not None:
        from .preprocessors.splinter import resolve_splinter
        splinter = resolve_splinter(splinter, source, split, column)
    wc = count(source, pretokenizer, units, special_tokens, split, column, threads, progress, transform=splinter)
    if len(wc) == 0:
        raise NewbpeError("the training source contains no text")
    encoder_options = {k: options.pop(k) for k in list(options) if k in ENCODER_OPTIONS}
    from ._threads import threads_limit
    from ._gc import gc_paused
    with gc_paused(), threads_limit(threads or os.cpu_count() or 1):   # the merge loop's threads (plain BPE)
        tok = trainer.train(wc, vocab_size, special_tokens, progress, **options)
    if encoder == "lbpe" or encoder_options:           # record the LBPE choices in the model file
        tok.options.update({**ENCODER_OPTIONS, **encoder_options})
    if encoder is not None:
        check_encoder(tok, encoder)
        tok.default_encoder = encoder
    if splinter is not None:
        tok.set_splinter(splinter)
    return tok


def load(path):
    """Load a model directory (or its model.json), or an HF byte-level BPE `tokenizer.json` (a file
    of that name, or a directory holding one and no model.json)."""
    from .atomic import recover
    from .model import MODEL_FILE, Tokenizer
    p = os.fspath(path)
    recover(p)                              # complete a commit a killed process left half-done
    hf_dir = os.path.isdir(p) and not os.path.exists(os.path.join(p, MODEL_FILE)) \
        and os.path.exists(os.path.join(p, "tokenizer.json"))
    if hf_dir or (os.path.basename(p) == "tokenizer.json" and os.path.isfile(p)):
        from .export.hf import load_hf
        return load_hf(p)
    return Tokenizer.load(p)


def _precheck(algo, vocab_size, units, special_tokens, options, encoder=None):
    """Reject bad arguments before spending time on counting (the trainer checks sizes again
    exactly). Returns the trainer module."""
    from .encoders import ENCODER_OPTIONS, ENCODERS
    from .errors import NewbpeError
    from .trainers import DEFAULT_ENCODERS, get_trainer
    trainer = get_trainer(algo)
    known = set(trainer.OPTIONS) | set(ENCODER_OPTIONS)
    unknown = sorted(set(options) - known)
    if unknown:
        raise NewbpeError(f"unknown option(s) for {algo}: {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    if encoder is not None:
        own = DEFAULT_ENCODERS[algo]
        if encoder not in ENCODERS or (encoder in ("rank", "replay", "scaffold") and encoder != own):
            raise NewbpeError(f"encoder {encoder!r} does not fit algorithm {algo} "
                              f"(use {own!r} or 'lbpe')" if encoder in ENCODERS else
                              f"unknown encoder {encoder!r} (available: {', '.join(ENCODERS)})")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size <= 0:
        raise NewbpeError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    if units == "bytes" and options.get("byte_alphabet", "full") == "full":
        base = len(set(special_tokens)) + 256
        if vocab_size <= base:
            raise NewbpeError(f"vocab_size {vocab_size} is not above the base vocabulary "
                              f"({len(special_tokens)} special tokens + 256 bytes = {base})")
    return trainer
