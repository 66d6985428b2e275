"""Exporters: HF `tokenizer.json` (exact for rank-BPE models) and tiktoken rank files."""
