"""Trainers: one module per method, each registered in `newbpe/methods.py` (the only place that
names an algorithm). A trainer module has `OPTIONS` (defaults) and `train(corpus, vocab_size,
special_tokens, progress, *, pretokenizer, units, transform, **options) -> Tokenizer`; it asks the
`Corpus` (newbpe/corpus.py) for what it needs. `base.py` holds what the BPE family shares."""
