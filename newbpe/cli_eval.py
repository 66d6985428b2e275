"""`newbpe eval` (compare tokenizers on corpora: the terminal table, CSV/JSON/Markdown/LaTeX, plots,
one HTML report) and `newbpe show` (token segmentations in the terminal). The engine is
newbpe.evaluation (run_eval); this module parses arguments and routes the outputs. Only click and
cli_common load with it, so `newbpe --help` stays instant (issue 13).

Corpus arguments: `PATH`, or `LANG=PATH` to give the corpus a language label (LANG: 2-3 letters,
optionally followed by -/_ subtags such as `zh-Hans` or `pt_BR`); an existing file whose name looks
like `LANG=...` is taken as a path.
"""
import os
import re
import sys

import click

from .cli_common import READ_PROGRESS, TEXT_COLUMN, Checked, friendly, read_progress

LANG_PATH = re.compile(r"^([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)=(.+)$", re.S)
STDOUT = "-"
FORMATS = ("csv", "json", "markdown", "latex")


def corpus_arg(arg):
    """(path, language or None) of one FILES argument (`PATH` or `LANG=PATH`)."""
    m = LANG_PATH.match(arg)
    if m is None or os.path.exists(arg):
        return arg, None
    return m.group(2), m.group(1)


def parallel_arg(value):
    """(reference, other) of a --parallel REF:OTHER value: split at the colon whose two sides are
    both files (paths may hold colons); with no such colon, at the only one. Missing files are a
    one-line error naming the file."""
    from .errors import NewbpeError
    from .sources import check_inputs
    cuts = [i for i, c in enumerate(value) if c == ":"]
    pairs = [(value[:i], value[i + 1:]) for i in cuts]
    for ref, other in pairs:
        if os.path.isfile(ref) and os.path.isfile(other):
            return ref, other
    if len(pairs) != 1 or not all(pairs[0]):
        raise NewbpeError(f"--parallel {value!r}: give REFERENCE.txt:OTHER.txt (two existing files)")
    check_inputs(list(pairs[0]))            # names the missing file
    return pairs[0]


def labelled(models, labels):
    """[(model, label or None)] of the -m and --label options: one label per -m, or none at all."""
    from .errors import NewbpeError
    if labels and len(labels) != len(models):
        raise NewbpeError(f"--label given {len(labels)} times for {len(models)} -m tokenizers: "
                          "give one --label per -m, in the same order, or none")
    return list(zip(models, labels or [None] * len(models)))


MODEL_OPTIONS = [
    click.option("-m", "--model", "models", multiple=True, required=True, metavar="TOKENIZER",
                 help="A tokenizer (repeatable, compared side by side): a newbpe model directory or model.json, "
                      "an HF tokenizer.json, a .tiktoken file, or a SentencePiece .model."),
    click.option("--label", "labels", multiple=True, metavar="NAME",
                 help="A name for each -m, in the same order (default: derived from the path)."),
    click.option("--tiktoken-pattern", default=None, metavar="PRESET_OR_REGEX",
                 help="The pre-tokenizer of .tiktoken files: gpt2, cl100k, o200k or a regex "
                      "(default: o200k or cl100k when the file name says so, else gpt2)."),
]


def model_options(fn):
    for option in reversed(MODEL_OPTIONS):
        fn = option(fn)
    return fn


@click.command(name="eval")
@click.argument("files", nargs=-1, metavar="[LANG=]FILE...")
@model_options
@click.option("--morphscore", multiple=True, metavar="CSV",
              help="MorphScore file(s) (catherinearnett/morphscore columns full_word, pt1, rest; default: none).")
@click.option("--segmentation", multiple=True, metavar="TSV",
              help="Morpheme segmentation file(s) (SIGMORPHON 2022 word TAB morphs): boundary precision/recall/F1 "
                   "(default: none).")
@click.option("--parallel", multiple=True, metavar="REF:OTHER",
              help="A parallel pair, line-aligned (repeatable): parity and premium of OTHER against REF (default: none).")
@click.option("--truncate", multiple=True, type=click.IntRange(min=0), metavar="N",
              help="Also evaluate rank-BPE models cut to their first N merges (repeatable): the "
                   "truncated-vocabulary curve (default: none).")
@click.option("--alpha", type=float, default=2.5, show_default=True, help="α of the Rényi entropy and efficiency.")
@click.option("--samples", type=click.IntRange(min=0), default=3, show_default=True,
              help="Sample sentences segmented in the HTML report and the JSON.")
@click.option("--csv", "csv_path", default=None, metavar="FILE", help="Write the full table as CSV ('-': stdout; default: none).")
@click.option("--json", "json_path", default=None, metavar="FILE",
              help="Write the whole result as JSON ('-': stdout, instead of the table; default: none).")
