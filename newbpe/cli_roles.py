"""The CLI's special-token role options (`newbpe train --bos/--eos/--pad/--unk TOKEN --add-bos --add-eos`);
the rules live in roles.py."""
import click


def role_options(fn):
    """--bos/--eos/--pad/--unk TOKEN (added to the special tokens if absent) and --add-bos/--add-eos."""
    for role in ("unk", "pad", "eos", "bos"):
        fn = click.option(f"--{role}", f"role_{role}", multiple=True, metavar="TOKEN",
                          help=f"The {role} special token (added to --special-tokens if absent; default: none).")(fn)
    fn = click.option("--add-eos", "add_eos", is_flag=True, help="Template: append the eos token to each sequence.")(fn)
    return click.option("--add-bos", "add_bos", is_flag=True, help="Template: prepend the bos token to each sequence.")(fn)


def roles_from_args(args):
    """(roles, template) from role_options' values; one-line errors (roles.py)."""
    from .roles import check_roles, check_template
    roles = check_roles([(k[5:], v) for k, vs in args.items() if k.startswith("role_") for v in vs])
    return roles, check_template({"add_bos": args["add_bos"], "add_eos": args["add_eos"]}, roles)
