"""Counting on a Dask cluster (newbpe/cluster.py, issue 19): a real scheduler and two worker
processes on 127.0.0.1, tables compared with local counting for every counting mode, a worker killed
mid-job, the CLI end to end, and the one-line errors. The planning and merge functions are also
checked in-process under hypothesis (any partition gives the local table)."""
import gzip
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import newbpe
from newbpe import cluster as C
from newbpe.errors import NewbpeError

from conftest import BUNDLED, cli_error

distributed = pytest.importorskip("distributed", reason="the dask extra (newbpe[dask]) is not installed")

HERE = Path(__file__).resolve().parent
#: small task ranges, so a few hundred KB of test text is still cut into ~20 tasks and a deep tree
TASK = 48 << 10


def arrays_of(table):
    return [a.tobytes() for a in table.arrays()]


def model_bytes(tok, path):
    tok.save(path)
    return (Path(path) / "model.json").read_bytes()


@pytest.fixture(scope="module")
def client():
    old = os.environ.get("PYTHONPATH")
    # workers import newbpe and tests/cluster_faults.py (spawned processes inherit the environment)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), str(HERE)] + ([old] if old else []))
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three languages (one file with a line far longer than a task: cut at safe points) and two
    streamed formats (gzip text, JSON Lines: one task per file)."""
    d = tmp_path_factory.mktemp("cluster")
    en = (BUNDLED / "en" / "tinyshakespeare.txt").read_bytes()[:200_000]
    he = (BUNDLED / "he" / "heq_contexts_val_test.txt").read_bytes()[:150_000]
    ar = (BUNDLED / "ar" / "ud_ar_pud_test.txt").read_bytes()
    (d / "en.txt").write_bytes(en)
    (d / "he.txt").write_bytes(he)
    (d / "long.txt").write_bytes(ar.replace(b"\n", b" ") + b"\xff broken utf-8 \n tail")
    with gzip.open(d / "en.txt.gz", "wb") as f:
        f.write(en[:30_000])
    with open(d / "he.jsonl", "w", encoding="utf-8") as f:
        for line in he.decode("utf-8", "ignore").splitlines()[:50]:
            f.write(json.dumps({"text": line}) + "\n")
    plain = [str(d / n) for n in ("en.txt", "he.txt", "long.txt")]
    return {"plain": plain, "all": plain + [str(d / "en.txt.gz"), str(d / "he.jsonl")], "dir": d}


@pytest.fixture
def small_tasks(monkeypatch):
    monkeypatch.setattr(C, "TASK_BYTES", TASK)      # the client plans the ranges


@pytest.mark.parametrize("kwargs", [
    {},
    {"pretokenizer": "cl100k", "special_tokens": ["<|endoftext|>"]},
    {"pretokenizer": r"regex:\w+|\s+|[^\w\s]+"},
    {"units": "chars"},
    {"split": "document"},
])
def test_counts_equal_local(client, files, small_tasks, kwargs):
    """The table, entry order included, is local counting's: presets, a custom regex, chars units,
    whole documents; plain files cut into ranges, gzip and JSON Lines one task per file."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        on = newbpe.count(files["all"], cluster=client, **kwargs)
    assert any("not valid UTF-8" in str(w.message) for w in seen) == (kwargs.get("units") == "chars")
    assert len(C._units(files["plain"], kwargs.get("split", "line"), on.pretokenizer, on.special_tokens, TASK)) > 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = newbpe.count(files["all"], **kwargs)
    assert len(on) > 1000
    assert on.table == local.table
    assert arrays_of(on) == arrays_of(local)
    assert on.meta() == local.meta() and on.had_invalid_utf8 == local.had_invalid_utf8


@pytest.mark.parametrize("algo,options", [
    ("bpe", {"splinter": "he"}),
    ("superbpe", {"inherit_merges": 200}),
    ("supertoken", {}),
    ("supertoken", {"seed_by": "content", "seed": 7}),
])
def test_trained_model_identical(client, files, small_tasks, tmp_path, algo, options):
    """SPLINTER (learned and applied in the workers' counting), SuperBPE's two pre-tokenizations,
    supertoken random chunks (seeded by document index across ranges, or by content): model.json is
    byte-identical to training on local counts."""
    src = files["plain"][:2]
    on = model_bytes(newbpe.train(src, algo, 420, cluster=client, **options), tmp_path / "on")
    local = model_bytes(newbpe.train(src, algo, 420, **options), tmp_path / "local")
    assert on == local


