"""Text preprocessors applied before pre-tokenization (and inverted after decoding).

- `splinter`: SPLINTER (Gazit et al., Findings of ACL 2025) for Hebrew, Arabic and Malay.
"""


def __getattr__(name):
    if name == "Splinter":
        from .splinter import Splinter
        return Splinter
    raise AttributeError(name)
