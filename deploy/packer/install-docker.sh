#!/usr/bin/env bash
# Packer runs this on the build instance (as root): Docker from Ubuntu's
# archive, started now and at every boot, so a VM from this image only has to
# pull and run the server.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# cloud-init may still be running apt on a fresh instance.
cloud-init status --wait >/dev/null || true

apt-get update -q
apt-get install -y -q docker.io
systemctl enable --now docker
# `just deploy` runs docker over ssh as ubuntu, without sudo.
usermod -aG docker ubuntu
docker version
