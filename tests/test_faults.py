"""Fault injection: every output is all-or-nothing (newbpe/atomic.py).

- disk full: an OSError(ENOSPC) injected at each I/O step of a write in turn (the steps are counted
  in a clean run first), for a model save, a count file, StochasTok output, the HF, tiktoken and CLI
  exports and a table save; after each the whole tree equals the old one byte for byte (so no temp
  file remains). The same on a real, small tmpfs where this runs as root and may mount.
- crashes: a forked child exits (os._exit, as SIGKILL would leave it) at each step in turn; then
  real SIGKILL / SIGINT at seeded random moments of saving, training, exporting and StochasTok in
  subprocesses. After each the output is the complete old or new state (model directories also
  through HF `tokenizers`), a group commit cut short is completed by the next load or write, and
  the next write sweeps every temp.
- concurrent saves (threads and processes) end as one complete model, and a reader holding the
  directory sees a complete model at every moment.
- permissions follow the umask.

Figures (faults by kind, crash points, kills) are collected in FIGURES; with NEWBPE_FAULT_FIGURES=path
they are written there as JSON (the README quotes them). Nothing is printed.
"""
import errno
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

import newbpe
from newbpe import atomic
from newbpe.augment.stochastok import IdsWriter, StochasTok, expand_files
from newbpe.cli import main
from newbpe.export.hf import save_hf
from newbpe.export.tiktoken import save_tiktoken

from conftest import BUNDLED, ROOT

FIGURES = Counter()
TEMP = re.compile(r"\.newbpe-|^\.tmp-")
LINES = (BUNDLED / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:100_000].splitlines(keepends=True)


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield FIGURES
    out = os.environ.get("NEWBPE_FAULT_FIGURES")
    if out:
        with open(out, "w") as f:
            json.dump(dict(sorted(FIGURES.items())), f, indent=1)


@pytest.fixture(scope="module")
def models():
    return {"bpe": newbpe.train(LINES, algo="bpe", vocab_size=300, special_tokens=["<|endoftext|>"]),
            "big": newbpe.train(LINES, algo="bpe", vocab_size=1000),
            "picky": newbpe.train(LINES, algo="picky", vocab_size=400),
            "scaffold": newbpe.train(LINES, algo="scaffold", vocab_size=400)}


