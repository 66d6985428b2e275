"""Scale figures (issue 19): counting and training past 1 GB, locally and on a 2-worker Dask cluster,
against HF `tokenizers` on the same file. Prints one table per run.

    python bench/scale.py --gb 1                      # the 1 GB figures (HF included, ~6 min of it)
    python bench/scale.py --gb 10 --hf-timeout 900    # the 10 GB run (HF stopped after 15 min)
    python bench/scale.py --gb 0.05 --skip-hf         # a quick check of the script itself

The corpus is the benchmark's mix: every .txt of ../shared/corpora/{en,code,he,ar,ms,multi}
(Gutenberg English, the CPython stdlib, Hebrew, Arabic, Malay, 75 + 380 languages; 122 MB) in one
file under --workdir (default /tmp/newbpe_scale; never committed). Up to 1 GB it is that mix repeated
(as in the README's earlier 1 GB row); past 1 GB (--vary, the default there) copy r is varied so
unique words keep growing as in a real corpus: the copy starts at another line (a rotation), its
digits are permuted (d -> 3d + r mod 10: other numbers), and 1 space in 24 (random, seeded by r) is
dropped, joining two words into a new one, the way compounds and typos add word types.

Steps, each in its own process (wall seconds; peak RSS from wait4 for a command, VmHWM from /proc for
the long-lived Dask scheduler and workers), each result kept in --workdir/results_<GB>gb.json so a
re-run only does what is missing (--redo STEP to measure one again; the corpus is kept unless --clean):

    train        `newbpe train FILE --vocab-size V` end to end (count + merge + write model.json)
    count        `newbpe count FILE -o counts.npz` (unique words, total)
    dask_count   `newbpe count --cluster tcp://... FILE` with `dask scheduler` + 2 x `dask worker`
                 (one thread each) started here; its counts file must equal `count`'s byte for byte
    merge        `newbpe train --counts counts.npz` (the merge phase on the resulting table)
    hf           HF BpeTrainer, gpt2 pre-tokenization, same vocab (bench/peers.py), stopped after
                 --hf-timeout seconds
"""
import argparse
import glob
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("NEWBPE_SHARED_CORPORA", os.path.join(ROOT, "..", "shared", "corpora"))
STEPS = ("train", "count", "dask_count", "merge", "hf")
JOIN_RATE = 1 / 24


# ------------------------------------------------------------------------------------------ corpus
def base_mix():
    files = sorted(p for d in ("en", "code", "he", "ar", "ms", "multi")
                   for p in glob.glob(os.path.join(SHARED, d, "**", "*.txt"), recursive=True))
    if not files:
        raise SystemExit(f"no corpora under {SHARED}")
    parts = []
    for p in files:
        with open(p, "rb") as f:
            data = f.read()
        parts.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(parts)


def varied(base, r):
    """Copy r of the mix (module doc): rotated to another line start, digits permuted, 1 space in
    24 dropped. Copy 0 is the mix itself."""
    import numpy as np
    if r == 0:
        return base
    off = base.find(b"\n", (r * 7_919_993) % len(base)) + 1
    text = base[off:] + base[:off]
    digits = bytes.maketrans(b"0123456789", bytes(48 + (3 * d + r) % 10 for d in range(10)))
    b = np.frombuffer(text.translate(digits), np.uint8)
    spaces = np.flatnonzero(b == 32)
    keep = np.ones(len(b), bool)
    keep[spaces[np.random.default_rng(r).random(len(spaces)) < JOIN_RATE]] = False
    return b[keep].tobytes()


