"""Count shards (newbpe/shards.py, issue 19): the Parquet format both ways, the streaming k-way
merge against counting the whole text, min_count / max_words, one-line refusals, training from
shards, the CLI, and the merge's memory bound."""
import contextlib
import json
import os
import random
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

import newbpe
from newbpe import shards
from newbpe.cli import main
from newbpe.errors import NewbpeError

from conftest import BUNDLED, cli_error

SAMPLE = BUNDLED / "en" / "tinyshakespeare.txt"
LINES = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
TEXT = st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30), max_size=30)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write_shards(tmp_path, parts, name="d", **setup):
    """Each list of lines a shard of `name`/ (count_texts -> save_shard); returns the directory."""
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    for i, part in enumerate(parts):
        newbpe.count_texts(part, **setup).save_shard(d / f"part-{i:05d}.parquet")
    return d


def foreign_shard(path, words, counts, word_type=pa.string(), count_type=pa.int32(), meta=None, write=None,
                  **columns):
    """A shard as another engine writes it: plain pyarrow, any row order, the newbpe key added.
    write: pq.write_table options."""
    table = pa.table({"word": pa.array(words, word_type), "count": pa.array(counts, count_type),
                      **{k: pa.array(v) for k, v in columns.items()}})
    if meta is not False:
        table = table.replace_schema_metadata({b"newbpe": meta or shards.shard_metadata("gpt2")})
    pq.write_table(table, path, **(write or {}))
    return path


