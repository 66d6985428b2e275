"""Picky BPE (Chizhov et al., "BPE Gets Picky: Efficient Vocabulary Refinement During Tokenizer
Training", EMNLP 2024, arXiv 2409.04599; reference code pchizhov/picky_bpe). Spec: specs/picky.md.

    present = |specials| + |alphabet|
    while present < vocab_size:
        (a, b) = best pair (count desc, then smallest (a, b))          # as in BPE
        t = merge (a, b)                                                # new, restored, or duplicate
        F = merged occurrences; f(a) -= F, f(b) -= F (2F for a self pair); f(t) += F
        for x in (a, b):                                                # check_order="sequential"
            IoS(x) = F / f_before(x)                                    # Intersection over Self
            if IoS(x) > T and x is not atomic: remove x                 # SPLIT event after the MERGE
    remove(x): replace x everywhere by walk(x) (its original parents, through removed tokens)

A removed token comes back ("restoration") when a later merge forms its string again. Every
reference quirk is an option (spec §5); `compat="reference"` switches them all to the reference's
behaviour. Ties follow README §4, so unlike the reference the result is deterministic.
"""
import warnings

from ..engine import FLAG_ABSENT, FLAG_ATOMIC
from ..errors import NewbpeError
from . import bpe
from .base import Progress, prepare

QUIRKS = {
    "ios_comparison": ("gt", "gt"),                  # (recommended, reference): "gt" | "ge"
    "ios_numerator": ("merge_count", "merge_count"),  # | "child_total"
    "self_pair_ios": ("paper", "reference"),          # | "occupancy"
    "check_order": ("sequential", "sequential"),      # | "simultaneous"
    "count_duplicate_merges": (False, True),
    "whole_word_shortcut": (False, True),
}
OPTIONS = {**bpe.OPTIONS, "threshold": 0.9, "compat": "recommended", "reference_compat": False,
           "max_events": None, **{k: None for k in QUIRKS}}


def resolve_options(options):
    """Apply the compat preset, then the user's explicit quirk options."""
    compat = "reference" if options.get("reference_compat") else options.get("compat", "recommended")
    if compat not in ("recommended", "reference"):
        raise NewbpeError(f"compat must be 'recommended' or 'reference', not {compat!r}")
    opts = {**OPTIONS, **options, "compat": compat}
    for name, (recommended, reference) in QUIRKS.items():
        if opts[name] is None:
            opts[name] = reference if compat == "reference" else recommended
    if opts["ios_comparison"] not in ("gt", "ge"):
        raise NewbpeError(f"ios_comparison must be 'gt' or 'ge', not {opts['ios_comparison']!r}")
    if opts["self_pair_ios"] not in ("paper", "reference", "occupancy"):
        raise NewbpeError(f"self_pair_ios must be 'paper', 'reference' or 'occupancy'")
    if opts["check_order"] not in ("sequential", "simultaneous"):
        raise NewbpeError(f"check_order must be 'sequential' or 'simultaneous'")
    if opts["ios_numerator"] not in ("merge_count", "child_total"):
        raise NewbpeError(f"ios_numerator must be 'merge_count' or 'child_total'")
    if not 0.0 < float(opts["threshold"]) <= 1.0:
        raise NewbpeError(f"threshold must be in (0, 1], got {opts['threshold']!r}")
    return opts


