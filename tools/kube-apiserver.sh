#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd for the tests (the way envtest gets its binaries, but from
# Go modules: the Go module proxy is the only source), caches them per version and prints their
# paths:
#
#   etcd=/root/.cache/image-distribution-operator/etcd/v3.6.16/etcd
#   kube-apiserver=/root/.cache/image-distribution-operator/kube-apiserver/v1.36.3/kube-apiserver
#
# Idempotent: a binary already in the cache is not rebuilt. Safe to run concurrently (one build at
# a time under a lock; the binary is moved into place only when complete).
#
# Why these versions: k8s.io/kubernetes v1.36.3 is the newest release whose go.mod (go 1.26.0)
# builds with this machine's Go 1.26.8 without a toolchain download; it was built against etcd
# client v3.6.x, so etcd comes from go.etcd.io/etcd/server/v3 v3.6.16 (newest 3.6 patch).
# Override with K8S_VERSION / ETCD_VERSION.
#
# k8s.io/kubernetes cannot be built as a dependency as published: its go.mod replaces every staging
# module (k8s.io/api, k8s.io/apiserver, …) by ./staging/src/…, which Go ignores outside the main
# module. A throwaway main module requires it and replaces each staging module by its published
# twin (k8s.io/api v0.36.3 for kubernetes v1.36.3). The list is read from kubernetes' own go.mod.
#
# Usage: tools/kube-apiserver.sh [--quiet]   (--quiet: only the two path lines, no build log)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
quiet=false
[ "${1-}" = "--quiet" ] && quiet=true

log() { $quiet || echo "kube-apiserver.sh: $*" >&2; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/image-distribution-operator"
etcd_bin="$cache/etcd/$ETCD_VERSION/etcd"
apiserver_bin="$cache/kube-apiserver/$K8S_VERSION/kube-apiserver"

print_paths() {
  echo "etcd=$etcd_bin"
  echo "kube-apiserver=$apiserver_bin"
}

# Cached binaries need no Go.
if [ -x "$etcd_bin" ] && [ -x "$apiserver_bin" ]; then
  print_paths
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  # Exit status 3 tells the tests to report themselves ignored with this reason.
  echo "kube-apiserver.sh: no Go toolchain on PATH (needed to build kube-apiserver and etcd)" >&2
  exit 3
fi
mkdir -p "$cache"

# The machine's Go builds it or nothing does: no silent toolchain download.
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=mod"
export CGO_ENABLED=0

# build <output> <module dir setup function> <package> <ldflags>
build() {
  local out="$1" setup="$2" pkg="$3" ldflags="$4"
  local work
  work="$(mktemp -d "$cache/build.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  (cd "$work" && "$setup")
  log "building $pkg (go build, cached modules under $(go env GOMODCACHE))"
  (cd "$work" && go build -trimpath -ldflags "-s -w $ldflags" -o "$work/out" "$pkg")
  mkdir -p "$(dirname "$out")"
  mv -f "$work/out" "$out"
}

setup_etcd() {
  go mod init build.local/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 ||
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
}

setup_apiserver() {
  local minor gomod
  minor="v0.${K8S_VERSION#v1.}"
  go mod init build.local/kube-apiserver >/dev/null 2>&1
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  # `k8s.io/x => ./staging/src/k8s.io/x` becomes `k8s.io/x => k8s.io/x v0.36.3`.
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*$#\1#p' "$gomod" |
    while read -r m; do echo "replace $m => $m $minor"; done >>go.mod
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >/dev/null 2>&1 ||
    go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION"
}

exec 9>"$cache/.build.lock"
flock 9

if [ ! -x "$etcd_bin" ]; then
  log "etcd $ETCD_VERSION not cached; building (a few minutes cold)"
  build "$etcd_bin" setup_etcd go.etcd.io/etcd/server/v3 \
    ""
fi
if [ ! -x "$apiserver_bin" ]; then
  log "kube-apiserver $K8S_VERSION not cached; building (several minutes cold)"
  major_minor="${K8S_VERSION#v}"
  major="${major_minor%%.*}"
  minor="${major_minor#*.}"
  minor="${minor%%.*}"
  vpkg=k8s.io/component-base/version
  build "$apiserver_bin" setup_apiserver k8s.io/kubernetes/cmd/kube-apiserver \
    "-X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
fi

print_paths
