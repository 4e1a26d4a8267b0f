#!/bin/sh
# Firewall for LOAD-BALANCER (lb): firewalld stays on; the lab's rules live in
# their own zone, bound to the lab network as its source.
set -eu
systemctl enable --now firewalld
# The zone file was uploaded just before; refuse a configuration firewalld cannot load.
firewall-cmd --check-config
# Visitors may come from outside the lab network: http in the default zone too.
if ! firewall-cmd --permanent --query-service=http >/dev/null; then
	firewall-cmd --permanent --add-service=http
fi
firewall-cmd --reload
firewall-cmd --zone=labctl --list-all
