#!/bin/sh
# Firewall for SERVER-ONE (web): firewalld stays on; the lab's rules live in
# their own zone, bound to the lab network as its source.
set -eu
systemctl enable --now firewalld
# The zone file was uploaded just before; refuse a configuration firewalld cannot load.
firewall-cmd --check-config
firewall-cmd --reload
firewall-cmd --zone=labctl --list-all
