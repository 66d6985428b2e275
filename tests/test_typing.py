"""The public API is typed (py.typed ships): every public callable of `train`, `count`, `load`,
`Tokenizer`, `WordCounts`, `StochasTok` and `Splinter` annotates every parameter and its return,
and the annotations resolve (typing.get_type_hints), so a typo or a new unannotated method fails here."""
import inspect
import typing

import pytest

import newbpe
from newbpe.augment.stochastok import StochasTok
from newbpe.counting import WordCounts
from newbpe.encoding import Encoding
from newbpe.model import Tokenizer
from newbpe.preprocessors.splinter import Splinter

CLASSES = [Tokenizer, WordCounts, StochasTok, Splinter]
# names the modules import only under TYPE_CHECKING (to keep `import newbpe` light)
TYPE_CHECKING_NAMES = {c.__name__: c for c in CLASSES + [Encoding]}
SKIP_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _public(cls):
    """(name, function) of every public method, classmethod, staticmethod and property the class
    defines itself, plus __init__."""
    out = []
    for name, attr in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(attr, property):
            out.append((f"{cls.__name__}.{name}", attr.fget))
        elif isinstance(attr, (classmethod, staticmethod)):
            out.append((f"{cls.__name__}.{name}", attr.__func__))
        elif inspect.isfunction(attr):
            out.append((f"{cls.__name__}.{name}", attr))
    return out


CALLABLES = [("newbpe.train", newbpe.train), ("newbpe.count", newbpe.count), ("newbpe.load", newbpe.load),
             ("newbpe.algorithms", newbpe.algorithms)]
CALLABLES += [item for cls in CLASSES for item in _public(cls)]


def test_walk_finds_the_api():
    names = {name for name, _ in CALLABLES}
    for expected in ("Tokenizer.encode", "Tokenizer.vocab_size", "Tokenizer.load", "Tokenizer.from_dict",
                     "WordCounts.add_files", "WordCounts.table", "StochasTok.expand_batch", "Splinter.apply"):
        assert expected in names


@pytest.mark.parametrize("name,fn", CALLABLES, ids=[name for name, _ in CALLABLES])
def test_annotated(name, fn):
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    missing = [p.name for p in params if p.kind not in SKIP_KINDS and p.annotation is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without a type hint: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, f"{name}: no return annotation"
    hints = typing.get_type_hints(fn, localns=TYPE_CHECKING_NAMES)  # every annotation is a valid, resolvable expression
    assert "return" in hints
    for p in params:
        if p.kind not in SKIP_KINDS:
            assert p.name in hints


def test_py_typed_ships():
    import os
    assert os.path.isfile(os.path.join(os.path.dirname(newbpe.__file__), "py.typed"))
