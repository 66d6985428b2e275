"""Errors newbpe raises for bad input.

Every user-facing failure is a `NewbpeError` with a one-line message naming the problem; the CLI
prints that line and exits non-zero without a traceback.
"""


class NewbpeError(ValueError):
    """Bad input or options: the message is one line that names the problem."""


class ModelFileError(NewbpeError):
    """A model file is missing, corrupt, truncated, or from a newer format version."""