@pytest.fixture
def quick_fsync(monkeypatch):
    """fsync is counted as a step but not performed: durability is not what these tests measure."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


# ---------------------------------------------------------------------------------------------- helpers
def snap(path):
    """{relative path: bytes | ('link', target) | 'dir'} of a tree (None when absent)."""
    path = str(path)
    if not os.path.lexists(path):
        return None
    if not os.path.isdir(path):
        return open(path, "rb").read()
    out = {}
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(top, name)
            rel = os.path.relpath(p, path)
            out[rel] = ("link", os.readlink(p)) if os.path.islink(p) else "dir" if os.path.isdir(p) else open(p, "rb").read()
    return out


def without_temps(s):
    return None if s is None else {k: v for k, v in s.items() if not any(TEMP.search(p) for p in k.split(os.sep))}


def temps(path):
    return [k for k in (snap(path) or {}) if any(TEMP.search(p) for p in k.split(os.sep))]


def loads_as(model_dir, expected):
    """The directory loads, with newbpe and with HF, as exactly one of the expected models."""
    from tokenizers import Tokenizer as HFTokenizer
    got = newbpe.load(model_dir)
    match = [t for t in expected if t.vocab == got.vocab and t.merges == got.merges and t.algo == got.algo]
    assert match, "the model directory holds neither the old nor the new model"
    hf = os.path.join(model_dir, "tokenizer.json")
    if os.path.exists(hf):
        assert HFTokenizer.from_file(hf).get_vocab() == HFTokenizer.from_str(match[0].to_hf()).get_vocab(), \
            "tokenizer.json belongs to another model than model.json"
    return match[0]


class Faults:
    """The fault hook: counts steps by kind; with fail_at=k, raises ENOSPC at step k (or, with
    crash=True, ends the process there as SIGKILL would)."""

    def __init__(self, fail_at=None, crash=False):
        self.n, self.kinds, self.fail_at, self.crash, self.fired = 0, Counter(), fail_at, crash, None

    def __call__(self, kind):
        self.n += 1
        self.kinds[kind] += 1
        if self.n == self.fail_at:
            self.fired = kind
            if self.crash:
                os._exit(0)
            raise OSError(errno.ENOSPC, "No space left on device (injected)")


def hooked(hook, fn, *args):
    atomic._fault_hook = hook
    try:
        return fn(*args)
    finally:
        atomic._fault_hook = None


def every_step(tmp_path, name, prepare, run):
    """ENOSPC at each step of run(root) in turn, each time on a fresh copy of the old state."""
    clean = tmp_path / f"{name}-clean"
    clean.mkdir()
    prepare(clean)
    old = snap(clean)
    counter = Faults()
    hooked(counter, run, clean)
    new = snap(clean)
    assert new != old and not temps(clean)
    for k in range(1, counter.n + 1):
        root = tmp_path / f"{name}-{k}"
        root.mkdir()
        prepare(root)
        hook = Faults(fail_at=k)
        with pytest.raises((OSError, SystemExit)) as err:
            hooked(hook, run, root)
        assert isinstance(err.value, SystemExit) or err.value.errno == errno.ENOSPC
        assert snap(root) == old, f"{name}: ENOSPC at step {k} ({hook.fired}) changed the output"
        FIGURES[f"enospc_{hook.fired}"] += 1
        FIGURES["enospc_faults"] += 1
        shutil.rmtree(root)
    FIGURES[f"steps_{name}"] = counter.n
    return counter


def user_model_dir(path, tok):
    """A model directory that also holds a user's files: they must survive every save."""
    tok.save(path)
    (path / "config.json").write_text('{"user": true}\n')
    (path / "weights").mkdir()
    (path / "weights" / "w.bin").write_bytes(b"\0" * 1000)
    os.symlink("config.json", path / "link.json")


# ---------------------------------------------------------------------------------------------- disk full
SCENARIOS = ["model_over_old", "model_new_dir", "model_in_place", "counts", "stochastok_bin", "stochastok_npy",
             "hf_export", "tiktoken_export", "cli_export", "table"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_enospc_at_every_step_leaves_the_old_state(models, tmp_path, quick_fsync, monkeypatch, name):
    bpe, big, picky = models["bpe"], models["big"], models["picky"]
    counts_old = newbpe.WordCounts.from_texts(LINES[:200])
    counts_new = newbpe.WordCounts.from_texts(LINES[200:600])
    st = StochasTok(bpe)

    def stochastok_prepare(ext):
        def prepare(root):
            (root / "in.txt").write_text("".join(LINES[:60]))
            expand_files(bpe, st, [str(root / "in.txt")], root / f"out{ext}", 0.5, seed=1, batch_chars=500)
        return prepare
    cases = {
        "model_over_old": (lambda r: user_model_dir(r / "m", bpe), lambda r: picky.save(r / "m")),
        "model_new_dir": (lambda r: None, lambda r: bpe.save(r / "a" / "m")),
        "model_in_place": (lambda r: user_model_dir(r / "m", bpe), lambda r: picky.save(r / "m")),
        "counts": (lambda r: counts_old.save(r / "c.npz"), lambda r: counts_new.save(r / "c.npz")),
        "stochastok_bin": (stochastok_prepare(".bin"), lambda r: expand_files(
            bpe, st, [str(r / "in.txt")], r / "out.bin", 0.5, seed=2, batch_chars=500)),
        "stochastok_npy": (stochastok_prepare(".npy"), lambda r: expand_files(
            bpe, st, [str(r / "in.txt")], r / "out.npy", 0.5, seed=2, batch_chars=500)),
        "hf_export": (lambda r: save_hf(models["scaffold"], r / "hf", expanded=True), lambda r: save_hf(big, r / "hf")),
        "tiktoken_export": (lambda r: save_tiktoken(bpe, r / "tk"), lambda r: save_tiktoken(big, r / "tk")),
        "cli_export": (lambda r: user_model_dir(r / "m", picky), lambda r: _cli(
            "export", "-m", str(r / "m"), "--approximate")),
        "table": (lambda r: user_model_dir(r / "m", bpe), lambda r: st.save(r / "m")),
    }
    if name == "model_in_place":                   # no RENAME_EXCHANGE: the journaled group commit
        monkeypatch.setattr(atomic, "_renameat2", None)
    prepare, run = cases[name]
    counter = every_step(tmp_path, name, prepare, run)
    assert counter.kinds["rename"] and counter.kinds["write"] and counter.kinds["fsync"] and counter.kinds["create"]
    if name in ("model_over_old", "model_in_place"):
        assert counter.kinds["link"], "the user's files are carried (swap) or backed up (in place) by hard links"
        clean = tmp_path / f"{name}-clean" / "m"
        assert sorted(os.listdir(clean)) == ["config.json", "link.json", "model.json", "weights"]
        loads_as(clean, [picky])


def _cli(*args):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False, standalone_mode=False)
    if r.exit_code:
        assert "No space left" in r.output, r.output
        raise OSError(errno.ENOSPC, r.output)


