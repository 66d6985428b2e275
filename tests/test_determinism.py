"""Same input and options give byte-identical models, whatever the thread count or shard order."""
import newbpe

from conftest import BUNDLED


def model_bytes(tok, path):
    tok.save(path, hf=False)
    return (path / "model.json").read_bytes()


def test_threads_and_shard_order_do_not_change_the_model(tmp_path):
    files = [str(BUNDLED / "en" / "tinyshakespeare.txt"), str(BUNDLED / "ms" / "malay_news_filem_kerajaan.txt")]
    one = newbpe.train(files, vocab_size=1500, threads=1)
    two = newbpe.train(files, vocab_size=1500, threads=2)
    rev = newbpe.train(files[::-1], vocab_size=1500, threads=2)
    a = model_bytes(one, tmp_path / "a")
    assert a == model_bytes(two, tmp_path / "b") == model_bytes(rev, tmp_path / "c")


def test_counting_from_files_texts_and_datasets_agree(tmp_path):
    import datasets
    path = BUNDLED / "en" / "ud_en_pud_test.txt"
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    lines = [l + "\n" for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    from_files = newbpe.count(str(path), threads=2)
    from_texts = newbpe.count(iter(lines))
    ds = datasets.Dataset.from_dict({"text": lines})
    from_ds = newbpe.count(ds)
    from_iterable_ds = newbpe.count(ds.to_iterable_dataset())
    assert from_files.table == from_texts.table == from_ds.table == from_iterable_ds.table
    from_files.save(tmp_path / "c.npz")
    back = newbpe.WordCounts.load(tmp_path / "c.npz")
    assert back.table == from_files.table and back.pretokenizer.name == "gpt2"
    a = newbpe.train(back, vocab_size=400)
    b = newbpe.train(str(path), vocab_size=400)
    assert a.to_dict() == b.to_dict()


def test_numba_counting_equals_python_regex_counting(tmp_path):
    """The scanner + numba table path and the `regex` + Counter path count the same pieces."""
    from newbpe.pretokenizers import PATTERNS
    text = (BUNDLED / "he" / "ud_he_iahltwiki_dev.txt").read_bytes()[:40000]
    data = text + b"caf\xc3\xa9 \xff\xfe 'S  x\r\n\r\n\t 123456 \xe2\x82\n  trailing   \n" * 30
    path = tmp_path / "mixed.txt"
    path.write_bytes(data)
    for preset in ("gpt2", "cl100k", "o200k"):
        for split in ("line", "document"):
            fast = newbpe.WordCounts.from_files([path], preset, split=split, threads=2)
            slow = newbpe.WordCounts.from_files([path], "regex:" + PATTERNS[preset], split=split, threads=1)
            assert fast.pretokenizer.name == preset and slow.pretokenizer.name == "regex"
            assert fast.table == slow.table
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    assert newbpe.count(iter(lines)).table == newbpe.count(iter(lines), pretokenizer="regex:" + PATTERNS["gpt2"]).table


def test_count_files_are_identical_for_any_thread_count(tmp_path):
    path = BUNDLED / "en" / "tinyshakespeare.txt"
    a = newbpe.count(str(path), threads=1).save(tmp_path / "a.npz")
    b = newbpe.count(str(path), threads=2).save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
