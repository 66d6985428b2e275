"""SuperBPE (Liu et al. 2025, arXiv 2503.13423): a two-stage curriculum that learns subwords, then
superwords that cross whitespace (specs supertokens.md §2).

    stage 1   byte-level BPE on the `superbpe_stage1` pre-tokenization (REGEX1, HF BpeTrainer
              parity, exactly `trainers.bpe`), or the merges of an existing tokenizer (``stage1=PATH``,
              the reference's ``extend_tokenizer.sh``)                                       §2.1
    transition keep the first k stage-1 merges: ``inherit_merges=k``, or ``transition=t`` meaning
              k = t - 1 (the reference keeps ``head -n t merges.txt``, whose first line is the
              ``#version`` header)                                                           §2.2
    stage 2   count the `superbpe_stage2` chunks (REGEX2: only digit groups, punctuation runs and
              space runs are cut out, so words and single spaces stay together), replay the k
              inherited merges in order whatever their counts, then greedy BPE to `vocab_size` under
              the merge filter: no new token of more than `max_words` words (non-empty pieces split
              on byte 0x20) or containing a forbidden substring (``": "``); a filtered pair is
              discarded for good; inherited merges are exempt                               §2.3

Replay skip rule (``replay_skip``): ``"reference"`` (default, the fork's rule, needed for parity
with the released tokenizers) skips an inherited merge — not recorded, so later ranks shift — if
either part is not a token of stage 2, or the pair never had a queue entry (no positive count when
stage 2 was counted, never raised to a positive count by an earlier replayed merge); a pair that was
queued but whose count has dropped to 0 is still replayed (recorded, merges nothing).
``"zero_count"`` skips whenever the pair's current count is <= 0.

The model is a rank-BPE model with the `superbpe_stage2` pre-tokenizer (used for inference, §2.4),
exported exactly to HF (Split(REGEX2, Isolated) + ByteLevel). The `pretokenizer` argument of
`newbpe.train` is not used: the two stages have their own (§2.1, §2.3).
"""
import os
import warnings

import numpy as np

from ..errors import NewbpeError
from . import bpe
from .base import Progress, count_words, prepare, token_shape_stats

STAGE1 = "superbpe_stage1"
STAGE2 = "superbpe_stage2"

# the options of plain BPE that apply to both stages (the char-mode ones do not: SuperBPE is byte-level)
_BPE_OPTIONS = ("min_frequency", "max_token_length", "max_token_length_mode", "byte_alphabet")

OPTIONS = {
    **{k: bpe.OPTIONS[k] for k in _BPE_OPTIONS},
    "inherit_merges": None,         # k: the first k stage-1 merges are inherited (exact count)
    "transition": None,             # t: inherit t - 1 merges (the reference's off-by-one, §2.2)
    "stage1": None,                 # path of an existing stage-1 tokenizer (newbpe model or tokenizer.json)
    "replay_skip": "reference",     # "reference" | "zero_count" (§2.3 step 3)
    "max_words": 4,                 # no new stage-2 token of more words (None: no limit)
    "forbid_substrings": [": "],    # no new stage-2 token containing one of these (str: UTF-8)
}


def inherit_count(options, vocab_size):
    """k, the number of stage-1 merges to inherit, from exactly one of `inherit_merges` and
    `transition` (t - 1, §2.2); one-line errors for anything else, before counting."""
    k, t = options.get("inherit_merges"), options.get("transition")
    if (k is None) == (t is None):
        raise NewbpeError("superbpe needs exactly one of inherit_merges=K (merges inherited from stage 1) "
                          "and transition=T (the reference's t: inherits T - 1 merges)")
    name, value = ("inherit_merges", k) if t is None else ("transition", t)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise NewbpeError(f"{name} must be a positive integer, got {value!r}")
    if vocab_size is not None and value >= vocab_size:
        raise NewbpeError(f"{name} {value} must be below vocab_size {vocab_size}")
    if t is not None and t - 1 <= 0:
        raise NewbpeError(f"transition {t} inherits no merge (transition T inherits T - 1 merges); use T >= 2")
    return k if t is None else t - 1


def filter_substrings(values):
    """`forbid_substrings` as a list of bytes (str: UTF-8); a one-line error for anything else."""
    if isinstance(values, (str, bytes)):
        values = [values]
    try:
        values = list(values or ())
    except TypeError:
        raise NewbpeError(f"forbid_substrings must be a list of strings, got {values!r}") from None
    out = []
    for v in values:
        if isinstance(v, str):
            v = v.encode("utf-8", "surrogateescape")
        if not isinstance(v, bytes) or not v:
            raise NewbpeError(f"forbid_substrings must be non-empty strings, got {v!r}")
        out.append(v)
    return out


def check_options(options, vocab_size, units="bytes"):
    """Every SuperBPE-specific check, before any counting. Returns (k, forbidden bytes)."""
    if units != "bytes":
        raise NewbpeError("superbpe is byte-level: units must be 'bytes'")
    k = inherit_count(options, vocab_size)
    mw = options.get("max_words")
    if mw is not None and (isinstance(mw, bool) or not isinstance(mw, int) or mw < 1):
        raise NewbpeError(f"max_words must be an integer >= 1 (or None: no limit), got {mw!r}")
    if options.get("replay_skip") not in ("reference", "zero_count"):
        raise NewbpeError(f"replay_skip must be 'reference' or 'zero_count', got {options.get('replay_skip')!r}")
    return k, filter_substrings(options.get("forbid_substrings"))


