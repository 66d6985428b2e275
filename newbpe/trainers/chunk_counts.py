"""Counting the random-chunk pieces of documents (the supertoken trainer's table, specs
supertokens.md §3.1-3.2), for a run of documents that may start anywhere in the corpus: here for the
whole corpus (trainers/supertoken.py), on a Dask worker for one byte range (newbpe/cluster.py). Its
own module so neither of those imports the other."""
import numpy as np

#: Characters per batch handed to the chunking kernel (about 4 bytes each as UTF-32, 21 in buffers).
BATCH_CHARS = 2 << 20


def chunk_texts(texts, first_index, seed, bins, *, remove_repeats=7, specials=(), seed_by="index", transform=None,
                threads=1, progress=None):
    """(table, chunks, documents) of the random-chunk pieces of `texts`, the first of which is
    document number `first_index` of the corpus (its seed, ``seed_by="index"``). Batches of about
    BATCH_CHARS characters go through the chunking kernel and into the word table."""
    from .._threads import threads_limit
    from ..counting import WordCounts
    from ..pretokenizers.random_chunks import chunk_batch
    table = WordCounts("none", "bytes", specials)
    n_docs = n_chunks = 0
    batch, size = [], 0

    def flush():
        nonlocal n_docs, n_chunks
        indices = np.arange(first_index + n_docs, first_index + n_docs + len(batch), dtype=np.int64)
        with threads_limit(threads):
            data, bounds, per_doc = chunk_batch(batch, seed, indices, bins, remove_repeats=remove_repeats,
                                                specials=specials, seed_by=seed_by)
        table.add_pieces(data, bounds, threads)
        n_docs += len(batch)
        n_chunks += int(per_doc.sum())
        if progress is not None:
            progress("count", n_docs, 0)

    for text in texts:
        if transform is not None:
            text = transform.apply(text)
        batch.append(text)
        size += len(text)
        if size >= BATCH_CHARS:
            flush()
            batch, size = [], 0
    if batch:
        flush()
    return table, n_chunks, n_docs