def _mount_tmpfs(path, size):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("the tmpfs test needs root (mount -t tmpfs); not root here")
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs (needs CAP_SYS_ADMIN): {r.stderr.strip()}")


def test_real_full_disk_on_a_small_tmpfs(models, tmp_path):
    """A real full disk: fill a 1 MB tmpfs to leave 0..N KB free, then save, export, count and
    expand; every attempt either succeeds completely or leaves the old state and no temp file."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "1m")
    try:
        bpe, picky = models["bpe"], models["picky"]
        (disk / "in.txt").write_text("".join(LINES[:300]))
        st = StochasTok(bpe)
        writes = [(lambda: bpe.save(disk / "m"), lambda: picky.save(disk / "m")),
                  (lambda: save_tiktoken(bpe, disk / "m"), lambda: save_tiktoken(models["big"], disk / "m")),
                  (lambda: newbpe.WordCounts.from_texts(LINES[:50]).save(disk / "c.npz"),
                   lambda: newbpe.WordCounts.from_texts(LINES).save(disk / "c.npz")),
                  (lambda: expand_files(bpe, st, [str(disk / "in.txt")], disk / "o.bin", 0.5, seed=1, batch_chars=2000),
                   lambda: expand_files(bpe, st, [str(disk / "in.txt")], disk / "o.bin", 0.5, seed=2, batch_chars=2000))]
        for old_write, new_write in writes:
            old_write()
            old = snap(disk)
            for free_kb in range(0, 400, 12):
                filler = disk / "filler"
                vfs = os.statvfs(disk)
                room = vfs.f_bavail * vfs.f_frsize - free_kb * 1024
                try:
                    with open(filler, "wb") as f:
                        f.write(b"\0" * max(room, 0))
                except OSError:
                    pass
                try:
                    new_write()
                    outcome = "ok"
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    outcome = "enospc"
                filler.unlink()
                if outcome == "ok":
                    FIGURES["tmpfs_succeeded"] += 1
                    assert not temps(disk)
                    break
                FIGURES["tmpfs_enospc"] += 1
                assert snap(disk) == old, f"a full disk at {free_kb} KB free changed the output"
            else:
                pytest.fail("the write never fitted")
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ---------------------------------------------------------------------------------------------- crash at every step
def _crash_at(k, fn):
    """Run fn in a forked child that dies at step k (os._exit: no cleanup, as SIGKILL)."""
    pid = os.fork()
    if pid == 0:
        try:
            atomic._fault_hook = Faults(fail_at=k, crash=True)
            fn()
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0          # 0: it died at step k


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("name", ["swap", "in_place", "ids_group"])
def test_crash_at_every_step_gives_old_or_new(models, tmp_path, quick_fsync, monkeypatch, name):
    """The process dies at each I/O step in turn. Right after, a swapped directory is the old or the
    new model for any reader; a group commit cut short is completed by the next load; then the next
    write sweeps every temp the dead process left."""
    bpe, picky, big = models["bpe"], models["picky"], models["big"]
    if name == "in_place":
        monkeypatch.setattr(atomic, "_renameat2", None)
    ids = np.arange(5000, dtype=np.int64) % bpe.vocab_size

    def old_model(root):                   # BPE with HF files, a StochasTok table and a user's files
        user_model_dir(root / "m", bpe)
        StochasTok(bpe).save(root / "m")

    def write_ids(root, n):
        w = IdsWriter(root / "o.bin", bpe.vocab_size)
        w.write(ids[:n], np.array([0, n // 2, n]))
        w.close()
    if name == "ids_group":
        prepare, run, target = (lambda r: write_ids(r, 3000)), (lambda r: write_ids(r, 5000)), None
    else:                                   # in place: 4 renames and 1 removal; swap: 1 file, 4 removed
        prepare, run, target = old_model, (lambda r: (big if name == "in_place" else picky).save(r / "m")), "m"
    ref = tmp_path / "ref"
    ref.mkdir()
    prepare(ref)
    old = snap(ref)
    counter = Faults()
    hooked(counter, run, ref)
    new = snap(ref)
    for k in range(1, counter.n + 1):
        root = tmp_path / f"k{k}"
        root.mkdir()
        prepare(root)
        assert _crash_at(k, lambda: run(root))
        FIGURES["crash_points"] += 1
        seen = without_temps(snap(root))
        if seen not in (old, new):
            assert name != "swap", f"a crash at step {k} left a mix in a swapped directory"
            out = root / target if target else root
            assert [p for p in os.listdir(out) if p.endswith(".journal")], f"a mix without a journal (step {k})"
            FIGURES["crash_mid_group_commit"] += 1
            (newbpe.load if target else atomic.recover)(str(root / target) if target else str(root))
            seen = without_temps(snap(root))
            assert seen in (old, new), f"recovery after a crash at step {k} did not give old or new"
        if target:
            loads_as(root / target, [bpe, big, picky])
        FIGURES["crash_new" if seen == new else "crash_old"] += 1
        run(root)                                   # the next write sweeps what the dead process left
        assert snap(root) == new
        shutil.rmtree(root)


# ---------------------------------------------------------------------------------------------- real signals
# The child restores Python's SIGINT handler: a test run started in the background of a
# non-interactive shell (`pytest &`, a CI runner) inherits SIGINT as ignored, and Python then keeps
# it ignored, so the child would never see the SIGINT the test sends (it would run until the 60 s
# timeout). A user's interactive process has the default handler; that is what is tested.
CHILD = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np
import newbpe
from newbpe.augment.stochastok import StochasTok, expand_files
from newbpe.export.hf import save_hf
from newbpe.export.tiktoken import save_tiktoken
kind, target, a, b = sys.argv[1:5]
toks = [newbpe.load(a), newbpe.load(b)]
st = StochasTok(toks[0])
print("ready", flush=True)
for i in range(10 ** 6):
    tok = toks[i % 2]
    if kind == "save":
        tok.save(target)
    elif kind == "export":
        save_hf(tok, target)
        save_tiktoken(tok, target)
    else:
        expand_files(toks[0], st, [sys.argv[5]], target, 0.5, seed=i % 2, batch_chars=3000)
"""


