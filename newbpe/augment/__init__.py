"""Training-data augmentation on token ids (no tokenizer artifact changes).

- `stochastok`: StochasTok stochastic token splitting (`newbpe.StochasTok`).

Modules here import numba; `newbpe` exports their classes lazily, so the CLI stays instant.
"""
