#!/usr/bin/env python3
"""Build kustomizations the way `kubectl apply -k` would, offline, and check
what comes out.

kubernetes-validate has no schema for a Kustomization, and neither kubectl nor
kustomize runs here. This script does the part of kustomize that deploy/k8s
uses (resources, images, JSON 6902 patches with a target), rejecting anything
else, then checks the built objects:

- each against the Kubernetes schema (`kubernetes-validate --strict`, where a
  WARN, e.g. an unknown apiVersion, is a failure);
- Drift's rules: at least 2 replicas, terminationGracePeriodSeconds longer
  than driftd's --grace (default 10), non-root, read-only root filesystem,
  no capabilities, no privilege escalation, RuntimeDefault seccomp, resource
  requests and limits, readiness and liveness probes; the Service, HPA and
  PodDisruptionBudget select or target the Deployment.

usage: k8scheck.py KUSTOMIZATION_DIR... ; exit status 1 with one line per
finding.
"""

import copy
import os
import subprocess
import sys
import tempfile

import yaml

from checklib import report

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "images", "patches"}
DRIFTD_DEFAULT_GRACE = 10


class Build:
    def __init__(self):
        self.errors = []

    def err(self, msg):
        self.errors.append(msg)

    def kustomize(self, path):
        """The objects `kustomize build path` would print."""
        kfile = os.path.join(path, "kustomization.yaml")
        if not os.path.exists(kfile):
            self.err("%s: no kustomization.yaml" % path)
            return []
        with open(kfile) as fh:
            k = yaml.safe_load(fh)
        for key in k:
            if key not in KUSTOMIZATION_KEYS:
                self.err("%s: %r is not something this check knows kustomize to do" % (kfile, key))
        if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
            self.err("%s: expected apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization" % kfile)
        objs = []
        for r in k.get("resources", []):
            p = os.path.normpath(os.path.join(path, r))
            if os.path.isdir(p):
                objs += self.kustomize(p)
            elif os.path.isfile(p):
                with open(p) as fh:
                    objs += [d for d in yaml.safe_load_all(fh) if d]
            else:
                self.err("%s: resource %r does not exist" % (kfile, r))
        for img in k.get("images", []):
            self.set_image(kfile, objs, img)
        for patch in k.get("patches", []):
            self.patch(kfile, objs, patch)
        return objs

    def set_image(self, kfile, objs, img):
        unknown = set(img) - {"name", "newName", "newTag", "digest"}
        if unknown or "name" not in img:
            self.err("%s: image entry %r: needs name, knows newName, newTag, digest" % (kfile, img))
            return
        hits = 0
        for o in objs:
            for c in containers(o):
                name, _, tag = c.get("image", "").partition(":")
                if name == img["name"]:
                    hits += 1
                    c["image"] = img.get("newName", name) + ":" + str(img.get("newTag", tag))
        if not hits:
            self.err("%s: image %r is used by no container" % (kfile, img["name"]))

    def patch(self, kfile, objs, patch):
        target = patch.get("target", {})
        ops = yaml.safe_load(patch.get("patch", "")) or []
        if set(patch) - {"target", "patch"} or set(target) - {"kind", "name"} or not isinstance(ops, list):
            self.err("%s: only JSON 6902 patches with a kind/name target are checked" % kfile)
            return
        hit = [o for o in objs if all(field(o, k) == v for k, v in target.items())]
        if not hit:
            self.err("%s: patch target %r matches nothing" % (kfile, target))
        for o in hit:
            for op in ops:
                if not apply_op(o, op):
                    self.err("%s: patch %s %s: no such path in %s/%s"
                             % (kfile, op.get("op"), op.get("path"), o["kind"], o["metadata"]["name"]))


def field(o, key):
    """A patch target's key: kind, or the name in metadata."""
    return o.get("kind") if key == "kind" else o.get("metadata", {}).get(key)


def containers(o):
    return o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])


def apply_op(doc, op):
    """One JSON patch (RFC 6902) add, remove or replace; False if the path is not there."""
    keys = [p.replace("~1", "/").replace("~0", "~") for p in op.get("path", "").split("/")[1:]]
    if op.get("op") not in ("add", "remove", "replace") or not keys:
        return False
    node = doc
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.get(key)
        if node is None:
            return False
    last = int(keys[-1]) if isinstance(node, list) and keys[-1] != "-" else keys[-1]
    present = (0 <= last < len(node)) if isinstance(node, list) and last != "-" else (last in node)
    if op["op"] == "remove":
        if not present:
            return False
        del node[last]
    elif op["op"] == "replace" and not present:
        return False
    elif isinstance(node, list):
        node.insert(len(node) if last == "-" else last, op["value"])
    else:
        node[last] = op["value"]
    return True


