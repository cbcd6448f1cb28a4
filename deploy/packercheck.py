#!/usr/bin/env python3
"""Check Packer templates' oracle-oci sources against the builder's documented
configuration, offline.

Debian's packer (1.6.6) checks syntax only and has no oracle-oci plugin to ask,
so the argument names are listed here, from the packer-plugin-oracle
documentation (builder/oci Config, with the ssh communicator's options). Also
checked: the required arguments, `var.` references, `build` sources, and that
a provisioner's script exists.

usage: packercheck.py TEMPLATE.pkr.hcl... ; exit status 1 with one line per
finding.
"""

import os
import re
import sys

import hcl2

from checklib import dunder, labeled, report, strings, unquote

# oracle-oci's own arguments (builder/oci Config).
ORACLE_OCI = {
    "use_instance_principals", "skip_create_image", "access_cfg_file", "access_cfg_file_account",
    "user_ocid", "tenancy_ocid", "region", "fingerprint", "key", "key_file", "pass_phrase",
    "use_private_ip", "security_token_file", "availability_domain", "compartment_ocid",
    "base_image_ocid", "image_name", "image_compartment_ocid", "image_launch_mode",
    "nic_attachment_type", "instance_name", "instance_tags", "instance_defined_tags_json",
    "shape", "disk_size", "metadata", "user_data", "user_data_file", "subnet_ocid", "tags",
    "defined_tags_json",
}
# The nested blocks and their arguments.
ORACLE_OCI_BLOCKS = {
    "shape_config": {"ocpus", "memory_in_gbs", "baseline_ocpu_utilization"},
    "base_image_filter": {"compartment_id", "display_name", "display_name_search", "operating_system",
                          "operating_system_version", "shape"},
    "create_vnic_details": {"assign_public_ip", "defined_tags_json", "display_name", "tags", "hostname_label",
                            "nsg_ids", "private_ip", "skip_source_dest_check", "subnet_id"},
}
# The ssh communicator's options a template is likely to set.
COMMUNICATOR = {
    "communicator", "pause_before_connecting", "ssh_host", "ssh_port", "ssh_username", "ssh_password",
    "ssh_keypair_name", "temporary_key_pair_type", "temporary_key_pair_bits", "ssh_ciphers",
    "ssh_clear_authorized_keys", "ssh_private_key_file", "ssh_certificate_file", "ssh_pty", "ssh_timeout",
    "ssh_agent_auth", "ssh_disable_agent_forwarding", "ssh_handshake_attempts", "ssh_bastion_host",
    "ssh_bastion_port", "ssh_bastion_username", "ssh_bastion_private_key_file", "ssh_file_transfer_method",
    "ssh_keep_alive_interval", "ssh_read_write_timeout",
}


def check(path):
    errors = []
    with open(path) as fh:
        doc = hcl2.load(fh)
    where = os.path.relpath(path)
    variables = {}
    for name, body in labeled(doc, "variable"):
        variables[name] = body
        if "description" not in body:
            errors.append("%s: variable %s has no description" % (where, name))
    sources = set()
    for btype, named in labeled(doc, "source"):
        for name, body in labeled({"source": [named]}, "source"):
            sources.add("source.%s.%s" % (btype, name))
            if btype != "oracle-oci":
                errors.append("%s: source %s: only oracle-oci is checked" % (where, btype))
                continue
            errors += check_oracle_oci("%s: source oracle-oci.%s" % (where, name), body)
    for b in doc.get("build", []):
        for s in b.get("sources", []):
            if unquote(s) not in sources:
                errors.append("%s: build uses undeclared %s" % (where, unquote(s)))
        for ptype, body in labeled(b, "provisioner"):
            script = unquote(body.get("script", ""))
            if script:
                file = script.replace("${path.root}", os.path.dirname(path))
                if not os.path.exists(file):
                    errors.append("%s: provisioner %s: no script %s" % (where, ptype, script))
    for s in strings(doc):
        for var in re.findall(r"(?<![\w.])var\.(\w+)", s):
            if var not in variables:
                errors.append("%s: undeclared variable var.%s" % (where, var))
    return errors


def check_oracle_oci(where, body):
    errors = []
    for key, value in body.items():
        if dunder(key):
            continue
        if key in ORACLE_OCI_BLOCKS:
            if not isinstance(value, list):
                errors.append("%s: %s is a block: write `%s { ... }`" % (where, key, key))
                continue
            for inner in value:
                for k in inner:
                    if not dunder(k) and k not in ORACLE_OCI_BLOCKS[key]:
                        errors.append("%s: %s: unknown argument %r" % (where, key, k))
        elif key not in ORACLE_OCI and key not in COMMUNICATOR:
            errors.append("%s: unknown argument %r" % (where, key))
    for key in ("availability_domain", "shape"):
        if key not in body:
            errors.append("%s: %r is required" % (where, key))
    if "base_image_ocid" not in body and "base_image_filter" not in body:
        errors.append("%s: base_image_ocid or base_image_filter is required" % where)
    vnic = (body.get("create_vnic_details") or [{}])[0]
    if "subnet_ocid" not in body and "subnet_id" not in vnic:
        errors.append("%s: subnet_ocid is required" % where)
    shape_config = (body.get("shape_config") or [{}])[0]
    if unquote(body.get("shape", "")).endswith("Flex") and "ocpus" not in shape_config:
        errors.append("%s: a Flex shape needs shape_config { ocpus }" % where)
    return errors


def main():
    errors = []
    for path in sys.argv[1:]:
        errors += check(path)
    return report("packercheck", "%d templates" % (len(sys.argv) - 1), errors)


if __name__ == "__main__":
    sys.exit(main())
