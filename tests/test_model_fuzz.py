"""Hypothesis fuzz of model.json: mutate any field of saved models (BPE, Picky, Scaffold) — type
changes, nulls, truncation, out-of-range ints, wrong nesting, extra and missing keys. Loading either
fails with `ModelFileError`, or the model encodes (default encoder and LBPE) to ids in its
vocabulary that decode back to the text whenever the model covers its characters."""
import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import newbpe
from newbpe.errors import ModelFileError, NewbpeError
from newbpe.model import Tokenizer

from conftest import lines_of

SAMPLE = ("First Citizen:\nBefore we proceed any further, hear me speak.\n"
          "All: Speak, speak. caf\u00e9 \udcff 123\n")


@pytest.fixture(scope="module")
def models(shakespeare):
    lines = lines_of(shakespeare)[:4000]
    return {
        "bpe": newbpe.train(lines, "bpe", 300, special_tokens=["<s>"]).to_dict(),
        "picky": newbpe.train(lines, "picky", 120, units="chars", special_tokens=["<unk>"]).to_dict(),
        "scaffold": newbpe.train(lines, "scaffold", 300, pretokenizer="cl100k").to_dict(),
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)

MUTATIONS = ("delete", "null", "random", "int", "truncate", "duplicate", "swap", "wrap", "unwrap",
             "extra_key", "string")


def _children(node):
    if isinstance(node, dict):
        return sorted(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


def mutate(data, d):
    """Apply one mutation at a random path of d (in place)."""
    parent, key = None, None
    node = d
    while _children(node) and (parent is None or data.draw(st.booleans())):
        keys = _children(node)
        k = keys[data.draw(st.integers(0, len(keys) - 1))] if len(keys) < 8 else data.draw(
            st.sampled_from([keys[0], keys[1], keys[-1], keys[len(keys) // 2]]))
        parent, key, node = node, k, node[k]
    how = data.draw(st.sampled_from(MUTATIONS))
    if how == "delete":
        del parent[key]
        return
    if how == "null":
        new = None
    elif how == "random":
        new = data.draw(json_values)
    elif how == "int":
        base = node if isinstance(node, int) and not isinstance(node, bool) else 0
        new = data.draw(st.sampled_from([base + 1, base - 1, -1, -base - 1, 0, 2**31, 2**63, 10**30, 1.5]))
    elif how == "truncate":
        new = node[:data.draw(st.integers(0, max(len(node) - 1, 0)))] if isinstance(node, (list, str)) else node
    elif how == "duplicate":
        new = node + node[-1:] if isinstance(node, list) else node
    elif how == "swap":
        new = node
        if isinstance(node, list) and len(node) >= 2:
            new = list(node)
            i, j = data.draw(st.integers(0, len(new) - 1)), data.draw(st.integers(0, len(new) - 1))
            new[i], new[j] = new[j], new[i]
    elif how == "wrap":
        new = [node]
    elif how == "unwrap":
        new = node[0] if isinstance(node, list) and node else node
    elif how == "extra_key":
        new = node
        if isinstance(node, dict):
            new = {**node, data.draw(st.sampled_from(["x", "events", "demolition", "splinter", "lbpe_ties"])):
                   data.draw(json_values)}
    else:
        new = data.draw(st.sampled_from(["", "gpt5", "regex", "regex:(", "whitespace", "none", "chars", "picky",
                                         "lbpe", "replay", "AAAA", "/w==", "M", "S", "\ud800"]))
    parent[key] = new


def check_model(d):
    try:
        tok = Tokenizer.from_dict(d)
    except ModelFileError as e:
        assert "\n" not in str(e)
        return "rejected"
    for encoder in (None, "lbpe"):
        try:
            ids = tok.encode(SAMPLE, encoder=encoder)
        except NewbpeError as e:                    # e.g. an encoder that does not fit: a clear refusal
            assert type(e) is NewbpeError and "\n" not in str(e)
            continue
        assert all(0 <= i < tok.vocab_size for i in ids)
        back = tok.decode_bytes(ids)
        alphabet = tok.tokens[tok.n_specials:tok.n_specials + tok.n_alphabet]
        covered = (len(alphabet) == 256) if tok.units == "bytes" else \
            set(SAMPLE) <= {t.decode("utf-8", "surrogatepass") for t in alphabet}
        if covered and tok.pretokenizer.lossless and "splinter" not in tok.extra:
            assert back == SAMPLE.encode("utf-8", "surrogateescape"), (encoder, back)
    Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))          # what loads also saves and reloads
    return "loaded"


def test_unmutated_models_round_trip(models):
    for d in models.values():
        assert check_model(copy.deepcopy(d)) == "loaded"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_model_files_load_or_fail_cleanly(models, data):
    d = copy.deepcopy(models[data.draw(st.sampled_from(sorted(models)))])
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(data, d)
    check_model(d)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_fail_cleanly(models, data, tmp_path_factory):
    text = json.dumps(models[data.draw(st.sampled_from(sorted(models)))])
    cut = data.draw(st.integers(0, len(text) - 1))
    path = tmp_path_factory.mktemp("damaged") / "model.json"
    path.write_text(text[:cut] + data.draw(st.sampled_from(["", "}", "]]}", "null", "\"x\"}"])))
    try:
        newbpe.load(path)
    except ModelFileError as e:
        assert "\n" not in str(e)
