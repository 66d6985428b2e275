"""`NewbpeTokenizer`: a `transformers` tokenizer that encodes with newbpe's own encoders, so every
newbpe method (Picky, Scaffold, LBPE, SPLINTER, ... and plain BPE) is usable in transformers exactly.

    tok.save_pretrained("out/")        # newbpe side (newbpe/pretrained.py); no transformers needed
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained("out/", trust_remote_code=True)    # methods stock HF cannot express
    from newbpe.hf_transformers import NewbpeTokenizer
    hf = NewbpeTokenizer.from_pretrained("out/")                          # any model, no remote code

It reads `model.json` and calls the model's `encode_batch` (one numba call per batch, all cores), so
its ids are newbpe's: special-token text is always matched (as in HF), `add_special_tokens=True`
applies the model's bos/eos template, `len()` is the model's vocabulary size (hidden Picky/Scaffold
tokens have no id), padding, truncation, batch calls, `decode` and `save_pretrained` work as in any
transformers tokenizer. transformers and newbpe must both be installed where it is loaded (the
saved `newbpe_tokenizer.py` only imports this class). Pairs, overflowing tokens with a stride and
pre-split words go through transformers' generic code (same ids, slower). Tokens added after
loading (`add_tokens`) are not supported: newbpe models have a fixed vocabulary.

Imports transformers at import time: nothing in newbpe imports this module except on demand.
"""
import json
import os

from transformers import PreTrainedTokenizer
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy

from .pretrained import AUTO_MAP, SHIM_FILE, shim_source