@click.option("--markdown", "markdown_path", default=None, metavar="FILE", help="Write Markdown tables ('-': stdout; default: none).")
@click.option("--latex", "latex_path", default=None, metavar="FILE", help="Write LaTeX tables ('-': stdout; default: none).")
@click.option("--plots", "plots_dir", default=None, metavar="DIR",
              help="Write PNG and SVG plots into DIR (needs newbpe[plot]; default: none).")
@click.option("--html", "html_path", default=None, metavar="FILE",
              help="Write one self-contained HTML report (default: none).")
@TEXT_COLUMN
@click.option("--threads", type=Checked("threads"), default=None, help="Encoding threads (default: all cores).")
@READ_PROGRESS
@friendly
def eval_(files, models, labels, tiktoken_pattern, morphscore, segmentation, parallel, truncate, alpha, samples,
          csv_path, json_path, markdown_path, latex_path, plots_dir, html_path, text_column, threads, progress):
    """Compare tokenizers (-m, repeatable) on FILES (and/or --parallel, --morphscore, --segmentation):
    a table on the terminal, every metric in the files."""
    from .errors import NewbpeError
    outputs = dict(zip(FORMATS, (csv_path, json_path, markdown_path, latex_path)))
    to_stdout = [f"--{k}" for k, v in outputs.items() if v == STDOUT]
    if len(to_stdout) > 1:
        raise NewbpeError(f"{' and '.join(to_stdout)} ask for standard output: give '-' to one of them at most")
    if plots_dir is not None:
        from .evaluation.plots import require_matplotlib
        require_matplotlib()                    # before the work: a missing extra fails at once
    tokenizers = labelled(models, labels)
    corpora = [corpus_arg(f) for f in files]
    if any(path == STDOUT for path, _ in corpora):
        raise NewbpeError("eval reads each corpus once per tokenizer: give file paths, not standard input")
    pairs = [parallel_arg(p) for p in parallel]
    from .evaluation.run import run_eval
    with read_progress(progress) as prog:
        result = run_eval(tokenizers, corpora, alpha=alpha, morphscore=list(morphscore), segmentation=list(segmentation),
                          parallel=pairs, curve_merges=list(truncate) or None, samples=samples, threads=threads,
                          tiktoken_pattern=tiktoken_pattern, column=text_column, progress=prog)
    from .evaluation.outputs import as_dict, terminal_table, write_outputs
    d = as_dict(result)
    written = write_outputs(d, outputs, sys.stdout)
    drawn = None
    if plots_dir is not None:
        from .evaluation.plots import rendered, write_plots
        drawn = rendered(d)                     # drawn once: the files and the report share them
        written += write_plots(d, plots_dir, drawn)
    if html_path is not None:
        from .evaluation.html import write_html
        written.append(write_html(d, html_path, drawn=drawn))
    if not to_stdout:
        click.echo(terminal_table(d))
    for path in written:
        click.echo(f"wrote {path}", err=True)


# ---------------------------------------------------------------------------------------------- show
ANSI_BACKGROUNDS = ("\x1b[30;48;5;153m", "\x1b[30;48;5;223m")      # light blue, light orange: neighbours differ
ANSI_RAW = "\x1b[31;48;5;224m"                                     # bytes that are not UTF-8 on their own
ANSI_RESET = "\x1b[0m"
VISIBLE = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def show_line(pieces, colour):
    """One tokenizer's pieces on one line: alternating ANSI backgrounds, or '|' between pieces;
    newlines and tabs as \\n \\t, bytes that are not UTF-8 as <xx> (outputs.piece_display)."""
    from .evaluation.outputs import piece_display
    out = []
    for i, piece in enumerate(pieces):
        text, raw = piece_display(piece)
        text = "".join(VISIBLE.get(c, c) for c in text)
        out.append(f"{ANSI_RAW if raw else ANSI_BACKGROUNDS[i % 2]}{text}{ANSI_RESET}" if colour else text)
    return "".join(out) if colour else "|".join(out)


@click.command()
@click.argument("texts", nargs=-1, metavar="TEXT...")
@model_options
@click.option("--plain", is_flag=True, help="'|' between tokens even on a terminal (the default elsewhere).")
@friendly
def show(texts, models, labels, tiktoken_pattern, plain):
    """Print how each tokenizer (-m, repeatable) cuts TEXT (default: each line of stdin)."""
    isatty = getattr(sys.stdout, "isatty", None)
    colour = not plain and isatty is not None and isatty() and "NO_COLOR" not in os.environ
    texts = list(texts) or [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        return
    from .evaluation.segments import segmenters
    cutters = segmenters(labelled(models, labels), tiktoken_pattern)
    width = max(len(label) for label, _ in cutters)
    cuts = [cut(texts) for _, cut in cutters]
    for k in range(len(texts)):
        if k:
            click.echo("")
        for (label, _), per_text in zip(cutters, cuts):
            n_tokens, pieces = per_text[k]
            click.echo(f"{label:<{width}}  {n_tokens:>4}  {show_line(pieces, colour)}")