@contextlib.contextmanager
def shard_constants(**values):
    """Smaller batches and fan-in for one merge (hypothesis tests cannot take monkeypatch)."""
    old = {k: getattr(shards, k) for k in values}
    for k, v in values.items():
        setattr(shards, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(shards, k, v)


# ------------------------------------------------------------------------------------------- format
@settings(max_examples=25, deadline=None)
@given(TEXT)
def test_round_trip_is_the_same_table(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("rt") / "c.parquet"
    wc = newbpe.count_texts(texts)
    wc.save_shard(path)
    back = newbpe.WordCounts.load(path)
    assert back.table == wc.table and back.meta() == wc.meta()
    words = pq.read_table(path).column("word").to_pylist()
    assert words == sorted(words) and len(set(words)) == len(words)      # the canonical order


def test_shard_of_files_and_npz_still_load(tmp_path):
    wc = newbpe.count(str(SAMPLE), threads=1)
    wc.save_shard(tmp_path / "c.parquet")
    wc.save(tmp_path / "c.npz")
    assert newbpe.WordCounts.load(tmp_path / "c.parquet").table == wc.table
    assert newbpe.WordCounts.load(tmp_path / "c.npz").table == wc.table


def test_a_shard_written_by_plain_pyarrow_is_read(tmp_path):
    """String words, shuffled rows, repeated words (summed), int32 counts, an extra column, zeros."""
    table = newbpe.count_texts(LINES[:2000]).table
    rows = [(w.decode(), c) for w, c in table.items()]
    rows += [(w, 1) for w, _ in rows[:50]] + [("never", 0)]
    random.Random(3).shuffle(rows)
    foreign_shard(tmp_path / "f.parquet", [w for w, _ in rows], [c for _, c in rows],
                  partition=[7] * len(rows))
    expected = dict(table)
    for w, _ in [(w.decode(), c) for w, c in table.items()][:50]:
        expected[w.encode()] += 1
    assert newbpe.WordCounts.load(tmp_path / "f.parquet").table == expected


def test_transform_is_recorded_and_the_model_applies_it(tmp_path):
    from newbpe.preprocessors.nfc import NFC
    wc = newbpe.count_texts(["Cafe\u0301 cafe\u0301 re\u0301sume\u0301\n"] * 5, transform=NFC())
    wc.save_shard(tmp_path / "n.parquet")
    back = newbpe.WordCounts.load(tmp_path / "n.parquet")
    assert back.meta()["transform"] == {"type": "nfc", "map": NFC().to_dict()}
    tok = newbpe.train(back, vocab_size=270)
    assert [type(t).__name__ for t in tok.transforms] == ["NFC"]
    assert tok.encode("Cafe\u0301") == tok.encode("Caf\u00e9")


# ------------------------------------------------------------------------------------------- merge
@settings(max_examples=20, deadline=None)
@given(TEXT, st.lists(st.integers(0, 30), max_size=5), st.integers(1, 4))
def test_merge_equals_counting_the_whole_text(tmp_path_factory, texts, cuts, batch_pow):
    tmp = tmp_path_factory.mktemp("m")
    bounds = sorted({0, len(texts), *[min(c, len(texts)) for c in cuts]})
    parts = [texts[a:b] for a, b in zip(bounds, bounds[1:])] or [[]]
    d = write_shards(tmp, parts)
    with shard_constants(BATCH_ROWS=1 << batch_pow, IN_FLIGHT_ROWS=1 << batch_pow, MIN_SHARD_ROWS=1):
        merged = newbpe.merge_counts(d)                  # many rounds and batch boundaries
    whole = newbpe.count_texts(texts)
    assert merged.table == whole.table
    assert merged.merge_report.dropped_words == 0 and merged.merge_report.total == whole.total()


def test_merge_sums_words_repeated_across_batches_of_an_ordered_shard(tmp_path, monkeypatch):
    """Another engine's sorted shard may repeat a word across a batch boundary: still one word."""
    monkeypatch.setattr(shards, "BATCH_ROWS", 2)
    meta = shards.shard_metadata("gpt2", order="word")
    foreign_shard(tmp_path / "a.parquet", ["a", "b", "b", "b", "c"], [1, 2, 3, 4, 5], meta=meta)
    foreign_shard(tmp_path / "b.parquet", ["b", "c", "d"], [10, 20, 30], meta=meta)
    merged = newbpe.merge_counts([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert list(merged.table.items()) == [(b"a", 1), (b"b", 19), (b"c", 25), (b"d", 30)]


def test_min_count_is_exact_and_reports_the_dropped_mass(tmp_path):
    parts = [LINES[i:i + 5000] for i in range(0, 20000, 5000)]
    d = write_shards(tmp_path, parts)
    whole = newbpe.count_texts(LINES[:20000]).table
    report = newbpe.merge_counts(d, output=tmp_path / "m.parquet", min_count=4)
    kept = newbpe.WordCounts.load(tmp_path / "m.parquet").table
    assert kept == {w: c for w, c in whole.items() if c >= 4}       # summed first, then pruned
    dropped = {w: c for w, c in whole.items() if c < 4}
    assert (report.dropped_words, report.dropped_count) == (len(dropped), sum(dropped.values()))
    assert (report.words, report.total) == (len(kept), sum(kept.values()))
    # a word rare in every shard but frequent in all of them together is kept
    assert any(all(newbpe.count_texts(p).table.get(w, 0) < 4 for p in parts) for w in kept)


def test_max_words_keeps_the_top_k_with_ties_by_bytes(tmp_path):
    meta = shards.shard_metadata("gpt2")
    foreign_shard(tmp_path / "a.parquet", ["d", "c", "b", "a", "e"], [5, 3, 3, 1, 3], meta=meta)
    foreign_shard(tmp_path / "b.parquet", ["a", "x"], [3, 1], meta=meta)
    top = newbpe.merge_counts(tmp_path, max_words=3)
    assert top.table == {b"d": 5, b"a": 4, b"b": 3}
    assert (top.merge_report.dropped_words, top.merge_report.dropped_count) == (3, 7)
    whole = newbpe.count_texts(LINES[:3000]).table
    d = write_shards(tmp_path, [LINES[:1000], LINES[1000:3000]], "big")
    top = newbpe.merge_counts(d, max_words=500, min_count=2).table
    assert top == dict(sorted(((w, c) for w, c in whole.items() if c >= 2), key=lambda kv: (-kv[1], kv[0]))[:500])


@pytest.mark.parametrize("key, other", [("pretokenizer", {"pretokenizer": "cl100k"}),
                                        ("units", {"units": "chars"}),
                                        ("special_tokens", {"special_tokens": ["<s>"]}),
                                        ("transform", {"transform": "nfc"})])
def test_different_setups_are_refused_in_one_line_naming_both_files(tmp_path, key, other):
    if other.get("transform"):
        from newbpe.preprocessors.nfc import NFC
        other = {"transform": NFC()}
    a = write_shards(tmp_path, [LINES[:50]], "a") / "part-00000.parquet"
    b = write_shards(tmp_path, [LINES[50:100]], "b", **other) / "part-00000.parquet"
    with pytest.raises(NewbpeError) as e:
        newbpe.merge_counts([a, b])
    msg = str(e.value)
    assert "\n" not in msg and f"different {key}" in msg and str(a) in msg and str(b) in msg
    assert f"different {key}" in cli_error(["count-merge", a, b, "-o", tmp_path / "m.parquet"])
    assert not (tmp_path / "m.parquet").exists()


@pytest.mark.parametrize("case, needle", [
    ("no metadata", "no 'newbpe' metadata"), ("foreign format", "is not a count shard"),
    ("newer version", "newer than this newbpe reads"), ("not json", "metadata is not JSON"),
    ("bad pretokenizer", "corrupt count shard"), ("truncated", "corrupt count shard"),
    ("negative count", "negative count"), ("null count", "null counts"), ("float count", "not an integer"),
    ("no count column", "no column 'count'"), ("unsorted but promised", "not sorted by word"),
    ("text file", "not a count shard"), ("missing", "not found")])
def test_bad_shards_are_one_line_errors_naming_the_file(tmp_path, case, needle):
    path = tmp_path / "s.parquet"
    good = json.loads(shards.shard_metadata("gpt2"))
    words, counts, kw = ["a", "b"], [1, 2], {}
    if case == "no metadata":
        kw["meta"] = False
    elif case == "foreign format":
        kw["meta"] = json.dumps({**good, "format": "spark-counts"})
    elif case == "newer version":
        kw["meta"] = json.dumps({**good, "version": 2})
    elif case == "not json":
        kw["meta"] = "{oops"
    elif case == "bad pretokenizer":
        kw["meta"] = json.dumps({**good, "pretokenizer": {"type": "preset", "name": "nope"}})
    elif case == "negative count":
        counts = [1, -2]
    elif case == "null count":
        counts = [1, None]
    elif case == "float count":
        kw["count_type"] = pa.float64()
    elif case == "unsorted but promised":
        words, kw["meta"] = ["b", "a"], shards.shard_metadata("gpt2", order="word")
    foreign_shard(path, words, counts, **kw)
    if case == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2] + data[-8:])
    elif case == "no count column":
        pq.write_table(pq.read_table(path).drop(["count"]), path)
    elif case == "text file":
        path.write_text("hello\n")
    elif case == "missing":
        path.unlink()
    with pytest.raises(NewbpeError) as e:
        newbpe.merge_counts(path)
    assert needle in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)
    assert needle in cli_error(["count-merge", path, "-o", tmp_path / "m.parquet"])


# ------------------------------------------------------------------------------------------- training
def test_training_from_shards_is_byte_identical_to_training_from_the_text(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("".join(LINES[:12500]), encoding="utf-8")
    parts = [LINES[i:i + 2500] for i in range(0, 12500, 2500)]
    forward = write_shards(tmp_path, parts, "fwd")
    backward = write_shards(tmp_path, parts[::-1], "bwd")          # other shards, other order
    models = []
    listed = sorted(backward.iterdir())
    for source in (str(text), str(forward), str(backward), listed, forward / "part-00002.parquet"):
        out = tmp_path / f"m{len(models)}"
        newbpe.train(source, vocab_size=600, special_tokens=["<s>"]).save(out)
        models.append((out / "model.json").read_bytes())
    assert models[0] == models[1] == models[2] == models[3] != models[4]


def test_cli_count_shards_merge_and_train(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("".join(LINES[:6000]), encoding="utf-8")
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("".join(LINES[:2500]), encoding="utf-8")
    b.write_text("".join(LINES[2500:6000]), encoding="utf-8")
    (tmp_path / "sh").mkdir()
    r = run("count", a, "-o", tmp_path / "sh", "--progress", "none", "--threads", 1)
    assert r.exit_code == 0 and (tmp_path / "sh" / "counts.parquet").exists()
    r = run("count", b, "-o", tmp_path / "b.parquet", "--progress", "none", "--threads", 1, "--stats")
    assert r.exit_code == 0 and "unique words:" in r.output and "projected merge-engine memory" in r.output
    r = CliRunner().invoke(main, ["count-merge", str(tmp_path / "sh"), str(tmp_path / "b.parquet"),
                                  "-o", str(tmp_path / "m.parquet")])
    assert r.exit_code == 0 and "merged 2 shards" in r.stderr, r.output
    assert newbpe.WordCounts.load(tmp_path / "m.parquet").table == newbpe.count(str(text), threads=1).table
    r = run("count", text, "-o", tmp_path / "t.npz", "--progress", "none", "--threads", 1)
    assert r.exit_code == 0
    models = []
    for counts in ("m.parquet", "sh", "t.npz"):
        if counts == "sh":                                   # the directory holds both shards
            os.replace(tmp_path / "b.parquet", tmp_path / "sh" / "b.parquet")
        out = tmp_path / f"model-{counts}"
        r = run("train", "--counts", tmp_path / counts, "--vocab-size", 500, "--progress", "none", "-o", out)
        assert r.exit_code == 0, r.output
        models.append((out / "model.json").read_bytes())
    assert models[0] == models[1] == models[2]
    r = CliRunner().invoke(main, ["count-merge", str(tmp_path / "m.parquet"), "-o", str(tmp_path / "p.parquet"),
                                  "--min-count", "3", "--max-words", "100"])
    assert r.exit_code == 0 and "100 unique words" in r.stderr
    assert "no *.parquet count shards" in cli_error(["count-merge", tmp_path / "model-sh", "-o", tmp_path / "q.parquet"])


# ------------------------------------------------------------------------------------------- memory
MEMORY_CHILD = r"""
import sys, newbpe.shards
from newbpe.shards import merge_to_file
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
newbpe.shards.IN_FLIGHT_ROWS = 8 * 16384                   # 8 shards x 16k rows in flight
merge_to_file(sys.argv[1:2], sys.argv[-1] + ".warm")      # imports and pyarrow's set-up on a tiny shard
rss = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
report = merge_to_file(sys.argv[2:-1], sys.argv[-1], min_count=2)
print(status("VmHWM") - rss, report.dropped_words)
"""


def merge_peak(directory, n, k):
    """Peak RSS growth of a child merging k shards of n distinct words each (written with plain
    pyarrow as newbpe writes shards: 64k-row groups, no dictionary; words interleaved across shards)
    into an empty output (every count is 1 < min_count)."""
    directory.mkdir()
    meta = shards.shard_metadata("gpt2", order="word")
    words = np.char.add(b"w", np.char.zfill(np.arange(n * k).astype("S9"), 9))
    for i in range(k):
        foreign_shard(directory / f"s{i}.parquet", words[i::k], np.ones(n, np.int64), pa.binary(), pa.int64(), meta,
                      write={"row_group_size": shards.BATCH_ROWS, "use_dictionary": False})     # as newbpe writes
    foreign_shard(directory / "tiny.parquet", [b"a", b"b"], [1, 1], pa.binary(), pa.int64(), meta)
    env = {**os.environ, "PYTHONPATH": str(BUNDLED.parent)}
    r = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(directory / "tiny.parquet"),
                        *[str(directory / f"s{i}.parquet") for i in range(k)],
                        str(directory / "out.parquet")], env=env, capture_output=True, text=True, check=True)
    peak, dropped = map(int, r.stdout.split())
    assert dropped == n * k
    return peak


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc/self/clear_refs")
def test_merging_holds_batches_not_the_inputs(tmp_path):
    """8 shards merged with 16k rows per shard in flight: 12x more input words (9.6M words, ~250 MB
    as Arrow arrays) cost the same peak RSS (~50 MB measured: the batches in flight plus pyarrow's
    and the allocator's one-time costs), far below the inputs' sum."""
    small = merge_peak(tmp_path / "small", 100_000, 8)
    large = merge_peak(tmp_path / "large", 1_200_000, 8)
    inputs = 1_200_000 * 8 * (8 + 8 + 10)                # offsets, counts, word bytes
    print(f"merge peak RSS growth: {small / 1e6:.0f} MB (0.8M words), {large / 1e6:.0f} MB (9.6M words)")
    assert large < 1.25 * small + 10e6 and large < inputs / 4, (small, large, inputs)


def test_merged_output_is_byte_identical_whatever_the_shard_order(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "BATCH_ROWS", 256)        # many rounds, full row groups of 256
    parts = [LINES[i:i + 700] for i in range(0, 4200, 700)]
    d = write_shards(tmp_path, parts)
    files = sorted(d.iterdir())
    newbpe.merge_counts(files, output=tmp_path / "a.parquet", min_count=2)
    newbpe.merge_counts(files[::-1], output=tmp_path / "b.parquet", min_count=2)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    meta = pq.ParquetFile(tmp_path / "a.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert all(n == 256 for n in sizes[:-1]) and 0 < sizes[-1] <= 256


def test_empty_words_and_zero_counts_are_no_pieces(tmp_path):
    foreign_shard(tmp_path / "e.parquet", ["", "a", "b"], [5, 0, 2])
    report = newbpe.merge_counts(tmp_path / "e.parquet", output=tmp_path / "m.parquet")
    assert newbpe.WordCounts.load(tmp_path / "m.parquet").table == {b"b": 2} and report.words == 1


def test_many_shards_merge_through_temporary_levels(tmp_path, monkeypatch):
    """More shards than MAX_FAN_IN: groups are merged into temporary shards first (two levels
    here), still exact, min_count applied only at the end, and the temporaries are gone."""
    monkeypatch.setattr(shards, "MAX_FAN_IN", 3)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    parts = [LINES[i:i + 300] for i in range(0, 3300, 300)]         # 11 shards: 4 groups, then 2, then 1
    d = write_shards(tmp_path, parts)
    merged = newbpe.merge_counts(d, min_count=2)
    whole = newbpe.count_texts(LINES[:3300]).table
    assert merged.table == {w: c for w, c in whole.items() if c >= 2}
    assert merged.merge_report.dropped_words == sum(c < 2 for c in whole.values())
    assert os.listdir(tmp_path / "tmp") == []


def test_update_refuses_another_transform():
    """WordCounts.update (the Dask reduction) compares the transform too, as the merge does."""
    from newbpe.preprocessors.nfc import NFC
    plain = newbpe.count_texts(["a b"])
    with pytest.raises(NewbpeError, match="different transform"):
        plain.update(newbpe.count_texts(["a b"], transform=NFC()))
    assert plain.update(newbpe.count_texts(["a c"])).table == {b"a": 2, b" b": 1, b" c": 1}


def test_invalid_utf8_bytes_survive_a_shard(tmp_path):
    """Byte units keep every byte (surrogate escapes): a binary column holds them as they are."""
    (tmp_path / "x.txt").write_bytes(b"caf\xe9 \xff\xfe abc\nabc \xc3\xa9t\xc3\xa9\n")
    wc = newbpe.count(str(tmp_path / "x.txt"), threads=1)
    assert any(b"\xff" in w for w in wc.table)
    wc.save_shard(tmp_path / "x.parquet")
    assert newbpe.WordCounts.load(tmp_path / "x.parquet").table == wc.table


SHARD_ROWS = st.lists(st.tuples(st.binary(min_size=0, max_size=3), st.integers(0, 5)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(SHARD_ROWS, st.booleans()), min_size=1, max_size=5), st.integers(1, 6),
       st.integers(1, 3), st.integers(1, 4), st.randoms(use_true_random=False))
def test_k_way_merge_equals_a_counter(tmp_path_factory, tables, rows, fan_in, min_count, rnd):
    """Any shards — sorted with repeats across batch boundaries (order promised) or in any row
    order (not promised), empty words, zero counts — with tiny batches and fan-in: the merge is the
    summed table, pruned at the end."""
    from collections import Counter
    tmp = tmp_path_factory.mktemp("kw")
    total, paths = Counter(), []
    for i, (table, ordered) in enumerate(tables):
        table = sorted(table) if ordered else rnd.sample(table, len(table))
        for w, c in table:
            total[w] += c
        meta = shards.shard_metadata("gpt2", order="word" if ordered else None)
        paths.append(foreign_shard(tmp / f"s{i}.parquet", [w for w, _ in table], [c for _, c in table],
                                   pa.binary(), pa.int64(), meta))
    with shard_constants(IN_FLIGHT_ROWS=rows, MIN_SHARD_ROWS=1, BATCH_ROWS=rows, MAX_FAN_IN=fan_in + 1):
        merged = newbpe.merge_counts(paths, min_count=min_count)
    expected = {w: c for w, c in total.items() if w and c >= min_count}
    assert merged.table == expected
    assert list(merged.table) == sorted(expected)
    assert merged.merge_report.dropped_count == sum(c for w, c in total.items() if w and c < min_count)
