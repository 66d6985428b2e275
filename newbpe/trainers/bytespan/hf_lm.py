"""A `ByteLM` over any HF causal byte-level LM (specs bytespan.md §3.2, §3.4): the optional extra
``newbpe[lm]`` (torch + transformers, imported only here).

The model's tokenizer must give every byte value its own token (the reference's "byte tokenizer": HF
BPE with zero merges and a ByteLevel pre-tokenizer; PAD, EOS, then the 256 symbols). Extraction as
the reference does it: the documents are concatenated, each followed by EOS (and the stream starts
with EOS, so the first byte has a prediction too), and scored with a sliding window of `window`
tokens moved by `stride`, keeping only the predictions of the positions no earlier window scored
(the last `stride` of each window after the first); signals are split back per document. Entropy
sums over the model's whole output vocabulary; natural logarithms.
"""
import numpy as np

from ...errors import NewbpeError
from ...units import bytes_to_token_string


def _require():
    try:
        import torch
        import transformers
    except ImportError:
        raise NewbpeError("an HF byte LM needs torch and transformers: pip install 'newbpe[lm]'") from None
    return torch, transformers


class HFByteLM:
    """signals(document) / signals_batch(documents) from an HF causal LM directory (model and its
    byte tokenizer), or from a `model` and `byte_ids` (int[256] token id of every byte) and `eos_id`."""

    def __init__(self, path=None, *, model=None, byte_ids=None, eos_id=None, window=2048, stride=512,
                 device=None):
        torch, transformers = _require()
        if not (isinstance(window, int) and isinstance(stride, int) and 1 <= stride < window):
            raise NewbpeError(f"lm_window and lm_stride must be integers with 1 <= stride < window, "
                              f"got {window} and {stride}")
        self.torch, self.window, self.stride = torch, window, stride
        if model is None:
            try:
                tok = transformers.AutoTokenizer.from_pretrained(path)
                model = transformers.AutoModelForCausalLM.from_pretrained(path)
            except (OSError, ValueError) as e:
                raise NewbpeError(f"lm {path}: cannot load an HF causal LM and its tokenizer ({e})".split("\n")[0]) \
                    from None
            byte_ids = [tok.convert_tokens_to_ids(bytes_to_token_string(bytes([b]))) for b in range(256)]
            eos_id = tok.eos_token_id
            if any(i is None or i == tok.unk_token_id for i in byte_ids) or eos_id is None:
                raise NewbpeError(f"lm {path}: its tokenizer has no token for every byte (or no EOS): "
                                  "not a byte-level LM")
        self.model = model.eval()
        if device is not None:
            self.model.to(device)
        self.device = next(self.model.parameters()).device
        self.byte_ids = np.asarray(byte_ids, dtype=np.int64)
        self.eos_id = int(eos_id)

    def signals(self, document):
        return self.signals_batch([document])[0]

    def signals_batch(self, documents):
        docs = [bytes(d) for d in documents]
        pieces, where = [np.array([self.eos_id], np.int64)], []
        pos = 1
        for d in docs:
            ids = self.byte_ids[np.frombuffer(d, dtype=np.uint8)]
            pieces += [ids, np.array([self.eos_id], np.int64)]
            where.append(pos)
            pos += len(d) + 1
        stream = np.concatenate(pieces)
        ent, sur = self._score(stream)
        return [(ent[w:w + len(d)].copy(), sur[w:w + len(d)].copy()) for w, d in zip(where, docs)]

    def _score(self, stream):
        """Entropy and surprisal of every token of `stream` but the first (index t: predicted at t-1)."""
        torch = self.torch
        n = len(stream)
        ent = np.zeros(n, np.float64)
        sur = np.zeros(n, np.float64)
        done = 1                                             # targets below `done` are scored
        begin = 0
        with torch.no_grad():
            while done < n:
                end = min(begin + self.window, n)
                x = torch.as_tensor(stream[begin:end], device=self.device)[None]
                logp = torch.log_softmax(self.model(x).logits[0].double(), dim=-1)
                t = np.arange(done, end)                     # targets scored by this window
                rows = logp[t - 1 - begin]
                ent[t] = (-(rows.exp() * rows).sum(-1)).cpu().numpy()
                sur[t] = (-rows[torch.arange(len(t)), torch.as_tensor(stream[t], device=self.device)]).cpu().numpy()
                done = end
                begin += self.stride
        return ent, sur
