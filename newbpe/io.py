"""Atomic output: write to a temporary file in the target directory, then rename over the target,
so a crash or a bad input never leaves a half-written model or count file."""
import os
import tempfile


def atomic_write(path, write, binary=False):
    """Call write(f) on a temp file next to `path`, fsync it, then rename it to `path`."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path, text):
    atomic_write(path, lambda f: f.write(text))
