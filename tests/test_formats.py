"""Input formats (newbpe/sources.py): compressed text, JSON Lines, JSON arrays, Parquet, stdin,
datasets by name or path, sampling. Every format counts exactly what the plain-text route counts on
the same text, through the parallel counting path; bad inputs are one line."""
import bz2
import gzip
import json
import lzma

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

import newbpe
import newbpe.counting
from newbpe.cli import main
from newbpe.errors import NewbpeError
from newbpe.sources import Sampler, detect

from conftest import BUNDLED, cli_error

REGEX = r"regex:\w+|\s+|[^\w\s]+"
COMPRESS = {"gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress}
try:
    import zstandard
    COMPRESS["zst"] = lambda b: zstandard.ZstdCompressor().compress(b)
except ImportError:                                     # pragma: no cover - the test extra installs it
    pass


@pytest.fixture(scope="module")
def text():
    """~60 KB of Shakespeare, a 20 KB line without newlines, CRLF, invalid UTF-8 (as surrogate escapes)."""
    raw = (BUNDLED / "en" / "tinyshakespeare.txt").read_bytes()[:60000]
    long_line = b" ".join([b"word%d" % i for i in range(3000)]) + b"\n"
    return raw + long_line + b"crlf line\r\nbad \xff\xfe bytes\nlast line without newline"


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 KB instead of 2 MB: many blocks, cuts inside the long line."""
    monkeypatch.setattr(newbpe.counting, "CHUNK_BYTES", 4096)


def lines(raw):
    return raw.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def write_jsonl(path, texts, key="text"):
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
        for t in texts:
            f.write(json.dumps({key: t, "id": 1}) + "\n")
    return path


def write_parquet(path, table):
    import pyarrow.parquet as pq
    pq.write_table(table, str(path))
    return path


def counts(source, **kw):
    return newbpe.count(source, **kw).table


# ------------------------------------------------------------------------------------------ compressed text
@pytest.mark.parametrize("ext", sorted(COMPRESS))
@pytest.mark.parametrize("split", ["line", "document"])
def test_compressed_text_counts_equal_plain(tmp_path, text, small_blocks, ext, split):
    plain = tmp_path / "a.txt"
    plain.write_bytes(text)
    packed = tmp_path / f"a.txt.{ext}"
    packed.write_bytes(COMPRESS[ext](text))
    assert detect(str(packed))[1] == "text"
    for kw in (dict(threads=2), dict(pretokenizer="cl100k", units="chars"), dict(pretokenizer=REGEX, threads=2),
               dict(special_tokens=["word7"])):
        with pytest.warns(UserWarning) if kw.get("units") == "chars" else _nothing():
            got = counts(str(packed), split=split, **kw)
        with pytest.warns(UserWarning) if kw.get("units") == "chars" else _nothing():
            want = counts(str(plain), split=split, **kw)
        assert got == want, kw


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_content_wins_over_a_lying_extension(tmp_path, text):
    want = counts(str(_write(tmp_path / "a.txt", text)))
    assert counts(str(_write(tmp_path / "gz_named.txt", gzip.compress(text)))) == want
    assert counts(str(_write(tmp_path / "plain_named.gz", text))) == want
    assert counts(str(_write(tmp_path / "xz_named.bz2", lzma.compress(text)))) == want
    jl = write_jsonl(tmp_path / "r.jsonl", lines(text))
    assert counts(str(_write(tmp_path / "gz_named.jsonl", gzip.compress(jl.read_bytes())))) == want
    assert detect(str(tmp_path / "gz_named.jsonl")) == ("gzip", "jsonl")


def _write(path, data):
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------ JSON
@pytest.mark.parametrize("compress", [None, "gz"])
def test_jsonl_records_count_like_text(tmp_path, text, small_blocks, compress):
    """One record per line of the text: split="line" gives the text file's counts exactly."""
    path = write_jsonl(tmp_path / "a.jsonl", lines(text))
    if compress:
        path = _write(tmp_path / "a.jsonl.gz", gzip.compress(path.read_bytes()))
    plain = str(_write(tmp_path / "a.txt", text))
    for kw in (dict(), dict(pretokenizer=REGEX, threads=2)):
        assert counts(str(path), **kw) == counts(plain, **kw)


def test_records_are_documents(tmp_path, text, small_blocks):
    """A record is a document: split="document" counts it whole, split="line" counts its lines."""
    docs = ["".join(lines(text)[i:i + 7]) for i in range(0, len(lines(text)), 7)]
    path = str(write_jsonl(tmp_path / "d.jsonl", docs))
    assert counts(path, split="document") == counts(docs)
    assert counts(path, split="line") == counts([ln for d in docs for ln in d.splitlines(keepends=True)])
    assert counts(path, split="document", pretokenizer=REGEX, threads=2) == counts(docs, pretokenizer=REGEX)


def test_json_array_nested_field_and_jsonl_named_json(tmp_path, text):
    docs = lines(text)[:500]
    want = counts(docs)
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([{"meta": {"body": d}} for d in docs], indent=1), "utf-8", errors="surrogatepass")
    assert counts(str(arr), column="meta.body", split="document") == want
    jl = tmp_path / "b.json"
    jl.write_text("".join(json.dumps({"meta": {"body": d}}) + "\n" for d in docs), "utf-8", errors="surrogatepass")
    assert counts(str(jl), column="meta.body", split="document") == want
    dotted = write_jsonl(tmp_path / "c.jsonl", docs, key="a.b")          # a key with a dot in it
    assert counts(str(dotted), column="a.b", split="document") == want


