#!/bin/bash
# Removes what a killed real-lab run may have left on this host: machines of
# the nspawnvbox backend (by their cgroups), their overlay mounts, network
# namespaces and veths, NAT networks' bridges (nvn*) and forwarders (in the
# backend's cgroups), and the suite's bridge. Touches nothing else.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "clean.sh: must run as root" >&2; exit 1; }

for root in /sys/fs/cgroup/unified/nspawnvbox /sys/fs/cgroup/nspawnvbox; do
	[ -d "$root" ] || continue
	for cg in "$root"/*/; do
		[ -d "$cg" ] || continue
		echo 0 >"$cg/cgroup.freeze" 2>/dev/null
		echo 1 >"$cg/cgroup.kill" 2>/dev/null
	done
	sleep 1
	find "$root" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null
done
# Overlay roots of the backend live under <NSPAWNVBOX_HOME>/vms/<uuid>/root.
awk '$3 == "overlay" && $2 ~ /\/vms\/[0-9a-f-]+\/root$/ { print $2 }' /proc/mounts | while read -r m; do
	umount "$m" 2>/dev/null || umount -l "$m"
done
for ns in /run/netns/nvb-*; do
	[ -e "$ns" ] && ip netns del "${ns##*/}"
done
ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^nv[bn][0-9a-f]{8}$' | while read -r l; do
	ip link del "$l"
done
if ip link show lcbr0 >/dev/null 2>&1; then ip link del lcbr0; fi
exit 0
