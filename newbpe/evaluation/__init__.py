"""Tokenizer evaluation (issue 18): the engine (run_eval) and what `newbpe eval` writes from its
result (outputs, plots, html)."""