@pytest.mark.parametrize("lines_, message", [
    ('{"text": "a"}\n{"txt": "b"}\n', r"bad\.jsonl:2: no field 'text' \(fields: txt\)"),
    ('{"text": "a"}\n\n{"text": 3}\n', r"bad\.jsonl:3: field 'text' is int, not a string"),
    ('{"text": "a"}\n{"text": "b"\n', r"bad\.jsonl:2: not a line of JSON"),
    ('["a"]\n', r"bad\.jsonl:1: no field 'text' \(the record is a list"),
    ('{"text": "a"}\n{"text": "b"}, {"text": "c"}\n', r"bad\.jsonl:2: not a line of JSON"),   # two values on a line
    ('{"text": "a"},\n{"text": "b"}\n', r"bad\.jsonl:1: not a line of JSON"),                 # a trailing comma
    ('{"text": "a"}\n' * 50000 + '{"text": \xff}\n', r"bad\.jsonl:50001: not a line of JSON"),  # past the first batch
])
def test_bad_json_lines_are_one_line_errors(tmp_path, lines_, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(lines_)
    with pytest.raises(NewbpeError, match=message):
        newbpe.count(str(path))
    assert cli_error(["count", path, "-o", tmp_path / "c.npz"]).startswith("newbpe: error: ")


def test_bad_json_array_names_the_record(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"text": "a"}, {"body": "b"}]')
    with pytest.raises(NewbpeError, match=r"bad\.json: record 2: no field 'text'"):
        newbpe.count(str(path))


# ------------------------------------------------------------------------------------------ Parquet
def test_parquet_counts_like_text(tmp_path, text, small_blocks):
    import pyarrow as pa
    docs = [t.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for t in lines(text)]
    want = counts(docs)
    path = write_parquet(tmp_path / "a.parquet", pa.table({"id": list(range(len(docs))), "text": docs}))
    assert counts(str(path)) == want
    assert counts(str(path), pretokenizer=REGEX, threads=2) == counts(docs, pretokenizer=REGEX)
    assert counts(str(_write(tmp_path / "a.parquet.gz", gzip.compress(path.read_bytes())))) == want
    assert counts(str(_write(tmp_path / "named.txt", path.read_bytes()))) == want        # PAR1 magic
    nested = write_parquet(tmp_path / "n.parquet", pa.table({"meta": pa.array([{"body": d} for d in docs])}))
    assert counts(str(nested), column="meta.body") == want


def test_parquet_errors_are_one_line(tmp_path):
    import pyarrow as pa
    path = write_parquet(tmp_path / "a.parquet", pa.table({"body": ["x"], "n": [1]}))
    with pytest.raises(NewbpeError, match=r"a\.parquet: Parquet file has no column 'text' \(columns: body, n\)"):
        newbpe.count(str(path))
    with pytest.raises(NewbpeError, match=r"column 'n' is int64, not strings"):
        newbpe.count(str(path), column="n")
    assert "no column 'text'" in cli_error(["count", path, "-o", tmp_path / "c.npz"])
    nulls = write_parquet(tmp_path / "nulls.parquet", pa.table({"text": ["x", None]}))
    with pytest.raises(NewbpeError, match=r"row 2: column 'text' is null"):
        newbpe.count(str(nulls))


