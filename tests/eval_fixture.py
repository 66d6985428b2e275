"""A small real evaluation for the report tests (test_eval_cli.py, test_report_browser.py): two tiny
BPE models trained on Shakespeare, evaluated by the engine (run_eval) on the bundled UD PUD
English and Arabic (also as a parallel pair), with a MorphScore and a segmentation file, curves and
samples, so every table and plot of the report has data."""
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EN = ROOT / "corpora" / "en" / "ud_en_pud_test.txt"
AR = ROOT / "corpora" / "ar" / "ud_ar_pud_test.txt"
TRAIN = ROOT / "corpora" / "en" / "tinyshakespeare.txt"
MORPHSCORE = "full_word,pt1,rest\nwalked,walk,ed\nkindness,kind,ness\nunhappy,un,happy\nplayers,player,s\n"
SEGMENTATION = "walked\twalk ed\t010\nkindness\tkind ness\t010\ncat\tcat\t100\nreplayed\tre play ed\t011\n"


def train_models(directory, sizes=(300, 420)):
    """Two tiny BPE models trained on Shakespeare, saved under `directory`; returns their paths."""
    import newbpe
    lines = TRAIN.read_text(encoding="utf-8").splitlines(keepends=True)[:4000]
    paths = []
    for size in sizes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tok = newbpe.train(lines, vocab_size=size)
        path = Path(directory) / f"bpe{size}"
        tok.save(path)
        paths.append(path)
    return paths


def morphology_files(directory):
    """(MorphScore CSV, SIGMORPHON-style surface TSV) written under `directory`."""
    morph, seg = Path(directory) / "morph.csv", Path(directory) / "seg.surface.tsv"
    morph.write_text(MORPHSCORE, encoding="utf-8")
    seg.write_text(SEGMENTATION, encoding="utf-8")
    return morph, seg


def build_result(model_paths):
    """The result dict (EvalResult.to_dict()) of the models on EN and AR, with every section filled."""
    from newbpe.evaluation.run import run_eval
    morph, seg = morphology_files(Path(model_paths[0]).parent)
    result = run_eval([(str(p), None) for p in model_paths], [(str(EN), "en"), (str(AR), "ar")],
                      parallel=[(str(EN), str(AR))], morphscore=[str(morph)], segmentation=[str(seg)],
                      curve_merges=[0, 20, 40], samples=3)
    return result.to_dict()
