"""Scaffold-BPE (Lian et al., "Scaffold-BPE: Enhancing Byte Pair Encoding for Large Language Models
with Simple and Effective Scaffold Token Removal", arXiv 2404.17808, AAAI 2025). No official code
exists; specs/scaffold.md resolves the open points. Training (spec §3.2):

    visible = |specials| + |alphabet|                  # non-scaffold tokens; vocab_size counts these
    while visible < vocab_size:
        item = valid head of ONE queue of pair items (count) and scaffold token items (frequency)
        if item is scaffold token t:  t is normal again; visible += 1; continue      # no merge
        merge the pair (a, b) exactly as BPE -> t (new: +1; re-derived scaffold: unflag, +1;
                                                  duplicate string: nothing added)
        f(a) -= F, f(b) -= F (2F for a self pair), f(t) += F
        refresh the token items of a and b if they are scaffold
        h = priority of the queue head now
        for x in (a, b), not a base unit or special: if f(x) < h: x becomes scaffold; visible -= 1

Flagging never touches the corpus, so pair counts and the merge order are exactly BPE's: the merge
list extends plain BPE's (tested). The loop runs inside numba (`Engine.run_scaffold`).

Resolutions of the spec's open questions (§7), each an option with the spec's default:
- Q1 `scaffold_tie="token_first"`: a token item beats a pair item of equal priority (so a token
  whose frequency equals the head is never scaffold, matching the strict `<`); "pair_first".
- Q2 `head_timing="after_updates"`: h is read after the merge's pair updates and the refresh;
  "before_updates" reads it before the merge (TkTkT's approximation).
- Q3 only the two constituents of the merge are tested.
- Q4 a merge that re-creates a scaffold token's string is applied to the corpus and unflags it.
- Q5 `vocab_size` includes base units and specials.
- Q6 `demolition="first_merge"` (left/right of the first merge producing the token) or
  "fewest_pieces" (see encoders/scaffold.py).
- `debug=True` steps the loop one iteration at a time and checks the spec's invariants (visible
  recount, frequency recount, every flag and unflag condition) after each; slow, for tests.
"""
import warnings

import numpy as np

from ..checks import check_all
from ..engine import FLAG_ATOMIC, FLAG_SCAFFOLD
from . import bpe
from .base import Progress, count_words, prepare

OPTIONS = {**bpe.OPTIONS, "scaffold_tie": "token_first", "head_timing": "after_updates",
           "demolition": "first_merge", "debug": False}

EVENT_KINDS = {1: "flag", 2: "unflag_pop", 3: "rederive"}


def resolve_options(options):
    return {**OPTIONS, **check_all(options)}


def fit(word_counts, vocab_size, special_tokens=(), progress=None, **options):
    """Run Scaffold-BPE training; returns (engine, base, events, opts). `events` is the (n, 5)
    log of (kind, token, freq, head, merge index) with kinds as in EVENT_KINDS."""
    opts = resolve_options(options)
    base, engine = prepare(word_counts, vocab_size, special_tokens, opts,
                           token_items="first" if opts["scaffold_tie"] == "token_first" else "last")
    min_count = max(1, int(opts["min_frequency"]))
    head_after = opts["head_timing"] == "after_updates"
    if opts["debug"]:
        visible, stop, events = _fit_checked(engine, base, vocab_size, min_count, head_after, opts)
    else:
        visible, stop, events = engine.run_scaffold(base.n_base, vocab_size, min_count, head_after,
                                                    progress=Progress(progress))
    if visible < vocab_size:
        warnings.warn(f"training stopped at vocab size {visible} < {vocab_size}: "
                      f"{'no pair left' if stop == 'empty' else 'best pair below min_frequency'}", stacklevel=3)
    return engine, base, events, opts


def _fit_checked(engine, base, target, min_count, head_after, opts):
    """One iteration at a time, checking spec §10 invariants 3, 5 and 6 after each."""
    visible, logs = base.n_base, []
    recount_freq = _frequency_recount(engine, base)
    while True:
        best_pair = engine.best_pair_count()
        visible, stop, ev = engine.run_scaffold(visible, target, min_count, head_after, max_steps=1)
        logs.append(ev)
        scaffold = [t for t in range(engine.n_tokens) if engine.flags(t) & FLAG_SCAFFOLD]
        _check(visible == engine.n_tokens - len(scaffold), "visible differs from a recount")
        _check(not any(engine.flags(t) & FLAG_ATOMIC for t in scaffold), "a base unit or special is scaffold")
        _check(np.array_equal(recount_freq(), engine.token_freqs()), "token frequencies differ from a recount")
        for kind, t, f, h, _ in ev.tolist():
            if kind in (1, 2):
                _check(f == engine.token_freq(t), "logged frequency is stale")
            if kind == 1:
                _check(f < h, "flagged a token whose frequency is not below the head")
                if head_after:
                    _check(h == engine.head_count(), "logged head differs from the queue head")
            elif kind == 2:
                tie_ok = opts["scaffold_tie"] == "token_first"
                _check(f > best_pair or (tie_ok and f == best_pair), "unflagged a token below the best pair")
        if stop != "steps":
            return visible, stop, np.concatenate(logs) if logs else np.zeros((0, 5), np.int64)


def _check(ok, what):
    if not ok:
        raise RuntimeError(f"Scaffold-BPE invariant violated: {what}")


def _frequency_recount(engine, base):
    counts = base.counts

    def recount():
        freq = np.zeros(engine.n_tokens, dtype=np.int64)
        for word, c in zip(engine.segmentation(), counts):
            np.add.at(freq, word, c)
        return freq
    return recount


def replay_flags(events, n_tokens):
    """Final scaffold flags obtained by replaying the flag/unflag log (spec §10 invariant 5)."""
    flags = np.zeros(n_tokens, dtype=bool)
    for kind, t, *_ in events:
        flags[t] = kind == 1
    return flags


def train(corpus, vocab_size, special_tokens=(), progress=None, *, pretokenizer="gpt2", units="bytes",
          transform=None, **options):
    """Train Scaffold-BPE; returns a Tokenizer over the expanded vocabulary whose model ids cover
    the non-scaffold tokens only and whose default encoder demolishes scaffold tokens."""
    from ..encoders.scaffold import demolition_table
    word_counts = count_words(corpus, special_tokens, pretokenizer, units, transform)
    engine, base, events, opts = fit(word_counts, vocab_size, special_tokens, progress, **options)
    flags = engine.token_flags()
    scaffold = [t for t, f in enumerate(flags) if f & FLAG_SCAFFOLD]
    kinds = events[:, 0]
    stats = {"scaffold_tokens": len(scaffold), "expanded_vocab_size": engine.n_tokens,
             "flag_events": int((kinds == 1).sum()), "reactivations_pop": int((kinds == 2).sum()),
             "reactivations_rederive": int((kinds == 3).sum())}
    merges = [(a, b, new) for a, b, new, _ in engine.merge_events]
    table = demolition_table(merges, flags, opts["demolition"])
    extra = {"scaffold_events": events.tolist(), "demolition": [[t, p] for t, p in sorted(table.items())]}
    return bpe.tokenizer_from_engine(
        "scaffold", engine, base, word_counts, opts, vocab_size,
        model_ids=[t for t, f in enumerate(flags) if not f & FLAG_SCAFFOLD], flags=flags, extra=extra,
        stats=stats, encoder="scaffold")
