// The simulator's module. The default build (sim/build.sh) is GOPATH mode (GO111MODULE=off) on Debian's
// govmomi package and ignores this file; VSR_SIM_MODULE=1 sim/build.sh builds this module offline by
// vendoring the same Debian source (see docs/simulator.md, "Building").
module vsr.dev/sim

go 1.19

require (
	github.com/google/uuid v1.3.0 // indirect
	github.com/vmware/govmomi v0.24.2
)