# ------------------------------------------------------------------------------------------ corrupt input
def test_corrupt_compressed_files_are_one_line_errors(tmp_path, text):
    data = gzip.compress(text)
    for name, bad in (("cut.gz", data[:len(data) // 2]), ("garbage.gz", data[:20] + b"\x00" * 5000),
                      ("cut.xz", lzma.compress(text)[:300]), ("cut.txt.bz2", bz2.compress(text)[:300])):
        path = _write(tmp_path / name, bad)
        with pytest.raises(NewbpeError, match=rf"corrupt \w+ data in .*{name}"):
            newbpe.count(str(path))
        msg = cli_error(["count", path, "-o", tmp_path / "c.npz"])
        assert name in msg
        model = tmp_path / "m"
        assert name in cli_error(["train", path, "--vocab-size", 300, "-o", model])
        assert not model.exists()


def test_zstd_without_the_package_says_what_to_install(tmp_path, monkeypatch, text):
    import sys
    path = _write(tmp_path / "a.txt.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 10)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(NewbpeError, match="pip install zstandard"):
        newbpe.count(str(path))


# ------------------------------------------------------------------------------------------ stdin, CLI
def test_stdin_plain_and_compressed(tmp_path, text):
    want = counts(str(_write(tmp_path / "a.txt", text)))
    for data in (text, gzip.compress(text)):
        out = tmp_path / "c.npz"
        r = CliRunner().invoke(main, ["count", "-", "-o", str(out), "--progress", "none"], input=data)
        assert r.exit_code == 0, r.output + r.stderr
        assert newbpe.WordCounts.load(out).table == want
    model = tmp_path / "m"
    r = CliRunner().invoke(main, ["train", "-", "--vocab-size", 300, "-o", str(model), "--progress", "none"],
                           input=gzip.compress(text))
    assert r.exit_code == 0, r.output + r.stderr
    assert newbpe.load(model).merges == newbpe.train(str(tmp_path / "a.txt"), vocab_size=300).merges


def test_encode_eval_stochastok_read_jsonl(tmp_path, text):
    plain = str(_write(tmp_path / "a.txt", text))
    jl = str(_write(tmp_path / "a.jsonl.gz", gzip.compress(write_jsonl(tmp_path / "x.jsonl", lines(text)).read_bytes())))
    newbpe.train(plain, vocab_size=320).save(tmp_path / "m")
    run = CliRunner().invoke
    for cmd in (["encode"], ["eval", "--json", "-"]):
        a = run(main, cmd + ["-m", str(tmp_path / "m"), plain])
        b = run(main, cmd + ["-m", str(tmp_path / "m"), jl])
        assert a.exit_code == 0 and b.exit_code == 0, b.output + b.stderr
        if cmd[0] == "eval":                # the same rows; the corpus label is each file's name
            rows = [[dict(r, corpus=None) for r in json.loads(x.stdout)["rows"]] for x in (a, b)]
            assert rows[0] == rows[1]
        else:
            assert a.output == b.output
    outs = []
    for src, name in ((plain, "p.npy"), (jl, "j.npy")):
        r = run(main, ["stochastok", "-m", str(tmp_path / "m"), src, "-o", str(tmp_path / name), "--p", "0.3"])
        assert r.exit_code == 0, r.output + r.stderr
        outs.append(np.load(tmp_path / name))
    assert np.array_equal(*outs)
    body = write_jsonl(tmp_path / "b.jsonl", lines(text)[:50], key="body")
    r = run(main, ["encode", "-m", str(tmp_path / "m"), "--text-column", "body", str(body)])
    assert r.exit_code == 0 and len(r.output.splitlines()) == 50


def test_cli_text_column_and_dataset(tmp_path, text):
    import datasets
    docs = lines(text)[:800]
    docs = [d.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for d in docs]
    want = counts(docs)
    path = write_jsonl(tmp_path / "b.jsonl", docs, key="body")
    out = tmp_path / "c.npz"
    r = CliRunner().invoke(main, ["count", str(path), "--text-column", "body", "--split", "document",
                                  "-o", str(out), "--progress", "none"])
    assert r.exit_code == 0, r.output + r.stderr
    assert newbpe.WordCounts.load(out).table == want
    ds_dir = tmp_path / "ds"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"body": docs}),
                          "test": datasets.Dataset.from_dict({"body": docs[:5]})}).save_to_disk(str(ds_dir))
    r = CliRunner().invoke(main, ["count", "--dataset", str(ds_dir), "--dataset-split", "train",
                                  "--text-column", "body", "-o", str(out), "--progress", "none"])
    assert r.exit_code == 0, r.output + r.stderr
    assert newbpe.WordCounts.load(out).table == want
    r = CliRunner().invoke(main, ["train", "--dataset", str(ds_dir), "--text-column", "body", "--vocab-size", 300,
                                  "-o", str(tmp_path / "m"), "--progress", "none"])
    assert r.exit_code == 0, r.output + r.stderr
    assert newbpe.load(tmp_path / "m").merges == newbpe.train(docs, vocab_size=300).merges
    assert "has no column 'text'" in cli_error(["count", "--dataset", ds_dir, "-o", out])
    assert "--dataset-split" in cli_error(["count", "--dataset", ds_dir, "--dataset-split", "nope",
                                           "--text-column", "body", "-o", out])
    assert "not both" in cli_error(["count", path, "--dataset", ds_dir, "-o", out])
    assert "cannot load dataset" in cli_error(["count", "--dataset", tmp_path / "missing", "-o", out])


