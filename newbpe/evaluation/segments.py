"""Token segmentations for `newbpe show`, through the same adapters as `newbpe eval`
(evaluation/tokenizers.py: newbpe models, HF tokenizer.json, .tiktoken, SentencePiece) and the same
cutting as the report's samples (run.pieces_at_ends: the text cut at each token's end; a character
split across tokens stays one piece, so the pieces always concatenate to the text)."""


def segmenters(tokenizers, tiktoken_pattern=None):
    """[(label, cut)] for [(path, label or None)]: cut(texts) -> [(token count, pieces)] per text.
    Labels default as in run_eval (the file or directory name; repeats numbered)."""
    import numpy as np
    from .run import label_of, pieces_at_ends, unique_labels
    from .tokenizers import load_adapter
    adapters = [load_adapter(path, None, tiktoken_pattern) for path, _ in tokenizers]
    labels = unique_labels([label or label_of(path) for path, label in tokenizers])

    def cutter(adapter):
        def cut(texts):
            offsets = np.zeros(len(texts) + 1, dtype=np.int64)
            np.cumsum([len(t.encode("utf-8", "surrogateescape")) for t in texts], out=offsets[1:])
            enc = adapter.encode(list(texts), offsets)
            out = []
            for k, text in enumerate(texts):
                a, b = int(enc.token_bounds[k]), int(enc.token_bounds[k + 1])
                out.append((b - a, pieces_at_ends(text, enc.ends[a:b] - offsets[k])))
            return out
        return cut
    return [(label, cutter(a)) for label, a in zip(labels, adapters)]
