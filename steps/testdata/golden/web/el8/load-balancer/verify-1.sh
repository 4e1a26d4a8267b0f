#!/bin/sh
# Read-only: WordPress through the load balancer, as a visitor sees it, then
# 4 more requests to see which web nodes answer. Those go at
# once (each prints one short line, written whole): one page's time, not
# 4 pages' one after another.
set -u
url='http://192.168.1.120'
echo '@@ page'
curl -sS --max-time 10 -o - -w '\n@@ status\n%{http_code}\n' "$url/" 2>&1 || true
echo '@@ upstreams'
i=0
while [ "$i" -lt 4 ]; do
	curl -sS --max-time 5 -o /dev/null -D - "$url/" 2>/dev/null | tr -d '\r' | sed -n 's/^[Xx]-[Uu]pstream: *//p' &
	i=$((i + 1))
done
wait
