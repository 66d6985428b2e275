"""Text preprocessors applied before pre-tokenization (and inverted after decoding).

- `splinter`: SPLINTER (Gazit et al., Findings of ACL 2025) for Hebrew, Arabic and Malay: the transform;
  `splinter_learn` learns its map, `splinter_lang` holds the language tables.
"""


def apply_outside_specials(transform, text, specials=()):
    """`transform.apply` on the parts of `text` between special-token strings (kept as they are)."""
    if not specials:
        return transform.apply(text)
    from ..pretokenizers import split_specials
    return "".join(c if sp else transform.apply(c) for sp, c in split_specials(text, list(specials)))


def __getattr__(name):
    if name == "Splinter":
        from .splinter import Splinter
        return Splinter
    raise AttributeError(name)
