"""Token segmentations for `newbpe show`: for each tokenizer, a function text -> pieces (str; a piece
that is not UTF-8 on its own holds surrogate escapes, which outputs.piece_display shows as hex)."""


def _newbpe_cutter(tok):
    def cut(text):
        return [tok.decode_bytes([i]).decode("utf-8", "surrogateescape") for i in tok.encode(text)]
    return cut


def segmenters(tokenizers, tiktoken_pattern=None):
    """[(label, cut)] for [(path, label or None)]; the label defaults to the path's name."""
    import os
    import newbpe
    out = []
    for path, label in tokenizers:
        out.append((label or os.path.basename(os.path.normpath(str(path))), _newbpe_cutter(newbpe.load(path))))
    return out
