"""Where a SPLINTER transform comes from: a map file, a model directory that carries one, or a
language code learned from the training corpus (`newbpe.train(..., splinter=...)`, `--splinter-map`).
Kept apart from the transform itself so the transform never depends on model files or corpora."""
import os

from ..errors import NewbpeError
from .splinter import Splinter
from .splinter_lang import LANGUAGES


def load_map(path):
    """A Splinter from a map file, or from a model directory / model.json that carries one."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("splinter.json", "model.json"):
            if os.path.exists(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
    if os.path.basename(path) == "model.json" and os.path.exists(path):
        from ..modelfile import read_fields, read_model_file
        transforms = [t for t in read_fields(*read_model_file(path))["transforms"] if isinstance(t, Splinter)]
        if not transforms:
            raise NewbpeError(f"{path}: the model has no SPLINTER map")
        return transforms[0]
    return Splinter.load(path)


def resolve_splinter(splinter, corpus):
    """For `newbpe.train(..., splinter=...)`: a Splinter from a language code (learned from the
    training `Corpus`), a saved map's path, or a Splinter as is."""
    corpus.require_text("SPLINTER")
    if isinstance(splinter, str) and splinter in LANGUAGES:
        if corpus.one_shot:
            raise NewbpeError("learning a SPLINTER map from the training text reads it twice; pass a list, "
                              "files or a dataset, or a learned Splinter / map file")
        return Splinter.learn(corpus, splinter)
    if isinstance(splinter, (str, os.PathLike)):
        return Splinter.load(splinter)
    if not isinstance(splinter, Splinter):
        raise NewbpeError(f"splinter must be a language ({', '.join(sorted(LANGUAGES))}), a Splinter or a map file, "
                          f"not {splinter!r}")
    return splinter