def test_worker_killed_mid_job_is_retried(client, files, small_tasks, tmp_path):
    """A worker process dies as its first counting task starts (a Dask worker plugin exits it, as
    the OOM killer would): Dask reruns the lost tasks on the other or the restarted worker and the
    table is still exact."""
    sys.path.insert(0, str(HERE))
    try:
        from cluster_faults import KillOnce
    finally:
        sys.path.remove(str(HERE))
    marker = tmp_path / "killed"
    plugin = KillOnce(marker, "count_unit")
    client.register_plugin(plugin)
    try:
        table = newbpe.count(files["plain"], cluster=client)
    finally:
        client.unregister_worker_plugin(plugin.name)
    assert marker.exists()                                     # a worker did die mid-task
    pid = int(marker.read_text())
    assert pid != os.getpid() and pid not in client.run(os.getpid).values()
    assert arrays_of(table) == arrays_of(newbpe.count(files["plain"]))


def cli_ok(*args):
    """Run the CLI in-process (progress off); it must succeed."""
    from click.testing import CliRunner
    from newbpe.cli import main
    r = CliRunner().invoke(main, [*map(str, args), "--progress", "none"])
    assert r.exit_code == 0, r.output


def test_cli_cluster_counts_train(client, files, tmp_path):
    """newbpe count --cluster tcp://... writes what newbpe train --counts reads (an .npz, or a
    Parquet count shard); the model is the one trained on the files here; newbpe train --cluster
    gives the local model too."""
    address = client.scheduler.address
    model = {}
    for name, out in (("npz", tmp_path / "counts.npz"), ("shard", tmp_path / "counts.parquet")):
        cli_ok("count", "--cluster", address, *files["plain"], "-o", out)
        cli_ok("train", "--counts", out, "--vocab-size", 400, "-o", tmp_path / name)
        model[name] = (tmp_path / name / "model.json").read_bytes()
    cli_ok("train", *files["plain"], "--vocab-size", 400, "-o", tmp_path / "local")
    assert model["npz"] == model["shard"] == (tmp_path / "local" / "model.json").read_bytes()
    for name, cluster in (("st_on", ["--cluster", address]), ("st_local", [])):
        cli_ok("train", "--algo", "supertoken", *cluster, *files["plain"][:2], "--vocab-size", 400,
               "-o", tmp_path / name)
    assert (tmp_path / "st_on" / "model.json").read_bytes() == (tmp_path / "st_local" / "model.json").read_bytes()


