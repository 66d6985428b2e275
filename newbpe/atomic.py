"""All-or-nothing outputs: after an exception, a full disk, SIGINT, SIGKILL or a crash, every newbpe
output (model directory, export, count file, StochasTok ids, split table, SPLINTER map) is either
complete and new or exactly what was there before. Two mechanisms:

**A directory newbpe writes as a whole** (`write_dir`: `tok.save`, `save_hf`, the tiktoken export)
is staged in a sibling directory of the same parent and swapped in with one
`renameat2(RENAME_EXCHANGE)` (Linux >= 3.15, glibc >= 2.28, via ctypes; RENAME_NOREPLACE when the
target does not exist); the old contents are deleted after the swap. Any reader (newbpe, HF
`tokenizers`, a shell) sees the old directory or the new one, never a mix. Entries of the target
this output does not own (a user's config.json, weights, subfolders) are carried into the staging
directory as hard links under an flock of the parent, so two concurrent saves each carry a complete
directory; the names in `owned` (every file an earlier model or export may have left) are not
carried, so nothing of an earlier model survives.

**Files beside other files** (`Output(directory)`: a count file, OUT.bin + OUT.bin.idx, a table
saved into a model directory) are written to temp files beside them and renamed over them: one
file is atomic by rename. A group cannot be replaced atomically on POSIX, so a group commit keeps
hard-link backups and writes a journal (the commit point) before renaming: an error during the
renames restores the old files at once; a kill leaves the journal, and the next write into that
directory, or `newbpe.load` of it, completes the renames (roll forward). Until then a reader other
than newbpe may see a mix of the group. This best effort is also the fallback for directories that
cannot be swapped: no RENAME_EXCHANGE (non-Linux, old glibc, NFS), no hard links, a target that is
a mount point or holds this process's working directory (a swap would strand a shell in a deleted
directory), or a parent that is not writable. SIGINT, SIGTERM and SIGHUP wait (main thread) while
a commit runs.

Temp names carry their owner, `.<name>.newbpe-<host>-<pid>-<random>.<kind>`: every write first
sweeps the temps of processes that are provably dead on this host (journals are completed first),
so the temp of a live save, in this process or another, is never touched.

Permissions follow the umask (files 0666 & ~umask, new directories 0777 & ~umask); a swapped-in
directory takes the mode (and, where permitted, the owner) of the one it replaces, not its ACLs.

Every step that can fail with ENOSPC or EIO (create, write, fsync, rename, link, mkdir, a group
commit's unlinks) first calls `_step(kind)`: a no-op unless tests/test_faults.py sets `_fault_hook`.
"""
import contextlib
import errno
import io
import json
import os
import re
import signal
import stat
import sys
import threading
import zlib

from .errors import NewbpeError

_fault_hook = None                  # tests: called with the kind of every I/O step (may raise)


def _step(kind):
    if _fault_hook is not None:
        _fault_hook(kind)


# ---------------------------------------------------------------------------------------------- temp names
_HOST = f"{zlib.crc32(os.uname().nodename.encode() if hasattr(os, 'uname') else b'') & 0xffffffff:08x}"
_TEMP = re.compile(r"\.newbpe-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-(?P<rand>[0-9a-f]+)\."
                   r"(?P<kind>tmp|old|journal|stage)$")
_NO_LINKS = {errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
             errno.EXDEV, errno.ENOSYS}
_NO_SWAP = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
            errno.EXDEV, errno.EBUSY}


def _tag():
    """The owner part of this process's temp names (a fresh random part per output)."""
    return f"newbpe-{_HOST}-{os.getpid()}-{os.urandom(4).hex()}"


def _temp_name(name, kind, tag):
    return f".{name[:100]}.{tag}.{kind}"


