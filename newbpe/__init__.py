"""newbpe: train tokenizers with the newest BPE variants.

    import newbpe
    tok = newbpe.train("corpus.txt", algo="bpe", vocab_size=32000, pretokenizer="gpt2")
    ids = tok.encode("Hello world")
    assert tok.decode(ids) == "Hello world"
    tok.save("out/")                      # model.json (+ tokenizer.json where exact in HF)
    tok = newbpe.load("out/")

Heavy modules (numba kernels) load on first use, so importing newbpe is instant.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from .counting import WordCounts
    from .shards import MergeReport
    from .model import Tokenizer
    from .preprocessors.splinter import Splinter

__version__ = "0.1.0"
__all__ = ["train", "load", "count", "count_texts", "merge_counts", "Tokenizer", "WordCounts", "StochasTok", "NewbpeError", "Splinter",
           "algorithms", "Corpus", "Vocabulary"]


def __getattr__(name: str) -> Any:
    if name == "Corpus":
        from .corpus import Corpus
        return Corpus
    if name == "Vocabulary":
        from .vocab import Vocabulary
        return Vocabulary
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


def algorithms() -> list[str]:
    from .methods import names
    return names()


def count(source: Any, pretokenizer: Any = "gpt2", units: str = "bytes", special_tokens: Iterable[str] = (),
          split: str = "line", column: str = "text", threads: int | None = None,
          progress: bool | Callable[..., Any] | None = None,
          transform: Any = None, *, max_bytes: int | None = None, sample: float | None = None,
          sample_seed: int = 0, cluster: Any = None) -> WordCounts:
    """Count the pre-tokens of a source into a `WordCounts` table.

    source: a file path or a list of paths (streamed, counted in parallel), a `datasets`
    Dataset/IterableDataset (`column`), a dict {word: count}, an existing WordCounts, or any
    other iterable of str (each str one sequence). A list of str counts as files only when every
    element is an existing file. `transform`: a text preprocessor (e.g. a `Splinter`) applied to every
    sequence, outside special tokens, before pre-tokenization (in the counting workers for files).

    Files may be text, JSON Lines / JSON (`column`: the field, a dotted path for nested ones),
    Parquet (`column`), each also gzip/zstd/xz/bzip2-compressed, or "-" (stdin): see
    `newbpe.sources`. Sampling: `max_bytes` stops at the end of the document that reaches that
    many bytes of text; `sample` keeps each document with that probability, chosen by a hash of
    (`sample_seed`, document index).

    cluster: count files on a Dask cluster (the `newbpe[dask]` extra): a `distributed.Client`,
    "tcp://HOST:PORT" or "local:N" (a LocalCluster of N processes); the table is the one local
    counting gives (newbpe.cluster).
    """
    from .corpus import Corpus
    progress = _progress(progress)
    special_tokens = _check_common(special_tokens, threads, split, progress)
    corpus = Corpus(source, split=split, column=column, threads=threads, progress=progress,
                    max_bytes=max_bytes, sample=sample, sample_seed=sample_seed, cluster=cluster)
    with corpus.on_cluster():
        return corpus.counts(pretokenizer, units, special_tokens, transform)


def count_texts(texts: Iterable[str], pretokenizer: Any = "gpt2", units: str = "bytes",
                special_tokens: Iterable[str] = (), transform: Any = None) -> WordCounts:
    """Count an iterable of str (each one sequence) in this process: what a Spark/Ray
    `mapPartitions` or any Python worker calls on its slice of the text, then `save_shard(path)`.
    Preset pre-tokenizers go through the same numba scanner as files; the tables of slices add up
    to the table of the whole (merge them with `merge_counts`)."""
    from .counting import WordCounts
    from .checks import check_special_tokens
    return WordCounts(pretokenizer, units, check_special_tokens(special_tokens), transform=transform).add_texts(texts)


def merge_counts(shards: Any, output: str | os.PathLike[str] | None = None, min_count: int = 1,
                 max_words: int | None = None) -> WordCounts | MergeReport:
    """Merge count shards (a path or a list of paths: shard files or directories of *.parquet) by
    a streaming k-way merge (newbpe/shards.py). output=None: the merged `WordCounts` (its
    `merge_report` tells what was dropped); else one shard file written there and the
    `MergeReport` returned. min_count: drop words whose summed count is below it (exact);
    max_words: keep the most frequent K (ties by word bytes; approximate if the shards were pruned)."""
    from .counting import WordCounts
    from .shards import merge_to_file
    shards = [shards] if isinstance(shards, (str, os.PathLike)) else list(shards)
    if output is None:
        return WordCounts.merge(shards, min_count, max_words)
    return merge_to_file(shards, output, min_count, max_words)


def train(source: Any, algo: str = "bpe", vocab_size: int | None = None, *, pretokenizer: Any = "gpt2",
          units: str = "bytes", special_tokens: Iterable[str] = (), split: str = "line", column: str = "text",
          threads: int | None = None, progress: bool | Callable[..., Any] | None = None, encoder: str | None = None,
          splinter: str | os.PathLike[str] | Splinter | None = None, max_bytes: int | None = None,
          sample: float | None = None, sample_seed: int = 0, roles: dict[str, str] | None = None,
          add_bos: bool = False, add_eos: bool = False, cluster: Any = None, **options: Any) -> Tokenizer:
    """Train a tokenizer. `source` is anything `count` accepts (a WordCounts table is used as is,
    with its own pre-tokenizer and units). `options` are the algorithm's (see `newbpe.trainers`)
    plus the encoder options (`lbpe_ties`, `scaffold_mode`, see `newbpe.encoders`); an unknown
    option is an error. `encoder` sets the model's default encoder (e.g. "lbpe"; default: the
    algorithm's own). Returns a `Tokenizer`. `column`, `max_bytes`, `sample`, `sample_seed`: as
    in `count` (ignored when `source` is already a Corpus).

    splinter: run SPLINTER before the trainer: a language code ("he", "ar", "ms": the map is learned
    from `source` itself), a `Splinter`, or the path of a saved map. The model applies the transform
    in `encode` and inverts it in `decode`.

    roles: special-token roles {"bos"|"eos"|"pad"|"unk": token}; a role token that is not among
    `special_tokens` is added to them. add_bos / add_eos: the template that `encode(...,
    add_special_tokens=True)` and the HF exports apply (newbpe/roles.py).

    cluster: as in `count`: the files are counted (every pre-tokenization the method asks for, and
    supertoken chunks) on a Dask cluster, connected after every argument is checked; training runs here."""
    from .corpus import Corpus
    from .errors import NewbpeError
    from .roles import check_roles, check_template, specials_with_roles
    progress = _progress(progress)
    special_tokens = _check_common(special_tokens, threads, split, progress)
    roles = check_roles(roles)
    template = check_template({"add_bos": add_bos, "add_eos": add_eos}, roles)
    special_tokens = specials_with_roles(special_tokens, roles)
    if units == "chars" and "unk" in roles and "unk_token" not in options:
        from .methods import METHODS
        if algo in METHODS and "unk_token" in METHODS[algo].options:
            options["unk_token"] = roles["unk"]       # the unk role is the token unknown characters become
    corpus = Corpus.of(source, split=split, column=column, threads=threads, progress=progress,
                       max_bytes=max_bytes, sample=sample, sample_seed=sample_seed, cluster=cluster)
    if corpus.units is not None:
        if splinter is not None:
            raise NewbpeError("SPLINTER needs text: a word-count table was counted without the transform")
        units = corpus.units                    # a ready table brings its own units
    from .encoders import ENCODER_OPTIONS, check_encoder
    method = _precheck(algo, vocab_size, units, special_tokens, options, encoder)
    if corpus.units is None:
        from .pretokenizers import PreTokenizer
        if not isinstance(pretokenizer, PreTokenizer):
            PreTokenizer(pretokenizer)            # a bad name fails now, before SPLINTER learns or counting
    encoder_options = {k: options.pop(k) for k in list(options) if k in ENCODER_OPTIONS}
    from ._threads import threads_limit
    from ._gc import gc_paused
    with corpus.on_cluster():
        if splinter is not None:
            from .preprocessors.splinter_source import resolve_splinter
            splinter = resolve_splinter(splinter, corpus)
        with gc_paused(), threads_limit(threads or os.cpu_count() or 1):   # the merge loop's threads (plain BPE)
            tok = method.trainer.train(corpus, vocab_size, special_tokens, progress, pretokenizer=pretokenizer,
                                       units=units, transform=splinter, **options)
    if encoder == "lbpe" or encoder_options:           # record the LBPE choices in the model file
        tok.options.update({**ENCODER_OPTIONS, **encoder_options})
    if encoder is not None:
        check_encoder(tok, encoder)
        tok.default_encoder = encoder
    if splinter is not None:
        tok.set_splinter(splinter)
    elif corpus.transform is not None:          # a table counted through a transform: the model applies it
        tok.set_transforms([corpus.transform])
    if roles or template:
        tok.set_roles(roles, **template)
    return tok


def load(path: str | os.PathLike[str]) -> Tokenizer:
    """Load a model directory (or its model.json), or an HF byte-level BPE `tokenizer.json` (a file
    of that name, or a directory holding one and no model.json)."""
    from .atomic import recover
    from .model import MODEL_FILE, Tokenizer
    if not isinstance(path, (str, os.PathLike)):
        from .errors import NewbpeError
        raise NewbpeError(f"load() takes a path, not {type(path).__name__}")
    p = os.fspath(path)
    recover(p)                              # complete a commit a killed process left half-done
    hf_dir = os.path.isdir(p) and not os.path.exists(os.path.join(p, MODEL_FILE)) \
        and os.path.exists(os.path.join(p, "tokenizer.json"))
    if hf_dir or (os.path.basename(p) == "tokenizer.json" and os.path.isfile(p)):
        from .export.hf_load import load_hf
        return load_hf(p)
    return Tokenizer.load(p)


def _progress(progress):
    from .progress import resolve_progress
    return resolve_progress(progress)


def _check_common(special_tokens, threads, split, progress):
    """The arguments `count` and `train` share, checked before any work; returns the special
    tokens as a list (a single str is one token)."""
    from .checks import check_special_tokens, check_threads
    from .count_workers import check_split
    from .errors import NewbpeError
    check_threads(threads)
    check_split(split)
    if progress is not None and not callable(progress):
        raise NewbpeError(f"progress must be a callable(stage, current, total) or None, not {type(progress).__name__}")
    return check_special_tokens(special_tokens)


def _precheck(algo, vocab_size, units, special_tokens, options, encoder=None):
    """Reject bad arguments before spending time on counting (the trainer checks sizes again
    exactly); `options` values are checked (newbpe.checks) and normalised in place. Returns the
    method's registry entry."""
    from .checks import check, check_all, check_special_tokens
    from .encoders import ENCODER_OPTIONS, ENCODERS
    from .errors import NewbpeError
    from .methods import get_method
    method = get_method(algo)
    known = set(method.options) | set(ENCODER_OPTIONS)
    unknown = sorted(set(options) - known)
    if unknown:
        raise NewbpeError(f"unknown option(s) for {algo}: {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    if encoder is not None:
        if encoder not in ENCODERS:
            raise NewbpeError(f"unknown encoder {encoder!r} (available: {', '.join(ENCODERS)})")
        if encoder not in method.encoders:
            raise NewbpeError(f"encoder {encoder!r} does not fit algorithm {algo} "
                              f"(use {' or '.join(repr(e) for e in method.encoders)})")
    options.update(check_all(options))
    if units not in ("bytes", "chars"):
        raise NewbpeError(f"unknown units {str(units)[:40]!r} (use 'bytes' or 'chars')")
    if vocab_size is None:
        raise NewbpeError("vocab_size is required")
    vocab_size = check("vocab_size", vocab_size)
    special_tokens = check_special_tokens(special_tokens)
    if units == "bytes" and options.get("byte_alphabet", "full") == "full":
        base = len(set(special_tokens)) + 256
        if vocab_size <= base:
            raise NewbpeError(f"vocab_size {vocab_size} is not above the base vocabulary "
                              f"({len(special_tokens)} special tokens + 256 bytes = {base})")
    return method