def test_dataset_counts_in_blocks_equal_texts(text, small_blocks):
    import datasets
    docs = [d.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for d in lines(text)]
    ds = datasets.Dataset.from_dict({"text": docs})
    for kw in (dict(threads=2), dict(pretokenizer=REGEX, threads=2), dict(special_tokens=["word7"])):
        assert counts(ds, **kw) == counts(docs, **kw)


# ------------------------------------------------------------------------------------------ sampling
def test_sampling_is_deterministic_and_follows_documents(tmp_path, text, small_blocks):
    plain = str(_write(tmp_path / "a.txt", text))
    gz = str(_write(tmp_path / "a.txt.gz", gzip.compress(text)))
    docs = lines(text)
    s = Sampler(sample=0.3, seed=7)
    kept = [d for i, d in enumerate(docs) if s.keep(i)]
    assert 0.2 * len(docs) < len(kept) < 0.4 * len(docs)
    want = counts(kept)
    for src in (plain, gz):
        for threads in (1, 2):
            assert counts(src, sample=0.3, sample_seed=7, threads=threads) == want
        assert counts(src, sample=0.3, sample_seed=7, pretokenizer=REGEX, threads=2) == \
            counts(kept, pretokenizer=REGEX)
    assert counts(plain, sample=0.3, sample_seed=8) != want
    jl = str(write_jsonl(tmp_path / "a.jsonl", docs))
    assert counts(jl, sample=0.3, sample_seed=7) == want
    assert counts(docs, sample=0.3, sample_seed=7) == want           # any iterable: the same documents
    # max_bytes: documents until N bytes, the last one read to its end
    sizes = np.cumsum([len(d.encode("utf-8", "surrogateescape")) for d in docs])
    n = int(np.searchsorted(sizes, 10000)) + 1
    assert sizes[n - 2] < 10000 <= sizes[n - 1]
    assert counts(plain, max_bytes=10000) == counts(docs[:n]) == counts(jl, max_bytes=10000)
    both = [d for i, d in enumerate(docs) if s.keep(i)]
    sizes = np.cumsum([len(d.encode("utf-8", "surrogateescape")) for d in both])
    m = int(np.searchsorted(sizes, 5000)) + 1
    assert counts(gz, max_bytes=5000, sample=0.3, sample_seed=7) == counts(both[:m])
    tok = newbpe.train(plain, vocab_size=300, sample=0.3, sample_seed=7)
    assert tok.merges == newbpe.train(kept, vocab_size=300).merges


