"""Tokenizer evaluation (issue 18): adapters for every tokenizer kind (tokenizers.py), intrinsic
metrics (metrics.py), MorphScore and morpheme-boundary scores (morphology.py), the shared result
shape (result.py) and the driver `run_eval` (run.py). Names load lazily: importing this package
imports no numpy-heavy module."""
from __future__ import annotations

from typing import Any

__all__ = ["run_eval", "EvalResult"]


def __getattr__(name: str) -> Any:
    if name == "run_eval":
        from .run import run_eval
        return run_eval
    if name == "EvalResult":
        from .result import EvalResult
        return EvalResult
    raise AttributeError(name)