def test_bad_address_one_line(files, monkeypatch):
    """Nothing listens on the port: a one-line error naming the address, within the timeout."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(C, "CONNECT_TIMEOUT", 2)
    start = time.monotonic()
    msg = cli_error(["count", "--cluster", f"tcp://127.0.0.1:{port}", files["plain"][0], "-o", "x.npz"])
    assert f"tcp://127.0.0.1:{port}" in msg and "Dask scheduler" in msg
    assert time.monotonic() - start < 20


@pytest.mark.parametrize("args,expected", [
    (["--cluster", "local:0"], "number of workers"),
    (["--cluster", "somewhere"], "scheduler address"),
    (["--cluster", "local:2", "--sample", "0.5"], "not with a cluster"),
])
def test_cli_refusals(files, tmp_path, args, expected):
    assert expected in cli_error(["count", *args, files["plain"][0], "-o", tmp_path / "x.npz"])


def test_train_counts_with_cluster_refused(tmp_path):
    table = tmp_path / "c.npz"
    newbpe.count([str(BUNDLED / "en" / "ud_en_pud_test.txt")]).save(table)
    msg = cli_error(["train", "--counts", table, "--cluster", "local:2", "--vocab-size", 300, "-o", tmp_path / "m"])
    assert "already counted" in msg


def test_refuses_stdin_and_iterables():
    with pytest.raises(NewbpeError, match="standard input"):
        newbpe.count(["-"], cluster="local:1")
    with pytest.raises(NewbpeError, match="give file paths"):
        newbpe.count(iter(["some text"]), cluster="local:1")


def test_missing_dask_names_the_extra(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)        # as if the extra were not installed
    msg = cli_error(["count", "--cluster", "local:2", files["plain"][0], "-o", "x.npz"])
    assert "newbpe[dask]" in msg


# ------------------------------------------------------------------------------ planning, in-process
texts = st.lists(st.text(st.sampled_from("ab c\n\t.é7"), max_size=60), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(docs=texts, task=st.integers(1, 200), pretok=st.sampled_from(["gpt2", "whitespace", "superbpe_stage2"]),
       split=st.sampled_from(["line", "document"]))
def test_any_partition_gives_the_local_table(tmp_path_factory, docs, task, pretok, split):
    """Ranges of any size tile each file; counting them one by one (the worker function) and merging
    the tables left to right (the tree's merge) gives the local table, entry order included."""
    assume("".join(docs))
    d = tmp_path_factory.mktemp("plan")
    paths = []
    for i, part in enumerate((docs[:len(docs) // 2], docs[len(docs) // 2:])):
        p = d / f"{i}.txt"
        p.write_text("".join(part), encoding="utf-8")
        paths.append(str(p))
    local = newbpe.count(paths, pretok, split=split, threads=1)
    units = C._units(paths, split, local.pretokenizer, (), task)
    for path in paths:
        spans = [(a, b) for p, a, b in units if p == os.path.abspath(path)]
        assert [a for a, _ in spans[1:]] == [b for _, b in spans[:-1]]
        assert (spans[0][0], spans[-1][1]) == (0, os.path.getsize(path)) if spans else os.path.getsize(path) == 0
    setup = C._setup(local)
    payloads = [C.count_unit(setup, "text", *u) for u in units]
    if not payloads:
        assert len(local) == 0
        return
    merged = payloads[0]
    for p in payloads[1:]:
        merged = C.merge_pair(setup, merged, p)
    assert arrays_of(C._table(setup, merged)) == arrays_of(local)


@settings(max_examples=30, deadline=None)
@given(docs=texts, task=st.integers(1, 120), seed_by=st.sampled_from(["index", "content"]))
def test_supertoken_ranges_number_documents(tmp_path_factory, docs, task, seed_by):
    """The document-count pre-pass numbers every range's first document as the whole corpus does,
    so random chunks counted range by range equal the local chunker's."""
    from newbpe.corpus import Corpus
    from newbpe.pretokenizers import PreTokenizer
    from newbpe.pretokenizers.random_chunks import check_chunk_bins
    from newbpe.trainers.supertoken import count_chunks
    p = tmp_path_factory.mktemp("chunks") / "t.txt"
    p.write_text("".join(docs), encoding="utf-8")
    bins = check_chunk_bins(None)
    local, n_local = count_chunks(Corpus([str(p)]), 3, bins, seed_by=seed_by, threads=1)
    units = C._units([str(p)], "line", PreTokenizer("none"), (), task)
    counts = [C.count_documents("line", "text", *u) for u in units]
    assert sum(counts) == sum(1 for _ in Corpus([str(p)]).texts())
    firsts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
    params = (3, bins, 7, (), seed_by, None)
    payloads = [C.chunk_unit(params, "line", "text", *u, int(f)) for u, f in zip(units, firsts)]
    setup = C._setup(local)
    merged = payloads[0] if payloads else C._payload(local, False)
    for q in payloads[1:]:
        merged = C.merge_pair(setup, merged, q)
    assert arrays_of(C._table(setup, merged)) == arrays_of(local)
    assert (merged[4] if payloads else 0) == n_local


def test_local_cluster_spec_counts_and_warns(files, small_tasks, tmp_path):
    """cluster="local:2" starts and stops its own LocalCluster; counting's warnings still reach the
    caller; empty inputs are refused as locally."""
    bad = [files["plain"][2]]                       # holds a byte that is not UTF-8
    with pytest.warns(UserWarning, match="not valid UTF-8"):
        table = newbpe.count(bad, units="chars", cluster="local:2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert arrays_of(table) == arrays_of(newbpe.count(bad, units="chars"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(NewbpeError, match="input files are empty"):
        newbpe.count([str(empty)], cluster="local:1")
