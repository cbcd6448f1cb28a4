"""What the deploy checkers share: reading python-hcl2's output, and the
report every one of them ends with (one line per finding, a count, the exit
status)."""


def unquote(s):
    """python-hcl2 keeps a string literal's quotes (and labels'): drop them."""
    return s[1:-1] if isinstance(s, str) and len(s) >= 2 and s[0] == s[-1] == '"' else s


def dunder(key):
    """python-hcl2's own keys (`__is_block__`, `__comments__`), not HCL's."""
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def is_block(v):
    """A value written `name { ... }` rather than `name = ...`."""
    return isinstance(v, list) and v and all(isinstance(x, dict) and x.get("__is_block__") for x in v)


def labeled(doc, kind):
    """(label, body) of each `kind "label" { ... }` block in a parsed file."""
    for blk in doc.get(kind, []):
        for label, body in blk.items():
            if not dunder(label):
                yield unquote(label), body


def strings(v):
    """Every string in a parsed value: expressions are strings in python-hcl2."""
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            if not dunder(k):
                yield k
                yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


def report(tool, what, errors):
    """Print the findings and a summary line; the exit status to return."""
    for e in errors:
        print(e)
    print("%s: %s, %d findings" % (tool, what, len(errors)))
    return 1 if errors else 0
