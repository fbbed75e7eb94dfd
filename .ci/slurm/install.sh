#!/usr/bin/env bash
# Install Debian's SLURM (slurmctld, slurmd, client tools) and munge for the
# single-node test cluster of tests/workflow/test_slurm.py. Idempotent: returns at once
# when everything is installed. Runs as root (or through sudo).
set -euo pipefail

needed=(munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel)
have_all() {
    for bin in "${needed[@]}"; do command -v "$bin" >/dev/null 2>&1 || return 1; done
}
if have_all; then
    echo "slurm-wlm and munge already installed"
    exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own daemons: keep the packages' services from starting
# (policy-rc.d), unless the machine already has a policy of its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
have_all || { echo "slurm-wlm/munge installed but some of ${needed[*]} are missing" >&2; exit 1; }
dpkg-query -W -f='installed ${Package} ${Version}\n' slurm-wlm munge