def build(path, size, vary):
    """The corpus file of `size` bytes (whole lines); reused when it is already there."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    base = base_mix()
    tmp = path + ".part"
    done, r = 0, 0
    with open(tmp, "wb") as f:
        while done < size:
            copy = varied(base, r) if vary else base
            if done + len(copy) > size:
                copy = copy[:size - done]
                if not copy.endswith(b"\n"):
                    copy = copy[:copy.rfind(b"\n") + 1] or copy
                    copy += b" " * (size - done - len(copy) - 1) + b"\n"
            f.write(copy)
            done += len(copy)
            r += 1
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ measuring
def run(cmd, timeout=None):
    """Run a command in its own process group: wall seconds, its peak RSS, exit code, and whether
    it was stopped at `timeout`. Peak RSS comes from /usr/bin/time (%M), whose process is tiny: a
    child forked from this script would start its high-water mark at this script's RSS. A command
    stopped at the limit reports the largest VmHWM seen in its process group (polled every 0.5 s)."""
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss_file:
        timer = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name] if os.path.exists("/usr/bin/time") else []
        t0 = time.perf_counter()
        p = subprocess.Popen(timer + cmd, stdout=out, stderr=err, start_new_session=True)
        timed_out, polled, last_poll = False, 0.0, 0.0
        while True:
            pid, status, _ = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if now - last_poll > 0.5:
                polled, last_poll = max(polled, group_hwm_mb(p.pid)), now
            if timeout is not None and now - t0 > timeout:
                timed_out = True
                os.killpg(p.pid, signal.SIGKILL)
                _, status, _ = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        lines = rss_file.read().split()
        rss = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() and not timed_out else polled
        out.seek(0)
        err.seek(0)
        result = {"seconds": round(seconds, 2), "peak_rss_mb": round(rss), "rc": p.returncode,
                  "timed_out": timed_out, "stdout": out.read().decode(errors="replace").strip()[-300:]}
        if p.returncode != 0 and not timed_out:
            result["stderr"] = err.read().decode(errors="replace").strip()[-300:]
    return result


def group_hwm_mb(pgid):
    """The largest VmHWM among the processes of process group `pgid`."""
    best = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                best = max(best, vm_hwm_mb(int(entry)))
    return best


def vm_hwm_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def newbpe_cmd(*args):
    return [sys.executable, "-m", "newbpe.cli", *args, "--progress", "none"]


def dask_count(corpus, out, workdir):
    """Scheduler and two one-thread workers started here; `newbpe count --cluster` against them.
    Returns the client's measurement plus each server process's peak RSS."""
    sched_file = os.path.join(workdir, "scheduler.json")
    if os.path.exists(sched_file):
        os.remove(sched_file)
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    servers = [subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                        "--scheduler-file", sched_file],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        for _ in range(300):
            if os.path.exists(sched_file):
                break
            time.sleep(0.1)
        with open(sched_file) as f:
            address = json.load(f)["address"]
        for _ in range(2):
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                 "--memory-limit", "0", "--no-dashboard", "--host", "127.0.0.1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        _wait_workers(address, 2)
        result = run(newbpe_cmd("count", "--cluster", address, corpus, "-o", out))
        result["scheduler_rss_mb"] = round(vm_hwm_mb(servers[0].pid))
        result["worker_rss_mb"] = [round(vm_hwm_mb(s.pid)) for s in servers[1:]]
    finally:
        for s in servers:
            s.send_signal(signal.SIGTERM)
        for s in servers:
            try:
                s.wait(10)
            except subprocess.TimeoutExpired:
                s.kill()
    return result


def _wait_workers(address, n):
    """In a subprocess: distributed is not imported into this script (its children stay small)."""
    subprocess.run([sys.executable, "-c", "import sys; from distributed import Client; "
                    "c = Client(sys.argv[1], timeout=30); c.wait_for_workers(int(sys.argv[2]), timeout=60); c.close()",
                    address, str(n)], check=True, capture_output=True)


# ------------------------------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.0, help="corpus size in GB (10^9 bytes)")
    ap.add_argument("--vocab", type=int, default=64000)
    ap.add_argument("--workdir", default="/tmp/newbpe_scale")
    ap.add_argument("--vary", choices=("auto", "yes", "no"), default="auto",
                    help="vary the copies so unique words grow (auto: past 1 GB)")
    ap.add_argument("--skip-hf", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--hf-timeout", type=float, default=900)
    ap.add_argument("--only", default=None, help="comma-separated steps to run (default: all)")
    ap.add_argument("--redo", action="append", default=[], choices=STEPS, help="measure this step again")
    ap.add_argument("--clean", action="store_true", help="delete the corpus and outputs afterwards")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    vary = a.gb > 1 if a.vary == "auto" else a.vary == "yes"
    tag = f"{a.gb:g}gb" + ("_varied" if vary else "")
    corpus = os.path.join(a.workdir, f"mix_{tag}.txt")
    results_path = os.path.join(a.workdir, f"results_{tag}_{a.vocab}.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    t0 = time.perf_counter()
    if not (os.path.exists(corpus) and os.path.getsize(corpus) == int(a.gb * 1e9)):
        # in a subprocess, so this script stays small (its children's peak RSS starts at its size)
        subprocess.run([sys.executable, __file__, "--build-only", corpus, str(int(a.gb * 1e9)), str(int(vary))],
                       check=True)
    print(f"corpus {corpus}: {os.path.getsize(corpus) / 1e9:.2f} GB ({time.perf_counter() - t0:.0f} s to build "
          "or check)", file=sys.stderr)
    counts = os.path.join(a.workdir, f"counts_{tag}.npz")
    counts_dask = os.path.join(a.workdir, f"counts_{tag}_dask.npz")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    os.environ.update(env)
    v = str(a.vocab)
    jobs = {
        "train": lambda: run(newbpe_cmd("train", corpus, "--vocab-size", v, "-o", os.path.join(a.workdir, "m_e2e"))),
        "count": lambda: run(newbpe_cmd("count", corpus, "-o", counts)),
        "dask_count": lambda: dask_count(corpus, counts_dask, a.workdir),
        "merge": lambda: run(newbpe_cmd("train", "--counts", counts, "--vocab-size", v,
                                        "-o", os.path.join(a.workdir, "m_counts"))),
        "hf": lambda: run([sys.executable, os.path.join(HERE, "peers.py"), "train", "hf", corpus, v, "gpt2", "2"],
                          timeout=a.hf_timeout),
    }
    skip = {"hf"} if a.skip_hf else set()
    skip |= {"dask_count"} if a.skip_dask else set()
    if a.only:
        skip |= set(STEPS) - set(a.only.split(","))
    for step in STEPS:
        if step in skip or (step in results and step not in a.redo and results[step].get("rc") == 0):
            continue
        if step == "merge" and not os.path.exists(counts):
            continue
        print(f"{step} ...", file=sys.stderr)
        results[step] = jobs[step]()
        if step == "dask_count" and os.path.exists(counts) and os.path.exists(counts_dask):
            with open(counts, "rb") as f1, open(counts_dask, "rb") as f2:
                results[step]["same_as_local"] = f1.read() == f2.read()
        with open(results_path + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        os.replace(results_path + ".tmp", results_path)
    print_table(a, tag, results)
    if a.clean:
        for p in (corpus, counts, counts_dask):
            if os.path.exists(p):
                os.remove(p)


def print_table(a, tag, results):
    hf = results.get("hf", {})
    print(f"\n{tag}, vocab {a.vocab} ({os.cpu_count()} cores)\n")
    print("| step | seconds | peak RSS MB | vs HF RSS | notes |")
    print("|---|---|---|---|---|")
    for step in STEPS:
        r = results.get(step)
        if r is None:
            continue
        note = r["stdout"].splitlines()[-1] if r.get("stdout") else ""
        if step == "dask_count":
            note = (f"client {r['peak_rss_mb']} MB, scheduler {r.get('scheduler_rss_mb')} MB, workers "
                    f"{', '.join(str(w) for w in r.get('worker_rss_mb', []))} MB; table identical to local: "
                    f"{r.get('same_as_local')}; " + note)
        if r.get("timed_out"):
            note = f"stopped at the {a.hf_timeout:g} s limit " + note
        elif r.get("rc") not in (0, None):
            note = f"failed (exit {r['rc']}): {r.get('stderr', '')[-120:]}"
        ratio = ""
        if hf.get("rc") == 0 and step != "hf" and hf.get("peak_rss_mb"):
            ratio = f"{r['peak_rss_mb'] / hf['peak_rss_mb']:.2f}x"
        print(f"| {step} | {r['seconds']} | {r['peak_rss_mb']} | {ratio} | {note[:200]} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build-only"]:
        build(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")
    else:
        main()