def _owner_dead(m):
    """True only when the temp's owner provably no longer runs: same host, and no such process
    (EPERM means alive under another user; a reused pid only delays the sweep). Never on Windows,
    where os.kill(pid, 0) would terminate the process."""
    if m["host"] != _HOST or int(m["pid"]) == os.getpid() or os.name == "nt":
        return False
    try:
        os.kill(int(m["pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass
    return False


def sweep(directory, journals_only=False):
    """Finish or delete what dead newbpe processes left in `directory`: a pending journal is
    completed (roll forward), then temp files, backups and staging directories are removed. Best
    effort: a sweep never fails a save. With journals_only (loading), nothing else is deleted."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    dead = [(n, m) for n in names if (m := _TEMP.search(n)) and _owner_dead(m)]
    stuck = set()
    for n, m in dead:
        if m["kind"] == "journal":
            try:
                _roll_forward(directory, n)
            except Exception:                   # noqa: BLE001 - keep its temps: a later sweep may finish it
                stuck.add(m["rand"])
    if journals_only:
        return
    for n, m in dead:
        if m["kind"] != "journal" and m["rand"] not in stuck:
            _discard(os.path.join(directory, n))


def recover(path):
    """Complete the commits a killed process left half-done in directory `path` (or the directory
    of file `path`): newbpe.load calls this, so it reads the complete new state. Never raises."""
    if os.path.exists(path):
        sweep(path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path)), journals_only=True)


# ---------------------------------------------------------------------------------------------- small helpers
def _discard(path):
    """Delete a file or a directory tree, ignoring errors (a later sweep gets what remains)."""
    import shutil
    with contextlib.suppress(OSError):
        shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)


def _fsync_dir(path):
    """Make renames in `path` durable (no-op where directories cannot be opened or synced)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        _step("fsync")
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


def _link(src, dst):
    """A hard link to `src` itself (a symlink stays a symlink) where the platform can say so."""
    if os.link in os.supports_follow_symlinks:
        return os.link(src, dst, follow_symlinks=False)
    return os.link(src, dst)


def _makedirs(path):
    """os.makedirs with the umask's mode; returns the directories it created, outermost first."""
    missing, made = [], []
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    try:
        for d in reversed(missing):
            _step("mkdir")
            try:
                os.mkdir(d, 0o777)
                made.append(d)
            except FileExistsError:
                if not os.path.isdir(d):
                    raise
    except BaseException:
        for d in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        raise
    return made


class _Raw(io.FileIO):
    """A temp file whose every write is an injectable step."""

    def write(self, b):
        _step("write")
        return super().write(b)


def _create(path, binary):
    """A new file (O_EXCL, mode 0666 & ~umask) opened for writing, binary or UTF-8 text."""
    _step("create")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    f = io.BufferedWriter(_Raw(fd, "wb"))
    return f if binary else io.TextIOWrapper(f, encoding="utf-8", newline="")


def _finish(path, f):
    """Flush, fsync and close a temp file (reopened when the caller closed it already)."""
    if not f.closed:
        f.flush()
    fd = os.open(path, os.O_RDONLY) if f.closed else f.fileno()
    try:
        _step("fsync")
        os.fsync(fd)
    finally:
        os.close(fd) if f.closed else _close_quietly(f)


def _close_quietly(f):
    """Close without raising (the fd is released even when the final flush fails): an abort on a
    full disk must still get to the unlinks."""
    with contextlib.suppress(OSError):
        f.close()


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends, then deliver them (main thread only; in
    other threads the commit is not interrupted by Python anyway, and a kill is rolled forward)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got, old = [], {}
    try:
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is not None:
                old[sig] = signal.signal(sig, lambda s, _frame: got.append(s))
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in got:
            handler = old[sig]
            if callable(handler):
                handler(sig, None)              # SIGINT: KeyboardInterrupt, after the commit
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), sig)


@contextlib.contextmanager
def _locked(directory):
    """An exclusive flock on `directory` (best effort: without flock, no lock)."""
    try:
        import fcntl
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)                             # releases the lock


# ---------------------------------------------------------------------------------------------- renameat2
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_renameat2 = False                              # not looked up yet; None: unavailable


def _have_renameat2():
    """glibc's renameat2 (looked up once), or None."""
    global _renameat2
    if _renameat2 is False:
        _renameat2 = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes
                fn = ctypes.CDLL(None, use_errno=True).renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                fn.restype = ctypes.c_int
                _renameat2 = fn
            except (OSError, AttributeError):
                pass
    return _renameat2


