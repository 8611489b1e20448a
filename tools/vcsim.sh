#!/usr/bin/env bash
# Builds vcsim (govmomi's vSphere simulator) and govc from our own two small mains in
# tools/vcsim/ (govmomi pinned in tools/vcsim/go.mod: v0.56.0, the release the Go operator
# uses), through the Go module proxy, into a cache keyed by those sources, and prints the
# directory holding bin/vcsim and bin/govc. Idempotent: a second run prints the cached directory
# at once. The tests and the bench call it on demand (tests/support/vcsim.ts).
#
# Usage: tools/vcsim.sh          (cache: ${XDG_CACHE_HOME:-$HOME/.cache}/image-distribution-operator)
# Needs: Go >= 1.25 on PATH (or GOTOOLCHAIN able to fetch one). Without Go it exits 3 with the
# reason on stderr, and the vSphere tests are reported as ignored with that reason.
# Cost, cold, on 2 busy cores: about 2-4 minutes and ~90 MB of module cache; binaries ~40 MB each.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/vcsim" && pwd)
if ! command -v go >/dev/null 2>&1; then
  echo "vcsim.sh: Go is not installed (needed to build vcsim and govc from govmomi; see README)" >&2
  exit 3
fi
version=$(grep -Eo "github.com/vmware/govmomi v[0-9][0-9.]*" "$here/go.mod" | head -1 | cut -d" " -f2)
key=$(cat "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go | sha256sum | cut -c1-12)
out="${XDG_CACHE_HOME:-$HOME/.cache}/image-distribution-operator/vcsim-$version-$key"
if [ -x "$out/bin/vcsim" ] && [ -x "$out/bin/govc" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
tmp=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$here"
export GOFLAGS=-buildvcs=false CGO_ENABLED=0
go build -trimpath -ldflags='-s -w' -o "$tmp/vcsim" ./cmd/vcsim
go build -trimpath -ldflags='-s -w' -o "$tmp/govc" ./cmd/govc
mkdir -p "$out/bin"
# Rename into place last, so a concurrent or interrupted run never leaves a half binary.
mv "$tmp/vcsim" "$tmp/govc" "$out/bin/"
echo "$out"
