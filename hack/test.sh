#!/usr/bin/env bash
# The project's test command: format, vet, static checks, unit and
# whole-tool tests, a bounded fuzz run, and (when the machine can host it)
# the real-lab suite.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./... ./testdata/fakevbox/ ./testdata/nspawnvbox/ 2>/dev/null || go vet ./...

if command -v staticcheck >/dev/null || [ -x "$(go env GOPATH)/bin/staticcheck" ]; then
	echo "== staticcheck"
	PATH="$PATH:$(go env GOPATH)/bin" staticcheck ./...
fi

echo "== fuzz (bounded)"
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 20s ./lab/

echo "== go test"
go test -count=1 -timeout 30m ./...
