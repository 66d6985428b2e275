"""The CLI's word-count tables: where `newbpe count -o OUT` writes (an .npz or a count shard), its
`--stats` report, and `newbpe count-merge` (cli.py registers the command on `main`)."""
import os

import click

from .cli_common import friendly

#: merge-engine bytes per unique word of `newbpe.train` on a table (bpe, vocab 32000): the larger of
#: bench/engine_memory.py's measurements at 1M (416) and 5M (365) unique words (mean word 10-13 bytes; README
#: "Memory"): the projection `count --stats` prints.
ENGINE_BYTES_PER_WORD = 420


def writes_shard(output):
    """`newbpe count -o OUT` writes a count shard when OUT ends in .parquet or is a directory (then
    OUT/counts.parquet); any other name keeps the .npz table of `WordCounts.save` (the default)."""
    return output.endswith(".parquet") or os.path.isdir(output) or output.endswith(os.sep)


def save_counts(wc, output):
    """Write `wc` where `newbpe count -o OUTPUT` says (see writes_shard); returns the path written."""
    if writes_shard(output):
        if not output.endswith(".parquet"):
            os.makedirs(output, exist_ok=True)
            output = os.path.join(output, "counts.parquet")
        return wc.save_shard(output)
    return wc.save(output)


def stats_lines(wc):
    """`newbpe count --stats`: the table's size and memory, measured, and the projected memory of
    training from it (ENGINE_BYTES_PER_WORD per unique word)."""
    table = wc._words
    words = len(wc)
    data, _, counts = wc.arrays(copy=False)
    held = 0 if table is None else table.slots.nbytes + table.entries.nbytes + table.pool.nbytes
    per_word = held / words if words else 0.0
    return [f"unique words: {words}", f"total count: {int(counts.sum())}",
            f"bytes of words: {len(data)} ({len(data) / max(words, 1):.2f} per word)",
            f"count table memory: {held / 1e6:.1f} MB ({per_word:.0f} bytes per unique word, allocated)",
            f"projected merge-engine memory for training: {words * ENGINE_BYTES_PER_WORD / 1e6:.1f} MB "
            f"({ENGINE_BYTES_PER_WORD} bytes per unique word, bench/engine_memory.py)"]


@click.command(name="count-merge")
@click.argument("shards", nargs=-1, required=True)
@click.option("-o", "--output", required=True, help="Output count shard (one .parquet file, words in byte order).")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Drop words whose count summed over all shards is below N (exact for every kept word).")
@click.option("--max-words", type=click.IntRange(min=1), default=None,
              help="Keep the N most frequent words (ties: smaller bytes first; default: all). Approximate "
                   "when the shards were pruned before.")
@friendly
def count_merge(shards, output, min_count, max_words):
    """Merge count SHARDS (.parquet files or directories of them) into one shard, streamed."""
    from .shards import merge_to_file
    report = merge_to_file(list(shards), output, min_count, max_words)
    click.echo(report.line(), err=True)