def test_sampling_options_are_checked(tmp_path):
    with pytest.raises(NewbpeError, match="sample"):
        newbpe.count(["a b"], sample=1.5)
    with pytest.raises(NewbpeError, match="max_bytes"):
        newbpe.count(["a b"], max_bytes=0)
    assert "--sample" in cli_error(["count", "x.txt", "--sample", "0", "-o", tmp_path / "c.npz"])


def test_cli_sampling_matches_the_api(tmp_path, text):
    plain = str(_write(tmp_path / "a.txt", text))
    out = tmp_path / "c.npz"
    r = CliRunner().invoke(main, ["count", plain, "--sample", "0.5", "--seed", "3", "--max-bytes", "20000",
                                  "-o", str(out), "--progress", "none"])
    assert r.exit_code == 0, r.output + r.stderr
    assert newbpe.WordCounts.load(out).table == counts(plain, sample=0.5, sample_seed=3, max_bytes=20000)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=40), min_size=1, max_size=30))
def test_any_texts_count_alike_in_every_format(tmp_path_factory, docs):
    tmp = tmp_path_factory.mktemp("h")
    want = counts(docs)
    path = write_jsonl(tmp / "a.jsonl", docs)
    assert counts(str(path), split="document") == want
    gz = _write(tmp / "a.jsonl.gz", gzip.compress(path.read_bytes()))
    assert counts(str(gz), split="document") == want


def test_sampling_a_counted_table_is_refused():
    with pytest.raises(NewbpeError, match="already counted"):
        newbpe.count({"a": 1}, max_bytes=10)


def test_records_split_lines_after_newlines_only(tmp_path):
    """A lone \r is no line end, in a record as in a text file (HF train(files) parity)."""
    docs = ["a\rb c\n", "x\r\ny\n", "tail"]
    path = write_jsonl(tmp_path / "r.jsonl", docs)
    plain = _write(tmp_path / "r.txt", "".join(docs).encode())
    assert counts(str(path)) == counts(str(plain))


def test_a_pipe_is_read_once(tmp_path, text):
    """A named pipe (as bash's <(zcat ...) gives) is sniffed and streamed, not measured or reread."""
    import os
    import threading
    want = counts(str(_write(tmp_path / "a.txt", text)))
    for data in (text, gzip.compress(text)):
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)

        def feed():
            with open(fifo, "wb") as f:
                f.write(data)
        t = threading.Thread(target=feed)
        t.start()
        assert counts([str(fifo)]) == want
        t.join()
        fifo.unlink()


def test_dataset_from_a_local_data_directory(tmp_path, text):
    """--dataset DIR of data files goes through datasets.load_dataset, offline, cache in tmp_path."""
    import os
    import subprocess
    import sys
    from conftest import ROOT
    docs = [d.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for d in lines(text)[:300]]
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "train.jsonl", docs)
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "HF_DATASETS_CACHE": str(tmp_path / "hf" / "ds"), "PYTHONPATH": str(ROOT)}
    out = tmp_path / "c.npz"
    r = subprocess.run([sys.executable, "-m", "newbpe.cli", "count", "--dataset", str(tmp_path / "data"),
                        "-o", str(out), "--progress", "none"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert newbpe.WordCounts.load(out).table == counts(docs)


def test_progress_of_a_compressed_file_moves_with_the_file(tmp_path, text, small_blocks):
    path = _write(tmp_path / "a.txt.gz", gzip.compress(text * 3))
    seen = []
    newbpe.count(str(path), progress=lambda stage, cur, total: seen.append((stage, cur, total)))
    assert len(seen) > 3 and seen[-1][1] == seen[-1][2] == path.stat().st_size
    assert [c for _, c, _ in seen] == sorted(c for _, c, _ in seen)


def test_word_counts_update_adds_and_refuses_other_setups():
    from newbpe.counting import WordCounts
    a = WordCounts.from_texts(["hello world hello"])
    a.update(WordCounts.from_texts(["world x"]))
    assert a.table == {b"hello": 1, b" world": 1, b" hello": 1, b"world": 1, b" x": 1}
    with pytest.raises(NewbpeError, match="different pretokenizer"):
        a.update(WordCounts.from_texts(["x"], pretokenizer="whitespace"))
    with pytest.raises(NewbpeError, match="different units"):
        a.update(WordCounts.from_texts(["x"], units="chars"))
