#!/bin/bash
# Real-lab suite: `labctl up` end to end against real MySQL group replication,
# keepalived, nginx, php-fpm and WordPress in systemd-nspawn machines.
#
#   sudo hack/reallab/run.sh                 # everything (backend + labctl end to end)
#   REALLAB_RUN=TestBackend hack/reallab/run.sh
#   REALLAB_RUN=TestClassroomBase hack/reallab/run.sh   # only the classroom flow:
#                                            # base export, a student host, base import, up, verify
#   REALLAB_PHASES=exercises hack/reallab/run.sh   # build the lab, run only the named
#                                              # phases (core, switchover, exercises), take it down;
#                                              # speed = core's speed figures alone, quickly
#   REALLAB_EXERCISES=primary-crash,full-outage    # only these exercises in that phase
# Only one run at a time on a machine (fixed machine and bridge names):
#   flock /var/lock/labctl-reallab.lock hack/reallab/run.sh
#
# Needs root and: systemd-container debootstrap apt-utils gnupg dpkg-dev
# iproute2 util-linux (REALLAB_INSTALL=1 installs them with apt-get).
# Cached artefacts: $REALLAB_CACHE (default /var/cache/labctl-reallab).
# Exit 0 = passed; 1 = failed; 3 = cannot run here (reason printed).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
	echo "real-lab suite NOT RUN: needs root (overlay mounts, network namespaces, systemd-nspawn)" >&2
	exit 3
fi
need=()
for t in systemd-nspawn:systemd-container debootstrap:debootstrap apt-ftparchive:apt-utils gpg:gnupg \
	dpkg-deb:dpkg-dev ip:iproute2 nsenter:util-linux; do
	command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "${REALLAB_INSTALL:-0}" = 1 ]; then
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
	else
		echo "real-lab suite NOT RUN: missing packages ${need[*]} (apt-get install -y ${need[*]}, or REALLAB_INSTALL=1)" >&2
		exit 3
	fi
fi

start=$(date +%s)
# Always clean up, except a failed run under REALLAB_KEEP=1, whose machines
# stay up for inspection (remove them with hack/reallab/clean.sh).
finish() {
	rc=$?
	if [ "${REALLAB_KEEP:-0}" = 1 ] && [ "$rc" != 0 ]; then
		echo "REALLAB_KEEP=1: failed run left in place; clean up with hack/reallab/clean.sh" >&2
	else
		hack/reallab/clean.sh
	fi
	echo "REALLAB run.sh total wall time $(($(date +%s) - start)) s (exit $rc)"
	exit "$rc"
}
trap finish EXIT
hack/reallab/clean.sh
hack/reallab/base.sh
echo "REALLAB base image + repository ready in $(($(date +%s) - start)) s"
LABCTL_REALLAB=1 go test -count=1 -v -timeout "${REALLAB_TIMEOUT:-40m}" -run "${REALLAB_RUN:-.}" ./reallab/
