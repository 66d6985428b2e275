"""`Tokenizer.save_pretrained(dir)` / `newbpe export --format transformers`: a directory that
`transformers.AutoTokenizer.from_pretrained` loads, for every method (README, "transformers").

- Where stock HF expresses the model exactly (rank BPE, SuperBPE, supertokens; `export.hf.hf_exact`):
  the fast tokenizer (tokenizer.json + tokenizer_config.json + special_tokens_map.json, with the
  roles and the bos/eos template), plus model.json — exactly what `tok.save` writes.
- Otherwise (Picky, Scaffold, any model with the LBPE encoder, SPLINTER): model.json, a
  tokenizer_config.json naming `NewbpeTokenizer` (newbpe/hf_transformers.py) with an `auto_map`
  entry, special_tokens_map.json and `newbpe_tokenizer.py`, a two-line module that imports the class
  from newbpe; `AutoTokenizer.from_pretrained(dir, trust_remote_code=True)` loads it (newbpe must be
  installed there). `NewbpeTokenizer.from_pretrained(dir)` loads either kind without remote code.
Writing needs no transformers. All-or-nothing (atomic.write_dir), as every save.
"""
import json

SHIM_FILE = "newbpe_tokenizer.py"
AUTO_MAP = {"AutoTokenizer": [f"{SHIM_FILE[:-3]}.NewbpeTokenizer", None]}
MAX_LENGTH = 1000000000000000019884624838656          # transformers' "no limit"


def shim_source():
    return ('"""Loads newbpe\'s transformers tokenizer (newbpe must be installed: pip install newbpe[hf])."""\n'
            "from newbpe.hf_transformers import NewbpeTokenizer  # noqa: F401\n")


def wrapper_config(tok):
    """tokenizer_config.json of a model loaded through NewbpeTokenizer."""
    from .roles import hf_config_entries
    return {"tokenizer_class": "NewbpeTokenizer",
            "auto_map": AUTO_MAP,
            "model_max_length": MAX_LENGTH, "clean_up_tokenization_spaces": False,
            **hf_config_entries(tok), "extra_special_tokens": list(tok.special_tokens),
            "newbpe": {"algorithm": tok.algo, "encoder": tok.default_encoder,
                       "note": "encoded by newbpe's own encoder (pip install newbpe[hf]); ids identical to newbpe"}}


def pretrained_files(tok):
    """{file name: content} of save_pretrained."""
    from .export.hf import hf_exact, hf_files
    from .modelfile import MODEL_FILE, model_to_dict
    from .roles import hf_special_map
    files = {MODEL_FILE: json.dumps(model_to_dict(tok), ensure_ascii=False, separators=(",", ":")) + "\n"}
    if hf_exact(tok):
        files.update(hf_files(tok))
        return files
    files["tokenizer_config.json"] = json.dumps(wrapper_config(tok), ensure_ascii=False, indent=2) + "\n"
    files["special_tokens_map.json"] = json.dumps(hf_special_map(tok), ensure_ascii=False, indent=2) + "\n"
    files[SHIM_FILE] = shim_source()
    return files


def save_pretrained(tok, out_dir):
    """Write the directory (see the module docstring); returns the paths written."""
    from ._gc import gc_paused
    from .atomic import write_dir
    from .modelfile import check_model_dir_path, model_dir_files
    check_model_dir_path(out_dir)
    with gc_paused():
        files = pretrained_files(tok)
    return write_dir(out_dir, files, owned=model_dir_files())