class NewbpeTokenizer(PreTrainedTokenizer):
    vocab_files_names = {"model_file": "model.json", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, model_file=None, newbpe_model=None, threads=None, tokenizer_file=None, **kwargs):
        import newbpe
        from .roles import ROLES, role_token
        if newbpe_model is None and model_file is None and tokenizer_file is None:
            from .errors import NewbpeError
            raise NewbpeError("NewbpeTokenizer needs a directory with model.json (or an HF byte-level tokenizer.json)")
        tok = newbpe_model if newbpe_model is not None else newbpe.load(model_file or tokenizer_file)
        self.newbpe_tokenizer = tok
        self.threads = threads
        self._vocab = tok.get_vocab()
        self._strings = [None] * tok.vocab_size
        for s, i in self._vocab.items():
            self._strings[i] = s
        for role in ROLES:
            token = role_token(tok, role)
            if token is not None:
                kwargs.setdefault(f"{role}_token", token)
        kwargs.pop("additional_special_tokens", None)
        kwargs.setdefault("extra_special_tokens", list(tok.special_tokens))
        kwargs.setdefault("clean_up_tokenization_spaces", False)
        kwargs.setdefault("model_max_length", 1000000000000000019884624838656)
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self):
        return self.newbpe_tokenizer.vocab_size

    def get_vocab(self):
        return dict(self._vocab)

    def __len__(self):
        return self.newbpe_tokenizer.vocab_size + len([i for i in self._added_tokens_decoder if i >= self.newbpe_tokenizer.vocab_size])

    def _convert_token_to_id(self, token):
        found = self._vocab.get(token)
        if found is None:
            found = self.newbpe_tokenizer.token_to_id(token)
        return found if found is not None else self.unk_token_id

    def _convert_id_to_token(self, index):
        return self._strings[index]

    def convert_tokens_to_string(self, tokens):
        return self.newbpe_tokenizer.decode([self._convert_token_to_id(t) for t in tokens])

    # ------------------------------------------------------------------ encoding
    def _ids(self, texts):
        return self.newbpe_tokenizer.encode_batch(list(texts), allowed_special="all", disallowed_special=(),
                                        threads=self.threads)

    def tokenize(self, text, **kwargs):
        return [self._strings[i] for i in self._ids([text])[0]]

    def _tokenize(self, text, **kwargs):
        return self.tokenize(text)

    def _template(self):
        from .roles import template_ids
        return template_ids(self.newbpe_tokenizer, True)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        pre, suf = self._template()
        out = pre + list(token_ids_0) + suf
        return out if token_ids_1 is None else out + pre + list(token_ids_1) + suf

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        if already_has_special_tokens:
            k = self.newbpe_tokenizer.vocabulary.n_specials
            to_internal = self.newbpe_tokenizer.vocabulary.to_internal
            return [int(to_internal[i] < k) for i in token_ids_0] + (
                [] if token_ids_1 is None else [int(to_internal[i] < k) for i in token_ids_1])
        pre, suf = self._template()
        mask = [1] * len(pre) + [0] * len(token_ids_0) + [1] * len(suf)
        return mask if token_ids_1 is None else mask + [1] * len(pre) + [0] * len(token_ids_1) + [1] * len(suf)

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        pre, suf = self._template()
        first = len(pre) + len(token_ids_0) + len(suf)
        return [0] * first if token_ids_1 is None else [0] * first + [1] * (len(pre) + len(token_ids_1) + len(suf))

    def num_special_tokens_to_add(self, pair=False):
        pre, suf = self._template()
        return (len(pre) + len(suf)) * (2 if pair else 1)

    def _encode_plus(self, text, text_pair=None, add_special_tokens=True,
                     padding_strategy=PaddingStrategy.DO_NOT_PAD,
                     truncation_strategy=TruncationStrategy.DO_NOT_TRUNCATE, max_length=None, stride=0,
                     is_split_into_words=False, pad_to_multiple_of=None, padding_side=None, return_tensors=None,
                     return_token_type_ids=None, return_attention_mask=None, return_overflowing_tokens=False,
                     return_special_tokens_mask=False, return_length=False, verbose=True, **kwargs):
        """Texts in one newbpe call (the generic path encodes text by text), with offsets on request
        (`return_offsets_mapping=True`: newbpe's character offsets, template and pad tokens (0, 0))."""
        single = isinstance(text, str)
        batched = single or isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text)
        offsets = kwargs.get("return_offsets_mapping")
        if not batched or text_pair is not None or is_split_into_words or return_overflowing_tokens \
                or kwargs.get("sanitize_control_tokens"):
            if offsets:
                raise NotImplementedError("return_offsets_mapping: newbpe gives offsets for texts (not pairs, "
                                          "pre-split words or overflowing tokens)")
            return super()._encode_plus(
                text, text_pair=text_pair, add_special_tokens=add_special_tokens, padding_strategy=padding_strategy,
                truncation_strategy=truncation_strategy, max_length=max_length, stride=stride,
                is_split_into_words=is_split_into_words, pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side, return_tensors=return_tensors, return_token_type_ids=return_token_type_ids,
                return_attention_mask=return_attention_mask, return_overflowing_tokens=return_overflowing_tokens,
                return_special_tokens_mask=return_special_tokens_mask, return_length=return_length,
                verbose=verbose, **kwargs)
        pre, suf = self._template() if add_special_tokens else ([], [])
        n_special = len(pre) + len(suf)
        truncate = truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE and max_length is not None
        keep = max(max_length - n_special, 0) if truncate else None
        left = self.truncation_side == "left"
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        texts = [text] if single else text
        input_ids, masks, spans = [], [], []
        if offsets:
            encodings = self.newbpe_tokenizer.encode_batch(list(texts), allowed_special="all", disallowed_special=(),
                                                           threads=self.threads, return_offsets=True)
            if any(e.offsets is None for e in encodings):
                raise ValueError("offsets are not available for text the model's transform (SPLINTER, NFC) changes "
                                 "(see newbpe.encoding)")
            pairs = [(e.ids, e.offsets) for e in encodings]
        else:
            pairs = [(ids, None) for ids in self._ids(texts)]
        for ids, offs in pairs:
            if keep is not None and len(ids) > keep:
                cut = slice(len(ids) - keep, None) if left else slice(0, keep)
                ids, offs = ids[cut], (offs[cut] if offs is not None else None)
            input_ids.append(pre + ids + suf if n_special else ids)
            if return_special_tokens_mask:
                masks.append([1] * len(pre) + [0] * len(ids) + [1] * len(suf))
            if offs is not None:
                spans.append([(0, 0)] * len(pre) + list(offs) + [(0, 0)] * len(suf))
        out = {"input_ids": input_ids}
        if return_token_type_ids:
            out["token_type_ids"] = [[0] * len(s) for s in input_ids]
        if return_special_tokens_mask:
            out["special_tokens_mask"] = masks
        if return_length:
            out["length"] = [len(s) for s in input_ids]
        if padding_strategy != PaddingStrategy.DO_NOT_PAD or return_attention_mask:
            out = self.pad(out, padding=padding_strategy.value, max_length=max_length,
                           pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side,
                           return_attention_mask=return_attention_mask)
        if offsets:                          # padded like the ids, with (0, 0) as HF's fast tokenizers do
            pad_left = (padding_side or self.padding_side) == "left"
            out["offset_mapping"] = [[(0, 0)] * (len(row) - len(o)) + o if pad_left else o + [(0, 0)] * (len(row) - len(o))
                                     for row, o in zip(out["input_ids"], spans)]
        if single:
            return BatchEncoding({k: v[0] for k, v in out.items()}, tensor_type=return_tensors,
                                 prepend_batch_axis=return_tensors is not None)
        return BatchEncoding(out, tensor_type=return_tensors)

    # ------------------------------------------------------------------ decoding
    def _decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None, **kwargs):
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        text = self.newbpe_tokenizer.decode(list(token_ids), skip_special_tokens=skip_special_tokens)
        if clean_up_tokenization_spaces if clean_up_tokenization_spaces is not None \
                else self.clean_up_tokenization_spaces:
            text = self.clean_up_tokenization(text)
        return text

    # ------------------------------------------------------------------ saving
    def save_vocabulary(self, save_directory, filename_prefix=None):
        from .modelfile import model_to_dict
        name = (f"{filename_prefix}-" if filename_prefix else "") + "model.json"
        path = os.path.join(save_directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(model_to_dict(self.newbpe_tokenizer), ensure_ascii=False, separators=(",", ":")) + "\n")
        return (path,)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """transformers' save, then the auto_map entry and the shim module that trust_remote_code loads."""
        self._auto_class = None        # transformers would copy this module and its imports; the shim does
        try:
            out = super().save_pretrained(save_directory, *args, **kwargs)
        finally:
            del self._auto_class
        add_auto_map(save_directory)
        return out


def add_auto_map(save_directory):
    """Point tokenizer_config.json at NewbpeTokenizer (auto_map, for trust_remote_code) and write the shim."""
    path = os.path.join(save_directory, "tokenizer_config.json")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    config.update(tokenizer_class="NewbpeTokenizer", auto_map=AUTO_MAP)
    from .atomic import write_dir          # both files or neither; the rest of the directory is kept
    write_dir(save_directory, {"tokenizer_config.json": json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                               SHIM_FILE: shim_source()})
