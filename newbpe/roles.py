"""Special-token roles (bos, eos, pad, unk) and the optional template that adds BOS/EOS.

A role names one of the model's special tokens: `roles={"eos": "<|endoftext|>", "pad": "<pad>"}`.
At training (`newbpe.train(..., roles=...)`, `newbpe train --eos TOKEN`) a role token that is not yet
a special token is added to the specials (after the ones given); on a trained model
(`tok.set_roles`) it must already be one, since adding a special token would shift every id.
The template (`add_bos`, `add_eos`) puts the bos token before and the eos token after each
sequence: newbpe's `encode(..., add_special_tokens=True)` applies it, the HF export writes it as a
`TemplateProcessing` post-processor and both go to tokenizer_config.json / special_tokens_map.json.

model.json stores them as `"roles": {"eos": "<|endoftext|>"}` and `"template": {"add_bos": false,
"add_eos": true}`, each only when set (files without them load as before). Every problem is a
one-line NewbpeError.
"""
from .errors import NewbpeError

ROLES = ("bos", "eos", "pad", "unk")
TEMPLATE_KEYS = ("add_bos", "add_eos")


def check_roles(roles):
    """`roles` as a dict {role: token}: a dict or (role, token) pairs; a role given twice with
    different tokens, an unknown role or an empty token is an error; None values are dropped."""
    if roles is None:
        return {}
    items = roles.items() if isinstance(roles, dict) else roles
    out = {}
    try:
        items = list(items)
    except TypeError:
        raise NewbpeError(f"roles must be a dict {{role: token}}, got {type(roles).__name__}") from None
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise NewbpeError(f"roles must be a dict {{role: token}}, got an entry {str(item)[:60]!r}")
        role, token = item
        if token is None:
            continue
        if role not in ROLES:
            raise NewbpeError(f"unknown special-token role {str(role)[:40]!r} (roles: {', '.join(ROLES)})")
        if not isinstance(token, str) or not token:
            raise NewbpeError(f"the {role} token must be a non-empty string, got {str(token)[:40]!r}")
        if role in out and out[role] != token:
            raise NewbpeError(f"role {role} given twice with different tokens: {out[role]!r} and {token!r}")
        out[role] = token
    return out


def check_template(template, roles):
    """{"add_bos": bool, "add_eos": bool} (only the True ones kept); adding a token needs its role."""
    template = dict(template or {})
    unknown = set(template) - set(TEMPLATE_KEYS)
    if unknown:
        raise NewbpeError(f"unknown template key(s) {', '.join(sorted(map(str, unknown)))} (use add_bos, add_eos)")
    out = {}
    for key, value in template.items():
        if not isinstance(value, bool):
            raise NewbpeError(f"template {key} must be true or false, got {str(value)[:40]!r}")
        if value:
            role = key[4:]
            if role not in roles:
                raise NewbpeError(f"{key} needs a {role} token (roles={{'{role}': TOKEN}} / --{role} TOKEN)")
            out[key] = True
    return out


def specials_with_roles(special_tokens, roles):
    """The special tokens of a model trained with `roles`: the given ones, then each role token that
    is not among them (in role order, once)."""
    out = list(special_tokens)
    for role in ROLES:
        token = roles.get(role)
        if token is not None and token not in out:
            out.append(token)
    return out


def validate_roles(tok, roles, template, source=None):
    """Check roles and template against a model (its special tokens); returns them normalised."""
    where = f"{source}: " if source else ""
    try:
        roles = check_roles(roles)
        template = check_template(template, roles)
    except NewbpeError as e:
        raise NewbpeError(where + str(e)) from None
    for role, token in roles.items():
        if token not in tok.special_tokens:
            raise NewbpeError(f"{where}the {role} token {token!r} is not a special token of this model "
                              "(give it at training: special_tokens= / --special-tokens, or roles= / "
                              f"--{role}, which adds it)")
    unk = tok.unk_token
    if unk is not None and roles.get("unk", unk) != unk:
        raise NewbpeError(f"{where}the unk role ({roles['unk']!r}) differs from the token this model emits "
                          f"for unknown characters ({unk!r})")
    return roles, template


def role_token(tok, role):
    """The token of `role`, or None (unk falls back to the char-level encoder's unknown token)."""
    token = tok.roles.get(role)
    if token is None and role == "unk":
        token = tok.unk_token
    return token


def role_id(tok, role):
    token = role_token(tok, role)
    return None if token is None else int(tok.vocabulary.to_model[tok.special_tokens.index(token)])


def template_ids(tok, add_special_tokens):
    """(prefix ids, suffix ids) the template adds to each sequence."""
    if not add_special_tokens or not tok.template:
        return [], []
    return ([role_id(tok, "bos")] if tok.template.get("add_bos") else [],
            [role_id(tok, "eos")] if tok.template.get("add_eos") else [])


def hf_special_map(tok):
    """special_tokens_map.json content: the roles (bos_token, ...) and every special token."""
    out = {}
    for role in ROLES:
        token = role_token(tok, role)
        if token is not None:
            out[f"{role}_token"] = token
    out["additional_special_tokens"] = list(tok.special_tokens)
    return out


def hf_config_entries(tok):
    """Extra tokenizer_config.json entries: the roles and add_bos_token / add_eos_token."""
    out = {k: v for k, v in hf_special_map(tok).items() if k != "additional_special_tokens"}
    if tok.template:
        out["add_bos_token"] = bool(tok.template.get("add_bos"))
        out["add_eos_token"] = bool(tok.template.get("add_eos"))
    return out


def hf_post_processor(tok, post):
    """The tokenizer.json post_processor: `post` (ByteLevel's or None) followed by a
    TemplateProcessing that adds the template's tokens (single and pair sequences)."""
    if not tok.template:
        return post
    pre, suf = [], []
    specials = {}
    for key, role, side in (("add_bos", "bos", pre), ("add_eos", "eos", suf)):
        if tok.template.get(key):
            token = role_token(tok, role)
            side.append({"SpecialToken": {"id": token, "type_id": 0}})
            specials[token] = {"id": token, "ids": [role_id(tok, role)], "tokens": [token]}

    def seq(name, type_id):
        return [{"SpecialToken": dict(s["SpecialToken"], type_id=type_id)} for s in pre] \
            + [{"Sequence": {"id": name, "type_id": type_id}}] \
            + [{"SpecialToken": dict(s["SpecialToken"], type_id=type_id)} for s in suf]
    template = {"type": "TemplateProcessing", "single": seq("A", 0), "pair": seq("A", 0) + seq("B", 1),
                "special_tokens": specials}
    return template if post is None else {"type": "Sequence", "processors": [post, template]}