def _rename2(src, dst, flags):
    """renameat2(src, dst, flags); without it NOREPLACE falls back to rename (which may replace an
    empty directory) and EXCHANGE raises ENOSYS."""
    _have_renameat2()
    _step("rename")
    if _renameat2 is None:
        if flags == _RENAME_EXCHANGE:
            raise OSError(errno.ENOSYS, "renameat2(RENAME_EXCHANGE) is not available", src)
        return os.rename(src, dst)
    if _renameat2(-100, os.fsencode(src), -100, os.fsencode(dst), flags) != 0:   # -100: AT_FDCWD
        import ctypes
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), src, None, dst)


# ---------------------------------------------------------------------------------------------- group commit
def _commit_group(directory, temps, remove, tag):
    """Rename `temps` ({name: temp path in `directory`}) over their names and delete the names in
    `remove`, as one unit (module docstring): backups by hard link, a journal when there is more
    than one change, the old state restored on any error."""
    path = lambda n: os.path.join(directory, n)             # noqa: E731
    j = {"replace": [[n, os.path.basename(t)] for n, t in temps.items()], "remove": list(remove),
         "backup": {}}
    journal, applied = None, []
    try:
        for name in [*temps, *remove]:
            if os.path.lexists(path(name)):
                backup = _temp_name(name, "old", tag)
                try:
                    _step("link")
                    _link(path(name), path(backup))
                    j["backup"][name] = backup
                except OSError as e:
                    if e.errno not in _NO_LINKS:
                        raise
                    j["backup"][name] = None            # no hard links here: an error rolls forward
        if len(temps) + len(remove) > 1:
            journal = path(_temp_name("commit", "journal", tag))
            f = _create(journal, binary=False)
            f.write(json.dumps(j))
            _finish(journal, f)
            _fsync_dir(directory)                       # the commit point
        for name, temp in temps.items():
            _step("rename")
            os.replace(temp, path(name))
            applied.append(name)
        for name in remove:
            _step("unlink")
            _discard(path(name))
            applied.append(name)
        _fsync_dir(directory)
    except BaseException:
        _undo(directory, j, applied, journal)
        raise
    finally:
        for b in j["backup"].values():
            if b:
                _discard(path(b))
    if journal:
        _discard(journal)


def _undo(directory, j, applied, journal):
    """After an error: put back the old version of every name changed so far, then drop the temps.
    With a journal, each new file is first linked back to its temp name, so that a kill during the
    undo still leaves a journal that completes the new state. If an old version cannot be restored
    (no hard links), the commit is completed instead."""
    path = lambda n: os.path.join(directory, n)             # noqa: E731
    temps = dict(j["replace"])
    try:
        if any(j["backup"].get(n, "") is None for n in applied):
            if journal:
                _roll_forward(directory, os.path.basename(journal))
            return
        for name in reversed(applied):
            if journal and name in temps and not os.path.lexists(path(temps[name])):
                _link(path(name), path(temps[name]))
            backup = j["backup"].get(name)
            if backup:
                os.replace(path(backup), path(name))
            elif name in temps:
                os.unlink(path(name))
        if journal:
            _fsync_dir(directory)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(journal)                      # the rollback is committed
    except OSError:
        return                                          # the journal (if any) completes it later
    for temp in temps.values():
        _discard(path(temp))


def _roll_forward(directory, journal_name):
    """Complete the commit a journal describes: rename every temp that is still there over its
    name, delete the removed names, then the backups and the journal. Idempotent."""
    path = lambda n: os.path.join(directory, n)             # noqa: E731
    try:
        with open(path(journal_name), encoding="utf-8") as f:
            j = json.load(f)
    except ValueError:                                      # torn before its fsync: never committed
        _discard(path(journal_name))
        return
    for name, temp in j["replace"]:
        if os.path.lexists(path(temp)):
            _step("rename")
            os.replace(path(temp), path(name))
    for name in j["remove"]:
        _discard(path(name))
    _fsync_dir(directory)
    for b in j["backup"].values():
        if b:
            _discard(path(b))
    os.unlink(path(journal_name))