def _child(kind, target, a, b, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", CHILD, kind, str(target), str(a), str(b), *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def _kill(proc, sig, delay):
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    FIGURES["signal_kills"] += 1
    FIGURES[f"signal_{signal.Signals(sig).name}"] += 1
    return err


def _parts(kind, s):
    """The independent outputs in a snapshot: each must be old or new (or not written yet)."""
    if s is None:
        return (None,)
    if kind == "export":
        hf = {k: v for k, v in s.items() if not k.startswith("newbpe.tiktoken")}
        return (hf or None, {k: v for k, v in s.items() if k.startswith("newbpe.tiktoken")} or None)
    return (s or None,)


@pytest.mark.parametrize("kind", ["save", "export", "stochastok"])
def test_signals_at_random_moments(models, tmp_path, kind):
    """Two writes alternate in a child (old, new, old, ...) until SIGKILL or SIGINT arrives at a
    seeded random moment; each output is then the complete old or new state (a cut group commit of
    StochasTok's two files: after recovery), an interrupted write removed its temps itself, and the
    next write leaves no temp file of a killed one."""
    rng = random.Random(f"newbpe-faults-{kind}")
    a, b = tmp_path / "a", tmp_path / "b"
    bpe = models["bpe"]
    second = models["picky"] if kind == "save" else models["big"]
    bpe.save(a)
    second.save(b)
    text = tmp_path / "in.txt"
    text.write_text("".join(LINES[:400]))

    def write(tok, seed, target):
        if kind == "save":
            tok.save(target)
        elif kind == "export":
            save_hf(tok, target)
            save_tiktoken(tok, target)
        else:
            expand_files(bpe, StochasTok(bpe), [str(text)], target, 0.5, seed=seed, batch_chars=3000)
    expected = [set(), set()]
    for i, tok in enumerate((bpe, second)):
        ref = tmp_path / f"ref{i}"
        if kind == "save":
            user_model_dir(ref, bpe)
        ref.mkdir(exist_ok=True)
        write(tok, i, ref / "o.bin" if kind == "stochastok" else ref)
        for j, part in enumerate(_parts(kind, snap(ref))):
            expected[j].add(json.dumps(part, default=repr, sort_keys=True))
    for n, sig in enumerate([signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGKILL, signal.SIGINT]):
        root = tmp_path / f"run{n}"
        root.mkdir()
        target = root / "o.bin" if kind == "stochastok" else root / "m"
        if kind == "save":
            user_model_dir(target, bpe)
        err = _kill(_child(kind, target, a, b, text), sig, rng.uniform(0.0, 0.4))
        out = root if kind == "stochastok" else target

        def valid():
            return all(part is None or json.dumps(part, default=repr, sort_keys=True) in expected[j]
                       for j, part in enumerate(_parts(kind, without_temps(snap(out)))))
        if not valid() and kind == "stochastok":
            FIGURES["signal_mid_group_commit"] += 1
            atomic.recover(str(root))
        assert valid(), f"{kind}: neither the old nor the new output after {sig!r}"
        if kind == "save":
            loads_as(target, [bpe, second])
        if sig == signal.SIGINT:
            assert "KeyboardInterrupt" in err, err
            assert not temps(root), "an interrupted write left temp files"
        FIGURES["signal_killed_mid_write"] += bool(temps(root))
        write(bpe, 0, target)                       # the next write sweeps what a killed one left
        assert not temps(root), f"{kind}: temps of the killed run survived the next write"


def test_cli_train_killed_at_random_moments(models, tmp_path):
    """`newbpe train` into a directory holding another model, killed at a seeded random moment
    within 50 ms of its merge loop's end (packaging, saving, exiting): the directory is the old
    model or the new one, with the user's files."""
    rng = random.Random("newbpe-faults-train")
    corpus = tmp_path / "in.txt"
    corpus.write_text("".join(LINES))
    old = models["picky"]
    new = newbpe.train([str(corpus)], algo="bpe", vocab_size=900, threads=1)
    args = [sys.executable, "-m", "newbpe.cli", "train", "--algo", "bpe", "--vocab-size", "900", "--threads", "1",
            "--progress", "json", str(corpus), "-o"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for n, sig in enumerate([signal.SIGKILL, signal.SIGINT, signal.SIGKILL]):
        target = tmp_path / f"m{n}"
        user_model_dir(target, old)
        proc = subprocess.Popen(args + [str(target)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        for line in proc.stderr:            # the merges' last progress line: saving is next
            if '"merges"' in line and json.loads(line)["current"] == json.loads(line)["total"]:
                break
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        FIGURES["signal_kills"] += 1
        FIGURES[f"signal_{signal.Signals(sig).name}"] += 1
        got = loads_as(target, [old, new])
        FIGURES["train_kill_new" if got is new else "train_kill_old"] += 1
        assert os.path.exists(target / "config.json") and os.path.exists(target / "weights" / "w.bin")
        assert sig != signal.SIGINT or not temps(tmp_path), "an interrupted training left temp files"
        new.save(target)
        assert not temps(tmp_path), "temps of the killed run survived the next write"


# ---------------------------------------------------------------------------------------------- concurrency
def _read_consistent(path):
    """Every file of the directory at `path`, read through one directory descriptor, or None when
    that directory was swapped out while being read (it is then being deleted: read again). A
    directory still at the path after the read was the current one throughout."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None
    try:
        out = {}
        for name in os.listdir(fd):
            if TEMP.search(name) or name in ("weights", "link.json"):
                continue
            f = os.open(name, os.O_RDONLY, dir_fd=fd)
            with os.fdopen(f, "rb") as fh:
                out[name] = fh.read()
        return out if os.stat(path).st_ino == os.fstat(fd).st_ino else None
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)


def _top_files(s):
    return {k: v for k, v in s.items() if os.sep not in k and v != "dir" and not isinstance(v, tuple)}


@pytest.mark.parametrize("how", ["threads", "processes"])
def test_concurrent_saves_end_as_one_complete_model(models, tmp_path, how):
    bpe, picky = models["bpe"], models["picky"]
    refs = []
    for i, tok in enumerate((bpe, picky)):
        ref = tmp_path / f"ref{i}"
        user_model_dir(ref, bpe)
        tok.save(ref)
        refs.append(_top_files(without_temps(snap(ref))))
        refs[-1].pop("config.json")
    target = tmp_path / "m"
    user_model_dir(target, bpe)
    rounds = 12
    if how == "threads":
        errors = []

        def saver(tok):
            try:
                for _ in range(rounds):
                    tok.save(target)
            except BaseException as e:                # noqa: BLE001 - reported below
                errors.append(e)
        workers = [threading.Thread(target=saver, args=(t,)) for t in (bpe, picky)]
        for w in workers:
            w.start()
    else:
        a, b = tmp_path / "a", tmp_path / "b"
        bpe.save(a)
        picky.save(b)
        code = ("import sys, newbpe\ntok = newbpe.load(sys.argv[1])\n"
                f"for _ in range({rounds}): tok.save(sys.argv[2])\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        workers = [subprocess.Popen([sys.executable, "-c", code, str(p), str(target)], env=env) for p in (a, b)]
    reads = 0
    while any(w.is_alive() if how == "threads" else w.poll() is None for w in workers):
        seen = _read_consistent(target)
        if seen is not None:
            seen.pop("config.json", None)
            assert seen in refs, "a reader saw a mix of two models"
            reads += 1
    if how == "threads":
        for w in workers:
            w.join()
        assert not errors, errors
    else:
        assert all(w.wait() == 0 for w in workers)
    final = _top_files(snap(target))
    final.pop("config.json")
    assert final in refs and not temps(tmp_path)
    assert (target / "weights" / "w.bin").exists() and os.readlink(target / "link.json") == "config.json"
    FIGURES[f"concurrent_saves_{how}"] += 2 * rounds
    FIGURES["concurrent_consistent_reads"] += reads


# ---------------------------------------------------------------------------------------------- permissions, sweeping
@pytest.mark.parametrize("mask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_follow_the_umask(models, tmp_path, mask, file_mode, dir_mode):
    bpe = models["bpe"]
    old = os.umask(mask)
    try:
        bpe.save(tmp_path / "new" / "m")
        save_tiktoken(bpe, tmp_path / "new" / "m")
        newbpe.WordCounts.from_texts(LINES[:20]).save(tmp_path / "c.npz")
        (tmp_path / "in.txt").write_text("".join(LINES[:20]))
        expand_files(bpe, StochasTok(bpe), [str(tmp_path / "in.txt")], tmp_path / "o.bin", 0.5, seed=0)
        kept = tmp_path / "kept"
        kept.mkdir()
        os.chmod(kept, 0o751)
        bpe.save(kept)
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)                     # noqa: E731
    for p in ["new/m/model.json", "new/m/tokenizer.json", "new/m/newbpe.tiktoken", "c.npz", "o.bin", "o.bin.idx",
              "kept/model.json"]:
        assert mode(tmp_path / p) == file_mode, p
    assert mode(tmp_path / "new") == dir_mode and mode(tmp_path / "new" / "m") == dir_mode
    assert mode(kept) == 0o751, "an existing target directory keeps its mode"


def test_sweep_removes_only_temps_of_dead_owners(models, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = atomic._HOST
    names = {f".model.json.newbpe-{host}-{dead.pid}-00ff00ff.tmp": False,          # dead owner: swept
             f".model.json.newbpe-{host}-{os.getpid()}-00ff00fe.tmp": True,         # this process
             f".model.json.newbpe-{host}-{os.getppid()}-00ff00fd.tmp": True,        # alive
             f".model.json.newbpe-00000000-{dead.pid}-00ff00fc.tmp": True,          # another host
             ".tmp-unknown-owner.json": True}                                      # not provably dead
    target = tmp_path / "m"
    target.mkdir()
    for n in names:
        (target / n).write_text("x")
    stage = tmp_path / f".m.newbpe-{host}-{dead.pid}-00ff00fb.stage"
    stage.mkdir()
    (stage / "model.json").write_text("half")
    models["bpe"].save(target)
    for n, keep in names.items():
        assert (target / n).exists() == keep, n
    assert not stage.exists()


def test_a_second_training_leaves_nothing_of_the_first(models, tmp_path):
    """The issue's cases: picky over BPE drops the stale tokenizer.json; sidecars and the table go."""
    bpe, picky, scaffold = models["bpe"], models["picky"], models["scaffold"]
    target = tmp_path / "m"
    scaffold.save(target)
    save_hf(scaffold, target, expanded=True)
    StochasTok(scaffold).save(target)
    save_tiktoken(bpe, target)
    (target / "notes.txt").write_text("mine")
    picky.save(target)
    assert sorted(os.listdir(target)) == ["model.json", "notes.txt"]
    assert newbpe.load(target).algo == "picky"
    bpe.save(target, hf=False)
    assert sorted(os.listdir(target)) == ["model.json", "notes.txt"]
    written = bpe.save(target)
    assert [os.path.basename(p) for p in written] == ["model.json", "tokenizer.json", "tokenizer_config.json",
                                                     "special_tokens_map.json"]


def test_symlinked_target_is_written_where_it_points(models, tmp_path):
    real = tmp_path / "real"
    models["bpe"].save(real)
    os.symlink("real", tmp_path / "link")
    models["picky"].save(tmp_path / "link")
    assert os.path.islink(tmp_path / "link") and newbpe.load(real).algo == "picky"
    counts = tmp_path / "counts.npz"
    newbpe.WordCounts.from_texts(LINES[:10]).save(tmp_path / "c0.npz")
    os.symlink("c0.npz", counts)
    newbpe.WordCounts.from_texts(LINES[:30]).save(counts)
    assert os.path.islink(counts) and len(newbpe.WordCounts.load(tmp_path / "c0.npz")) == len(
        newbpe.WordCounts.from_texts(LINES[:30]))


def test_working_directory_and_no_hard_links_commit_in_place(models, tmp_path, monkeypatch):
    """A target holding the working directory is not swapped (a shell there would be left in a
    deleted directory), nor one whose files cannot be hard-linked: both are committed in place,
    with the same result."""
    bpe, picky = models["bpe"], models["picky"]
    target = tmp_path / "m"
    user_model_dir(target, bpe)
    inode = os.stat(target).st_ino
    monkeypatch.chdir(target)
    picky.save(".")
    assert os.stat(target).st_ino == inode and os.getcwd() == str(target)
    assert sorted(os.listdir(target)) == ["config.json", "link.json", "model.json", "weights"]
    monkeypatch.chdir(tmp_path)

    def refuse(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted (injected: no hard links)", src)
    monkeypatch.setattr(atomic, "_link", refuse)
    bpe.save(target)
    assert os.stat(target).st_ino == inode and not temps(tmp_path)
    assert sorted(os.listdir(target)) == ["config.json", "link.json", "model.json", "special_tokens_map.json",
                                          "tokenizer.json", "tokenizer_config.json", "weights"]
    loads_as(target, [bpe])