class PickyRun:
    """The training state on top of the engine: present flags, the event log, statistics."""

    def __init__(self, engine, n_base, opts):
        self.engine = engine
        self.opts = opts
        self.present = n_base
        self.events = []            # ["M", a, b, out] or ["S", x, [pieces]]
        self.stats = {"merge_events": 0, "removal_events": 0, "restorations": 0, "duplicate_merges": 0}

    def ios(self, x, merged, new, self_pair):
        """Intersection over Self of constituent x; f(x) has already been decremented."""
        f = self.engine.token_freq(x)
        if self_pair:
            mode = self.opts["self_pair_ios"]
            if mode == "reference":
                return merged / (f + merged) if f + merged > 0 else 0.0
            if mode == "paper":
                return merged / (f + 2 * merged)
            return 2 * merged / (f + 2 * merged)
        numerator = merged if self.opts["ios_numerator"] == "merge_count" else self.engine.token_freq(new)
        return numerator / (f + merged)

    def passes(self, ios):
        t = float(self.opts["threshold"])
        return ios > t if self.opts["ios_comparison"] == "gt" else ios >= t

    def removable(self, x):
        return not self.engine.flags(x) & (FLAG_ATOMIC | FLAG_ABSENT)

    def walk(self, y):
        """Decomposition of y into present or atomic tokens along original parents."""
        out, stack = [], [y]
        while stack:
            t = stack.pop()
            if self.engine.flags(t) & FLAG_ATOMIC or not self.engine.flags(t) & FLAG_ABSENT:
                out.append(t)
            else:
                left, right = self.engine.parents(t)
                stack.append(right)
                stack.append(left)
        return out

    def remove(self, x):
        self.engine.set_flag(x, FLAG_ABSENT)
        pieces = self.walk(x)
        self.engine.replace(x, pieces)
        self.present -= 1
        self.events.append(["S", x, pieces])
        self.stats["removal_events"] += 1

    def after_merge(self, pair, new, merged, created):
        """Account for one MERGE event (the engine already applied it), then the removals it causes."""
        engine = self.engine
        a, b = pair
        if created:
            self.present += 1
        elif engine.flags(new) & FLAG_ABSENT:
            engine.set_flag(new, FLAG_ABSENT, on=False)            # restoration: parents unchanged
            self.present += 1
            self.stats["restorations"] += 1
        else:
            self.stats["duplicate_merges"] += 1
            if self.opts["count_duplicate_merges"]:
                self.present += 1
        self.events.append(["M", a, b, new])
        self.stats["merge_events"] += 1
        if a == b:
            if self.removable(a) and self.passes(self.ios(a, merged, new, True)):
                self.remove(a)
        elif self.opts["check_order"] == "sequential":
            for x in (a, b):
                if self.removable(x) and self.passes(self.ios(x, merged, new, False)):
                    self.remove(x)
        else:
            doomed = [x for x in (a, b) if self.removable(x) and self.passes(self.ios(x, merged, new, False))]
            for x in doomed:
                self.remove(x)


def fit(word_counts, vocab_size, special_tokens=(), progress=None, **options):
    """Run Picky BPE training on a `WordCounts` table; returns the `PickyRun` (engine, events,
    statistics). `train` packages it as a Tokenizer."""
    opts = resolve_options(options)
    base, engine = prepare(word_counts, vocab_size, special_tokens, opts, allow_remerge=True, track_tokens=True)
    run = PickyRun(engine, base.n_base, opts)
    report = Progress(progress)
    max_events = opts["max_events"] or 20 * vocab_size
    min_count = max(1, int(opts["min_frequency"]))
    while run.present < vocab_size:
        step = engine.merge_best(min_count)          # ((a, b), new, merged, created)
        if step is None:
            warnings.warn(f"training stopped at vocab size {run.present} < {vocab_size}: no pair with count "
                          f">= {min_count} left", stacklevel=3)
            break
        run.after_merge(*step)
        if len(run.events) > max_events:
            raise NewbpeError(f"Picky BPE exceeded max_events={max_events} events; raise max_events")
        report("merges", run.present - base.n_base, vocab_size - base.n_base)
    run.base = base
    return run


def present_tokens(run):
    """Internal ids of present tokens, increasing (the model ids' order)."""
    return [t for t in range(run.engine.n_tokens) if not run.engine.flags(t) & FLAG_ABSENT]


def train(word_counts, vocab_size, special_tokens=(), progress=None, **options):
    """Train Picky BPE; returns a Tokenizer whose default encoder replays the event log."""
    run = fit(word_counts, vocab_size, special_tokens, progress, **options)
    engine, base = run.engine, run.base
    absent = [t for t in range(engine.n_tokens) if engine.flags(t) & FLAG_ABSENT]
    restored = sorted({e[3] for e in run.events if e[0] == "M"} & {e[1] for e in run.events if e[0] == "S"}
                      - set(absent))
    stats = {**run.stats, "removed_tokens": len(absent), "restored_tokens": len(restored),
             "present_tokens": run.present, "num_duplicate_merges": run.stats["duplicate_merges"]}
    return bpe.tokenizer_from_engine(
        "picky", engine, base, word_counts, run.opts, vocab_size, model_ids=present_tokens(run),
        flags=engine.token_flags(), extra={"events": run.events},
        stats=stats, encoder="replay")
