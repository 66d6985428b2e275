"""The method registry: the one place that names an algorithm.

Each entry says, for one training method: its trainer module, the encoder its models use by
default, the encoders its models may use (their model-data checks run when a model.json of the
method is loaded: encoders/__init__.py, DATA_CHECKS), how exactly stock HF `tokenizers` can express
its models ("exact", "expanded" = exact over a larger vocabulary plus a sidecar, "approximate",
"none"), whether its merge list may repeat a pair, and the rules of its own options (newbpe.checks).
The trainer module holds the rest of the method:

- ``OPTIONS``: the method's options and their defaults;
- ``train(corpus, vocab_size, special_tokens, progress, *, pretokenizer, units, transform,
  **options) -> Tokenizer``: the method's algorithm box; it asks the `Corpus` (newbpe/corpus.py)
  for what it needs, and records its statistics in the model's `stats` (what `newbpe info` shows).

Adding a method = one trainer module (or package) + one entry below (+ its encoder, if new, in
`newbpe/encoders/__init__.py`'s registry).
"""
import importlib
from dataclasses import dataclass, field

from .errors import NewbpeError

HF_EXPORT_KINDS = ("exact", "expanded", "approximate", "none")


@dataclass(frozen=True)
class Method:
    name: str
    module: str              # trainer module
    encoder: str             # default encoder of its models
    encoders: tuple          # encoders its models may use
    hf_export: str           # one of HF_EXPORT_KINDS
    summary: str
    remerges: bool = False   # a pair may be merged again (after its token was removed)
    option_rules: dict = field(default_factory=dict)   # the method's own options (newbpe.checks rules)
    nullable: tuple = ()     # its options that may be None (unset)
    needs_text: bool = False  # the trainer counts the text itself (several pre-tokenizations)

    @property
    def trainer(self):
        return importlib.import_module(self.module)

    @property
    def options(self):
        return self.trainer.OPTIONS



# ByteSpan's own option rules (trainers/bytespan/__init__.py documents them; kept here so that checking
# an option does not import the trainer)
_BYTESPAN_RULES = {
    "signal": ("choice", ("entropy", "surprisal")),
    "constraint": ("choice", ("monotonic", "combined", "global")),
    "threshold_percentile": ("float", 0.0, 100.0, False),
    "proportion_bytespan": ("float", 0.0, 1.0, False),
    "balance_by_language": ("bool",),
    "lm_fit": ("choice", ("crossfit", "same", "external")),
    "lm_order": ("int", 1, 8),
    "lm_discount": ("float", 0.0, 1.0, True),
    "lm_window": ("int", 2, None),
    "lm_stride": ("int", 1, None),
    "add_prefix_space": ("bool",),
    "global_counting": ("choice", ("exact", "reference")),
    "span_ties": ("choice", ("bytes", "first_occurrence")),
    "global_base": ("choice", ("newbpe", "reference")),
    "check_every": ("int", 1, None),
    "frequency_threshold": ("int", 1, None),
    "include_left_byte": ("bool",),
}

METHODS = {m.name: m for m in (
    Method("bpe", "newbpe.trainers.bpe", "rank", ("rank", "lbpe"), "exact",
           "classic byte-level BPE, HF BpeTrainer parity"),
    Method("picky", "newbpe.trainers.picky", "replay", ("replay", "lbpe"), "approximate",
           "Picky BPE: removes intermediate tokens during training", remerges=True,
           option_rules={"threshold": ("float", 0.0, 1.0, True), "max_events": ("int", 1, None),
                         "compat": ("choice", ("recommended", "reference")), "reference_compat": ("bool",),
                         "ios_comparison": ("choice", ("gt", "ge")),
                         "ios_numerator": ("choice", ("merge_count", "child_total")),
                         "self_pair_ios": ("choice", ("paper", "reference", "occupancy")),
                         "check_order": ("choice", ("sequential", "simultaneous")),
                         "count_duplicate_merges": ("bool",), "whole_word_shortcut": ("bool",)},
           nullable=("max_events", "ios_comparison", "ios_numerator", "self_pair_ios", "check_order",
                     "count_duplicate_merges", "whole_word_shortcut")),
    Method("scaffold", "newbpe.trainers.scaffold", "scaffold", ("scaffold", "lbpe"), "expanded",
           "Scaffold-BPE: scaffold tokens demolished at encoding",
           option_rules={"scaffold_tie": ("choice", ("token_first", "pair_first")),
                         "head_timing": ("choice", ("after_updates", "before_updates")),
                         "demolition": ("choice", ("first_merge", "fewest_pieces")), "debug": ("bool",)}),
    Method("superbpe", "newbpe.trainers.superbpe", "rank", ("rank", "lbpe"), "exact",
           "SuperBPE: subword BPE, then superword merges across spaces (two-stage curriculum)",
           option_rules={"inherit_merges": ("int", 1, None), "transition": ("int", 1, None), "stage1": ("str",),
                         "replay_skip": ("choice", ("reference", "zero_count")), "max_words": ("int", 1, None)},
           nullable=("inherit_merges", "transition", "stage1", "max_words"), needs_text=True),
    Method("supertoken", "newbpe.trainers.supertoken", "rank", ("rank", "lbpe"), "exact",
           "TokenAdapt supertokens: byte-level BPE on random 4-23-character chunks (tokens cross spaces)",
           option_rules={"seed_by": ("choice", ("index", "content")), "remove_repeats": ("int", 2, None),
                         "normalizer": ("choice", ("nfc",))},
           nullable=("chunk_bins", "remove_repeats", "normalizer"), needs_text=True),
    Method("bytespan", "newbpe.trainers.bytespan", "bytespan", ("bytespan",), "exact",
           "ByteSpan: spans of predictable bytes (byte LM signals) as vocabulary, WordPiece inference",
           option_rules=_BYTESPAN_RULES, nullable=("proportion_bytespan", "lm_corpus"), needs_text=True),
)}


def get_method(name):
    """The registry entry of algorithm `name`, or a one-line error listing the known ones."""
    method = METHODS.get(name)
    if method is None:
        raise NewbpeError(f"unknown algorithm {name!r} (available: {', '.join(sorted(METHODS))})")
    return method


def names():
    return sorted(METHODS)
