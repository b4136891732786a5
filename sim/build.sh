#!/bin/sh
# Build the vsr vCenter simulator: sim/build.sh OUTPUT  (default build/vsr-sim); sim/build.sh --test runs go vet
# and the simulator's Go tests instead.
# Needs only Debian's golang-go and golang-github-vmware-govmomi-dev: GOPATH mode (GO111MODULE=off, sim/go.mod
# is ignored), no module proxy. VSR_SIM_MODULE=1 builds the module vsr.dev/sim instead, offline as well: a
# copy of sim/ under build/modsrc whose vendor/ links to the same Debian source (-mod=vendor, GOPROXY=off).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mode=build
if [ "${1:-}" = --test ]; then mode=test; shift; fi
out=${1:-$root/build/vsr-sim}
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
mkdir -p "$(dirname "$out")"

# Quick path: nothing newer than the binary.
if [ "$mode" = build ] && [ -x "$out" ] && [ -z "$(find "$here" -newer "$out" \( -name '*.go' -o -name build.sh -o -name go.mod \) 2>/dev/null | head -n 1)" ]; then
  exit 0
fi

SRC=/usr/share/gocode/src
GOVMOMI=$SRC/github.com/vmware/govmomi
if ! command -v go >/dev/null 2>&1 || [ ! -d "$GOVMOMI/simulator" ]; then
  echo "sim/build.sh: needs Debian packages golang-go and golang-github-vmware-govmomi-dev" >&2
  exit 1
fi

export GOCACHE="${VSR_GOCACHE:-$root/build/gocache}"
export CGO_ENABLED=0
export GOFLAGS=""
export GOTOOLCHAIN=local # Go >= 1.21 would otherwise try to download the toolchain go.mod names

if [ "$mode" = test ]; then
  export GO111MODULE=off
  export GOPATH="/usr/share/gocode"
  cd "$here"
  go vet . && go test .
  exit $?
fi

if [ "${VSR_SIM_MODULE:-}" != 1 ]; then
  export GO111MODULE=off
  export GOPATH="/usr/share/gocode"
  cd "$here"
  go build -trimpath -o "$out.tmp.$$" . && mv -f "$out.tmp.$$" "$out"
  exit 0
fi

# Module mode, offline. A `replace` to the Debian directory alone is not enough: govmomi 0.24.2's go.mod
# requires modules Debian does not ship (go-xdr, kr/pretty, vmw-guestinfo), whose go.mod files the module
# graph needs. Vendor mode reads no dependency go.mod; vendor/modules.txt lists the packages actually built.
mod="$root/build/modsrc"
rm -rf "$mod"
mkdir -p "$mod/vendor/github.com/vmware" "$mod/vendor/github.com/google"
cp "$here"/*.go "$here/go.mod" "$mod/"
ln -s "$GOVMOMI" "$mod/vendor/github.com/vmware/govmomi"
ln -s "$SRC/github.com/google/uuid" "$mod/vendor/github.com/google/uuid"
pkgs=$(cd "$here" && GO111MODULE=off GOPATH=/usr/share/gocode go list -deps . | grep '^github\.com/vmware/govmomi' | sort)
{
  echo "# github.com/google/uuid v1.3.0"
  echo "## explicit"
  echo "github.com/google/uuid"
  echo "# github.com/vmware/govmomi v0.24.2"
  echo "## explicit; go 1.13"
  echo "$pkgs"
} >"$mod/vendor/modules.txt"
export GO111MODULE=on GOFLAGS=-mod=vendor GOPROXY=off GOWORK=off GOSUMDB=off
cd "$mod"
go build -trimpath -o "$out.tmp.$$" . && mv -f "$out.tmp.$$" "$out"
