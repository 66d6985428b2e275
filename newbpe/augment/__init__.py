"""Training-data augmentation on token ids (no tokenizer artifact changes).

- `stochastok`: StochasTok stochastic token splitting (`newbpe.StochasTok`).
  Its parts: `stochastok_table` (split table), `stochastok_vocab` (vocabulary readers),
  `stochastok_expand` (numba expansion); the seeded generator is `newbpe.rng`.

`stochastok` imports numba (through the expansion); `newbpe` exports its class lazily, so the CLI
stays instant.
"""