# ---------------------------------------------------------------------------------------------- carrying user files
def _carry(src, dst, skip=()):
    """Recreate the entries of `src` (except the names in `skip`) in `dst`: files and symlinks as
    hard links, directories recursively with their modes. A mount point inside raises EXDEV, a
    file that cannot be linked its error: the directory is then committed in place (copying a
    user's weights on every save is not an option)."""
    dev = os.stat(src).st_dev
    with os.scandir(src) as entries:
        for e in entries:
            if e.name in skip:
                continue
            s, d = os.path.join(src, e.name), os.path.join(dst, e.name)
            if e.is_dir(follow_symlinks=False):
                if e.stat(follow_symlinks=False).st_dev != dev:
                    raise OSError(errno.EXDEV, "a mount point inside the output directory", s)
                _step("mkdir")
                os.mkdir(d, 0o700)
                _carry(s, d)
                os.chmod(d, stat.S_IMODE(e.stat(follow_symlinks=False).st_mode))
                continue
            try:
                _step("link")
                _link(s, d)
            except OSError as err:
                if err.errno not in _NO_LINKS or not e.is_symlink():
                    raise                   # EPERM etc. on a file: commit in place, never copy weights
                os.symlink(os.readlink(s), d)


def _take_mode(src, dst):
    """Give directory `dst` the mode (and, where permitted, the owner) of `src`."""
    st = os.stat(src)
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    here = os.stat(dst)
    if (here.st_uid, here.st_gid) != (st.st_uid, st.st_gid) and hasattr(os, "chown"):
        with contextlib.suppress(OSError):
            os.chown(dst, st.st_uid, st.st_gid)


