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
__all__ = ["train", "load", "count", "Tokenizer", "WordCounts", "StochasTok", "NewbpeError", "algorithms"]


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
    if name in ("NewbpeError", "ModelFileError"):
        from . import errors
        return getattr(errors, name)
    raise AttributeError(name)


def algorithms():
    from .trainers import ALGORITHMS
    return sorted(ALGORITHMS)


def count(source, pretokenizer="gpt2", units="bytes", special_tokens=(), split="line", column="text",
          threads=None, progress=None):
    """Count the pre-tokens of a source into a `WordCounts` table.

    source: a file path or a list of paths (streamed, counted in parallel), a `datasets`
    Dataset/IterableDataset (`column`), a dict {word: count}, an existing WordCounts, or any
    other iterable of str (each str one sequence). A list of str counts as files only when every
    element is an existing file.
    """
    from .counting import WordCounts
    from .errors import NewbpeError
    if isinstance(source, WordCounts):
        return source
    if isinstance(source, (str, os.PathLike)):
        return WordCounts.from_files([source], pretokenizer, units, special_tokens, split, threads, progress)
    if isinstance(source, dict):
        return WordCounts.from_dict(source, pretokenizer, units)
    if hasattr(source, "column_names") or type(source).__module__.startswith("datasets"):
        return WordCounts.from_dataset(source, column, pretokenizer, units, special_tokens)
    if isinstance(source, (list, tuple)) and source:
        is_file = [isinstance(p, os.PathLike) or (isinstance(p, str) and "\n" not in p and os.path.isfile(p))
                   for p in source]
        if all(is_file):
            return WordCounts.from_files(list(source), pretokenizer, units, special_tokens, split, threads, progress)
        if any(is_file) or any(isinstance(p, os.PathLike) for p in source):
            missing = [str(p) for p, f in zip(source, is_file) if not f]
            raise NewbpeError(f"input file not found: {missing[0]}")
    if isinstance(source, (bytes, int, float)) or source is None:
        raise NewbpeError(f"cannot train on a {type(source).__name__}")
    return WordCounts.from_texts(source, pretokenizer, units, special_tokens)


def train(source, algo="bpe", vocab_size=None, *, pretokenizer="gpt2", units="bytes", special_tokens=(),
          split="line", column="text", threads=None, progress=None, **options):
    """Train a tokenizer. `source` is anything `count` accepts (a WordCounts table is used as is,
    with its own pre-tokenizer and units). `options` are the algorithm's (see `newbpe.trainers`);
    an unknown option is an error. Returns a `Tokenizer`."""
    from .errors import NewbpeError
    from .counting import WordCounts
    if isinstance(source, WordCounts):
        units = source.units                    # a ready table brings its own units
    trainer = _precheck(algo, vocab_size, units, special_tokens, options)
    wc = count(source, pretokenizer, units, special_tokens, split, column, threads, progress)
    if len(wc) == 0:
        raise NewbpeError("the training source contains no text")
    return trainer.train(wc, vocab_size, special_tokens, progress, **options)


def load(path):
    """Load a model directory (or its model.json)."""
    from .model import Tokenizer
    return Tokenizer.load(path)


def _precheck(algo, vocab_size, units, special_tokens, options):
    """Reject bad arguments before spending time on counting (the trainer checks sizes again
    exactly). Returns the trainer module."""
    from .errors import NewbpeError
    from .trainers import get_trainer
    trainer = get_trainer(algo)
    unknown = sorted(set(options) - set(trainer.OPTIONS))
    if unknown:
        raise NewbpeError(f"unknown option(s) for {algo}: {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(trainer.OPTIONS))})")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size <= 0:
        raise NewbpeError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    if units == "bytes" and options.get("byte_alphabet", "full") == "full":
        base = len(set(special_tokens)) + 256
        if vocab_size <= base:
            raise NewbpeError(f"vocab_size {vocab_size} is not above the base vocabulary "
                              f"({len(special_tokens)} special tokens + 256 bytes = {base})")
    return trainer