def grace_of(args):
    args = list(args or [])
    return int(args[args.index("--grace") + 1]) if "--grace" in args else DRIFTD_DEFAULT_GRACE


def policy(where, objs):
    errs = []
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.get("kind"), []).append(o)
    deps = by_kind.get("Deployment", [])
    if len(deps) != 1:
        return ["%s: expected one Deployment, found %d" % (where, len(deps))]
    d = deps[0]
    name, spec = d["metadata"]["name"], d["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"].get("labels", {})
    w = "%s: Deployment %s" % (where, name)
    if spec.get("replicas", 1) < 2:
        errs.append("%s: fewer than 2 replicas" % w)
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot") or not psc.get("runAsUser"):
        errs.append("%s: pod must set runAsNonRoot and a numeric runAsUser" % w)
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        errs.append("%s: seccompProfile must be RuntimeDefault" % w)
    for c in pod["containers"]:
        cw = "%s container %s" % (w, c["name"])
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            errs.append("%s: allowPrivilegeEscalation must be false" % cw)
        if sc.get("readOnlyRootFilesystem") is not True:
            errs.append("%s: readOnlyRootFilesystem must be true" % cw)
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            errs.append("%s: capabilities must drop ALL" % cw)
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    errs.append("%s: no %s %s" % (cw, r, kind))
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c:
                errs.append("%s: no %s" % (cw, probe))
        grace = grace_of(c.get("args"))
        if pod.get("terminationGracePeriodSeconds", 30) <= grace:
            errs.append("%s: terminationGracePeriodSeconds %s is not longer than --grace %d"
                        % (cw, pod.get("terminationGracePeriodSeconds", 30), grace))
    if spec["selector"].get("matchLabels", {}).items() - labels.items():
        errs.append("%s: selector does not match the pod labels" % w)

    def selects(sel, what):
        if not sel or sel.items() - labels.items():
            errs.append("%s: %s does not select the Deployment's pods" % (where, what))

    for s in by_kind.get("Service", []):
        selects(s["spec"].get("selector"), "Service " + s["metadata"]["name"])
    for p in by_kind.get("PodDisruptionBudget", []):
        selects(p["spec"]["selector"].get("matchLabels"), "PodDisruptionBudget " + p["metadata"]["name"])
        if p["spec"].get("minAvailable", 0) >= spec.get("replicas", 1):
            errs.append("%s: the PodDisruptionBudget would block every eviction" % where)
    for h in by_kind.get("HorizontalPodAutoscaler", []):
        ref = h["spec"]["scaleTargetRef"]
        if (ref.get("kind"), ref.get("name")) != ("Deployment", name):
            errs.append("%s: HPA %s scales %s/%s, not the Deployment" % (where, h["metadata"]["name"], ref.get("kind"), ref.get("name")))
        if h["spec"].get("minReplicas", 1) < 2:
            errs.append("%s: HPA minReplicas below 2" % where)
    for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if kind not in by_kind:
            errs.append("%s: no %s" % (where, kind))
    return errs


def validate(where, objs, validator):
    """kubernetes-validate --strict on each built object; a WARN fails too."""
    errs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, o in enumerate(objs):
            f = os.path.join(tmp, "%02d-%s.yaml" % (i, o.get("kind", "unknown").lower()))
            with open(f, "w") as fh:
                yaml.safe_dump(o, fh)
            r = subprocess.run([validator, "--strict", f], capture_output=True, text=True)
            out = (r.stdout + r.stderr).strip()
            if r.returncode != 0 or "WARN" in out or "ERROR" in out:
                errs.append("%s: built %s/%s: %s" % (where, o.get("kind"), o.get("metadata", {}).get("name"), out))
    return errs


def main():
    validator = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
    errors = []
    for path in sys.argv[1:]:
        b = Build()
        objs = b.kustomize(path)
        errors += b.errors
        errors += policy(path, copy.deepcopy(objs))
        errors += validate(path, objs, validator)
    return report("k8scheck", "%d kustomizations" % (len(sys.argv) - 1), errors)


if __name__ == "__main__":
    sys.exit(main())