# ---------------------------------------------------------------------------------------------- outputs
class Output:
    """One all-or-nothing output into directory `path`: `open(name)` / `write(name, data)` stage
    files, `commit()` puts them in place together, `abort()` removes every trace. As a context
    manager it commits on success and aborts on an exception.

    whole_dir=False: files beside whatever else the directory holds (temp files + group commit).
    whole_dir=True: the directory is newbpe's output (stage + swap); names in `owned` that were not
    written are deleted, everything else in the directory is kept."""

    def __init__(self, path, whole_dir=False, owned=()):
        self.shown = os.fspath(path)
        self.path = os.path.realpath(self.shown)         # a symlinked target: where it points
        self.owned = frozenset(owned)
        self._tag = _tag()
        self._files = {}                                 # name -> [temp path, file object]
        self._stage = None
        self._done = False
        if whole_dir and os.path.lexists(self.path) and not os.path.isdir(self.path):
            raise NewbpeError(f"output path exists and is not a directory: {self.shown}")
        parent = os.path.dirname(self.path)
        self._made = []
        try:
            if whole_dir:
                self._made = _makedirs(parent)
                sweep(parent)                          # staging directories of dead saves
            if os.path.isdir(self.path):
                sweep(self.path)                       # temps and journals of dead in-place commits
            if whole_dir and self._swappable(parent):
                self._stage = os.path.join(parent, _temp_name(os.path.basename(self.path), "stage", self._tag))
                try:
                    _step("mkdir")
                    os.mkdir(self._stage, 0o777)
                except OSError as e:
                    self._stage = None
                    if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                        raise
            if self._stage is None:
                self._made += _makedirs(self.path)
        except BaseException:
            self.abort()
            raise

    def _swappable(self, parent):
        """False where a directory swap would do harm or cannot work (see the module docstring)."""
        try:
            cwd = os.path.realpath(os.getcwd())
            if os.path.commonpath([cwd, self.path]) == self.path:
                return False
        except (OSError, ValueError):
            pass
        return not (os.path.isdir(self.path) and os.stat(self.path).st_dev != os.stat(parent).st_dev)

    def open(self, name, binary=False):
        """A new file `name` in the output, open for writing; the caller may close it."""
        if name in self._files or os.path.basename(name) != name or name in ("", ".", ".."):
            raise ValueError(f"bad or repeated output name {name!r}")
        temp = os.path.join(self._stage, name) if self._stage else \
            os.path.join(self.path, _temp_name(name, "tmp", self._tag))
        self._files[name] = [temp, None]
        self._files[name][1] = _create(temp, binary)
        return self._files[name][1]

    def write(self, name, data):
        """A whole file: str (UTF-8) or bytes."""
        self.open(name, binary=isinstance(data, (bytes, bytearray, memoryview))).write(data)

    @property
    def written(self):
        return [os.path.join(self.shown, n) for n in self._files]

    def commit(self):
        """Make the staged files the output's content, all at once. Returns the paths written.
        Signals that arrive meanwhile are delivered once the output is in place."""
        try:
            with _signals_deferred():
                for temp, f in self._files.values():
                    _finish(temp, f)
                if not (self._stage and self._swap()):
                    self._commit_in_place()
                self._done = True          # a signal held meanwhile is raised after this, not aborted
        except BaseException:
            self.abort()
            raise
        return self.written

    def _swap(self):
        """Exchange the staged directory with the target; False when the file system cannot."""
        parent = os.path.dirname(self.path)
        with _locked(parent):
            for _ in range(3):                           # the target may appear or go meanwhile
                exists = os.path.isdir(self.path)
                if exists and _have_renameat2() is None:
                    return False                         # no exchange here: commit in place
                try:
                    if exists:
                        _carry(self.path, self._stage, skip=self.owned | set(self._files))
                        _take_mode(self.path, self._stage)
                    _fsync_dir(self._stage)
                    _rename2(self._stage, self.path, _RENAME_EXCHANGE if exists else _RENAME_NOREPLACE)
                    break
                except OSError as e:
                    if e.errno in _NO_SWAP or e.errno in _NO_LINKS:
                        return self._unstage_carried()
                    if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOENT):
                        raise
                    self._unstage_carried()
            else:
                raise OSError(errno.EBUSY, "the output directory kept changing during the save", self.path)
            try:
                _fsync_dir(parent)
            except BaseException:                        # not durable: put the old state back
                if exists:
                    _rename2(self._stage, self.path, _RENAME_EXCHANGE)
                else:
                    os.rename(self.path, self._stage)
                raise
            old, self._stage = self._stage, None
            if exists:
                _discard(old)
        return True

    def _unstage_carried(self):
        """Remove what _carry put into the staging directory (before a retry or a fallback)."""
        for e in os.listdir(self._stage):
            if e not in self._files:
                _discard(os.path.join(self._stage, e))
        return False

    def _commit_in_place(self):
        directory = self.path
        if self._stage:                                 # fallback: the staged files go beside their names
            self._made += _makedirs(directory)
            for name, entry in self._files.items():
                temp = os.path.join(directory, _temp_name(name, "tmp", self._tag))
                _step("rename")
                os.replace(entry[0], temp)
                entry[0] = temp
            os.rmdir(self._stage)
            self._stage = None
        remove = [n for n in sorted(self.owned - set(self._files))
                  if os.path.lexists(os.path.join(directory, n)) and not os.path.isdir(os.path.join(directory, n))]
        _commit_group(directory, {n: e[0] for n, e in self._files.items()}, remove, self._tag)

    def abort(self):
        """Remove every temp file, the staging directory and the directories this output created."""
        with _signals_deferred():
            if self._done:
                return
            self._done = True
            for temp, f in self._files.values():
                if f is not None:
                    _close_quietly(f)
                _discard(temp)
            if self._stage:
                _discard(self._stage)
            for d in reversed(self._made):
                try:
                    os.rmdir(d)
                except OSError:
                    break

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.commit()
        else:
            self.abort()


def write_dir(path, files, owned=()):
    """Replace newbpe's part of directory `path` by `files` ({name: str | bytes}) as one unit:
    names in `owned` that `files` lacks are deleted, every other entry of `path` is kept. Returns
    the paths written, in the order of `files`."""
    with Output(path, whole_dir=True, owned=set(owned) | set(files)) as out:
        for name, data in files.items():
            out.write(name, data)
    return out.written


def write_file(path, write, binary=False):
    """Call write(f) on a new file that replaces `path` (a symlink: the file it points to) only
    once complete and synced."""
    real = os.path.realpath(os.fspath(path))
    with Output(os.path.dirname(real)) as out:
        write(out.open(os.path.basename(real), binary=binary))
    return os.fspath(path)


def write_text(path, text):
    return write_file(path, lambda f: f.write(text))
