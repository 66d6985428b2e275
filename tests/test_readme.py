"""The README's Python examples run as written (issue 13: the public API is unchanged or strictly
extended). Each ```python block of README.md runs in a scratch directory holding the files its
text names (corpus.txt, a.txt, b.txt, some/tokenizer.json), with the variables it leaves to the
reader (`lines`, `text`, `ids`, `docs`, `ds`, `dataset_dict`) defined on small data."""
import os
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
SHAKESPEARE = (ROOT / "corpora" / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8")
HEBREW = (ROOT / "corpora" / "he" / "ud_he_iahltwiki_dev.txt").read_text(encoding="utf-8")


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    import newbpe
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    (tmp_path / "corpora").symlink_to(ROOT / "corpora")
    small = "".join(SHAKESPEARE.splitlines(keepends=True)[:3000])
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(small, encoding="utf-8")
    (tmp_path / "some").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        newbpe.train(small.splitlines(keepends=True), vocab_size=400).save_hf(tmp_path / "some")
    return tmp_path, small


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(scratch, index):
    from datasets import Dataset, DatasetDict
    import newbpe
    tmp_path, small = scratch
    code = BLOCKS[index]
    hebrew = "Splinter" in code
    (tmp_path / "corpus.txt").write_text(HEBREW if hebrew else small, encoding="utf-8")
    env = {"newbpe": newbpe, "lines": small.splitlines(keepends=True)[:50], "text": "שלום עולם, המלכים!" if hebrew else "To be, or not"}
    if "newbpe.StochasTok" in code:
        env["tok"] = tok = newbpe.train(small.splitlines(keepends=True), vocab_size=400)
        env["ids"] = tok.encode("To be, or not to be")
        env["docs"] = [tok.encode(t) for t in small.splitlines()[:20]]
        env["ds"] = Dataset.from_dict({"ids": env["docs"]})
        env["dataset_dict"] = DatasetDict({"train": env["ds"], "test": env["ds"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, f"README.md block {index + 1}", "exec"), env)
