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

A removed token comes back ("restoration") when a later merge forms its string again. Merges, their
accounting and the IoS test run inside numba (`Engine.run_picky`); the kernel returns after any merge
that leaves a constituent to remove, and the removals happen here (`PickyRun.removals`). Every
reference quirk is an option (spec §5); `compat="reference"` switches them all to the reference's
behaviour. Ties follow README §4, so unlike the reference the result is deterministic.
"""
import warnings

from ..checks import check_all
from ..engine import FLAG_ABSENT, FLAG_ATOMIC
from ..errors import NewbpeError
from . import bpe
from .base import Progress, count_words, prepare

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
    options = check_all(options)
    compat = "reference" if options.get("reference_compat") else (options.get("compat") or "recommended")
    opts = {**OPTIONS, **options, "compat": compat}
    for name, (recommended, reference) in QUIRKS.items():
        if opts[name] is None:
            opts[name] = reference if compat == "reference" else recommended
    return opts


class PickyRun:
    """The training state on top of the engine: present count, the event log, statistics.

    Merges, their accounting (new / restored / duplicate) and the IoS test run inside numba
    (`Engine.run_picky`, loops.run_picky/picky_ios); the kernel hands back after any merge that
    leaves a constituent to remove, and `removals` does them here, reading like the algorithm box."""

    def __init__(self, engine, n_base, opts):
        self.engine = engine
        self.opts = opts
        self.present = n_base
        self.events = []            # ["M", a, b, out] or ["S", x, [pieces]]
        self.stats = {"merge_events": 0, "removal_events": 0, "restorations": 0, "duplicate_merges": 0}
        self.packed = engine.picky_options(ios_ge=opts["ios_comparison"] == "ge",
                                           child_total=opts["ios_numerator"] == "child_total",
                                           self_pair_ios=opts["self_pair_ios"],
                                           count_duplicates=opts["count_duplicate_merges"])
        self.threshold = float(opts["threshold"])

    def passes(self, x, merged, new, self_pair):
        """x is removable (not atomic, not removed) and IoS(x) passes the threshold."""
        return self.engine.picky_passes(x, merged, new, self_pair, self.packed, self.threshold)

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
        self.engine.replace(x, pieces, check=False)          # pieces spell x by construction
        self.present -= 1
        self.events.append(["S", x, pieces])
        self.stats["removal_events"] += 1

    def removals(self, a, b, new, merged, passed=None):
        """The SPLIT events a MERGE of (a, b) -> new causes (`check_order`). `passed`: the kernel's
        verdicts for (a, b) right after the merge, reused while nothing has been removed since."""
        a_ok, b_ok = passed if passed is not None else (
            self.passes(a, merged, new, a == b), a != b and self.passes(b, merged, new, False))
        if a == b or self.opts["check_order"] == "simultaneous":
            for x, ok in ((a, a_ok), (b, b_ok)):
                if ok:
                    self.remove(x)
            return
        if a_ok:                                     # sequential: b is tested after a's removal
            self.remove(a)
            b_ok = self.passes(b, merged, new, False)
        if b_ok:
            self.remove(b)

    def run(self, target, min_count=1, max_steps=1 << 62):
        """Merge (in numba) until `target` present tokens, doing removals as they fall due.
        Returns the engine's stop reason of the last call ('done', 'empty', 'min_frequency', 'steps')."""
        while True:
            self.present, stop, merges, (n, restored, dup, a_ok, b_ok) = self.engine.run_picky(
                self.present, target, self.packed, self.threshold, min_count, max_steps)
            self.events.extend(["M", a, b, new] for a, b, new, _ in merges)
            self.stats["merge_events"] += n
            self.stats["restorations"] += restored
            self.stats["duplicate_merges"] += dup
            max_steps -= n
            if stop != "removal":
                return stop
            a, b, new, merged = merges[-1]
            self.removals(a, b, new, merged, (bool(a_ok), bool(b_ok)))
            if max_steps <= 0:
                return "steps"


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
        stop = run.run(vocab_size, min_count, max_steps=1000)
        report("merges", run.present - base.n_base, vocab_size - base.n_base)
        if len(run.events) > max_events:
            raise NewbpeError(f"Picky BPE exceeded max_events={max_events} events; raise max_events")
        if stop in ("empty", "min_frequency"):
            warnings.warn(f"training stopped at vocab size {run.present} < {vocab_size}: no pair with count "
                          f">= {min_count} left", stacklevel=3)
            break
    run.base = base
    return run


def present_tokens(run):
    """Internal ids of present tokens, increasing (the model ids' order)."""
    return [t for t in range(run.engine.n_tokens) if not run.engine.flags(t) & FLAG_ABSENT]


def train(corpus, vocab_size, special_tokens=(), progress=None, *, pretokenizer="gpt2", units="bytes",
          transform=None, **options):
    """Train Picky BPE on the word counts of a `Corpus`; returns a Tokenizer whose default encoder
    replays the event log."""
    word_counts = count_words(corpus, special_tokens, pretokenizer, units, transform)
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
