#!/usr/bin/env bash
# Install Debian's SLURM (controller + node daemon + client tools) and munge,
# for the single-node cluster that tests/test_slurm.py starts. Idempotent:
# returns at once when everything is already there. Needs root (or sudo).
set -euo pipefail

needed=(slurmctld slurmd sbatch sinfo munged mungekey)
missing=0
for bin in "${needed[@]}"; do
    command -v "$bin" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 0 ]; then
    echo "slurm-wlm and munge already installed"
    exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian's packages start their services at install time where systemd runs;
# the tests start their own daemons, so keep the system ones from starting.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
echo "installed: $(sbatch --version), munge $(munged --version 2>&1 | head -1)"
