#!/bin/sh
# Build the vsr vCenter simulator: sim/build.sh OUTPUT  (default build/vsr-sim)
# Needs only Debian's golang-go and golang-github-vmware-govmomi-dev (GOPATH mode, no module proxy).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/build/vsr-sim}
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
mkdir -p "$(dirname "$out")"

# Quick path: nothing newer than the binary.
if [ -x "$out" ] && [ -z "$(find "$here" -newer "$out" \( -name '*.go' -o -name build.sh \) 2>/dev/null | head -n 1)" ]; then
  exit 0
fi

GOVMOMI=/usr/share/gocode/src/github.com/vmware/govmomi
if ! command -v go >/dev/null 2>&1 || [ ! -d "$GOVMOMI/simulator" ]; then
  echo "sim/build.sh: needs Debian packages golang-go and golang-github-vmware-govmomi-dev" >&2
  exit 1
fi

export GO111MODULE=off
export GOPATH="/usr/share/gocode"
export GOCACHE="${VSR_GOCACHE:-$root/build/gocache}"
export GOFLAGS=""
export CGO_ENABLED=0
cd "$here"
go build -trimpath -o "$out.tmp.$$" . && mv -f "$out.tmp.$$" "$out"