def load_stage1(path):
    """The merges (as (left bytes, right bytes)) of an existing stage-1 tokenizer: a newbpe model
    directory / model.json or an HF tokenizer.json that `newbpe.load` reads. Only byte-level rank
    BPE qualifies (the reference extends an HF BPE, §2.2); anything else is a one-line error."""
    import newbpe
    if not isinstance(path, (str, os.PathLike)) or not os.path.exists(path):
        raise NewbpeError(f"stage1: no such model: {path!r}")
    try:
        tok = newbpe.load(path)
    except NewbpeError as e:
        raise NewbpeError(f"stage1 {path}: not a byte-level BPE model ({e})") from None
    if tok.algo != "bpe" or tok.units != "bytes" or tok.default_encoder != "rank" or tok.transforms \
            or any(tok.vocabulary.idents):
        raise NewbpeError(f"stage1 {path}: a {tok.algo} model with {tok.units} units, encoder "
                          f"{tok.default_encoder}{' and transforms' if tok.transforms else ''} is not "
                          "byte-level rank BPE (SuperBPE extends a plain byte-level BPE)")
    v = tok.vocabulary
    return [(v.tokens[a], v.tokens[b]) for a, b, _ in v.merges]


def train_stage1(corpus, vocab_size, special_tokens=(), progress=None, transform=None, **options):
    """Stage 1 (§2.1): plain byte-level BPE (`trainers.bpe`, HF BpeTrainer parity) on the
    `superbpe_stage1` pre-tokenization. Returns its `Tokenizer`."""
    opts = {k: v for k, v in options.items() if k in _BPE_OPTIONS}
    return bpe.train(corpus, vocab_size, special_tokens, progress, pretokenizer=STAGE1, units="bytes",
                     transform=transform, **opts)


def replay(engine, merges, skip_rule="reference", progress=None):
    """Replay inherited merges (left bytes, right bytes) on the stage-2 engine in order, whatever
    their counts, with the skip rule of §2.3 step 3, inside numba (`Engine.replay_strings`; the
    Python loop of `Engine.merge` calls it replaces, kept as the reference in tests/test_superbpe.py,
    paid ~25 µs of state unboxing per call and a dict lookup per part, 16k times per 32k-vocab run).
    Returns the number skipped."""
    return engine.replay_strings(merges, skip_rule, progress)


def train(corpus, vocab_size, special_tokens=(), progress=None, *, pretokenizer=None, units="bytes",
          transform=None, **options):
    """Train SuperBPE (module doc) on a `Corpus` of text. Returns a `Tokenizer` (algo "superbpe")."""
    from ..corpus import Corpus
    opts = {**OPTIONS, **options}
    k, forbidden = check_options(opts, vocab_size, units)
    stage1_merges = load_stage1(opts["stage1"]) if opts["stage1"] is not None else None
    if stage1_merges is not None and len(stage1_merges) < k:
        raise NewbpeError(f"stage1 {opts['stage1']} has {len(stage1_merges)} merges, fewer than the "
                          f"{k} to inherit")
    corpus = Corpus.of(corpus)
    corpus.require_text("superbpe (two pre-tokenizations of the same text)")
    prog = Progress(progress)

    if stage1_merges is None:
        # The first k merges of a BPE run do not depend on how far it goes, so stage 1 stops once it
        # has them (or at vocab_size, as the reference trains it) instead of training a full model.
        table = count_words(corpus, special_tokens, STAGE1, "bytes", transform)
        n_alpha = 256 if opts["byte_alphabet"] == "full" else len(np.unique(table.arrays()[0]))
        target = min(int(vocab_size), len(special_tokens) + n_alpha + k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # stopping early is reported below, for stage 2
            stage1 = train_stage1(corpus, target, special_tokens, progress, transform, **opts)
        v = stage1.vocabulary
        stage1_merges = [(v.tokens[a], v.tokens[b]) for a, b, _ in v.merges]
    inherited = stage1_merges[:k]

    table = count_words(corpus, special_tokens, STAGE2, "bytes", transform)
    engine_opts = {**bpe.OPTIONS, **{n: opts[n] for n in _BPE_OPTIONS}}
    base, engine = prepare(table, vocab_size, special_tokens, engine_opts,
                           max_words=opts["max_words"], forbid_substrings=forbidden)
    skipped = replay(engine, inherited, opts["replay_skip"], progress)
    n_replayed = len(engine.merge_events)
    visible, stop = engine.n_tokens, "done"
    if visible < vocab_size:
        visible, stop = engine.run_bpe(visible, vocab_size, max(1, int(opts["min_frequency"])), progress=prog)
    if visible < vocab_size:
        warnings.warn(f"training stopped at vocab size {visible} < {vocab_size}: "
                      f"{'no pair left' if stop == 'empty' else 'best pair below min_frequency'}", stacklevel=3)
    tokens = engine.vocab_bytes()[base.n_specials:]
    stats = {
        "inherit_merges_requested": int(k),
        "inherited_merges": int(n_replayed),
        "skipped_merges": int(skipped),
        "new_merges": int(len(engine.merge_events) - n_replayed),
        "filtered_merges": int(engine.n_vetoed_pairs()),
        **token_shape_stats(tokens),
    }
    public = {n: opts[n] for n in OPTIONS}
    public["forbid_substrings"] = [f.decode("utf-8", "surrogateescape") for f in forbidden]
    if public["stage1"] is not None:
        public["stage1"] = os.fspath(public["stage1"])
    return bpe.tokenizer_from_engine("superbpe", engine, base, table, public, vocab_size, stats=stats)
