"""Registry of training algorithms: name -> module with `train(word_counts, vocab_size,
special_tokens, progress, **options)` and an `OPTIONS` dict of defaults. The CLI's `--algo` lists
exactly these."""
import importlib

from ..errors import NewbpeError

ALGORITHMS = {
    "bpe": "newbpe.trainers.bpe",
    "picky": "newbpe.trainers.picky",
    "scaffold": "newbpe.trainers.scaffold",
}

# The encoder each algorithm's models use by default (the trainers set it; LBPE fits every model).
DEFAULT_ENCODERS = {"bpe": "rank", "picky": "replay", "scaffold": "scaffold"}


def get_trainer(algo):
    if algo not in ALGORITHMS:
        raise NewbpeError(f"unknown algorithm {algo!r} (available: {', '.join(sorted(ALGORITHMS))})")
    return importlib.import_module(ALGORITHMS[algo])
