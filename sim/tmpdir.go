package main

import (
	"os"
	"syscall"
)

// The library's datastores are temporary directories holding a few small files per VM (.vmx, .nvram,
// disk descriptors, vmware.log). Creating them is a large part of building a big inventory, so they go to
// /dev/shm when it is writable and has room; a container's default 64 MiB /dev/shm would not hold 40,000 VMs.

// shmBytesPerVM is what one VM's files take on tmpfs (measured ≈ 4 KiB, with a margin); shmInodesPerVM the
// files and directory per VM.
const (
	shmBytesPerVM  = 16 << 10
	shmInodesPerVM = 8
)

// useShmForDatastores points TMPDIR at /dev/shm when TMPDIR is unset and /dev/shm is a writable directory
// with room for vms VMs' files.
func useShmForDatastores(vms int) {
	if os.Getenv("TMPDIR") != "" {
		return
	}
	const dir = "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() || syscall.Access(dir, 2) != nil {
		return
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return
	}
	need := uint64(vms)*shmBytesPerVM + 1<<20
	if fs.Bavail*uint64(fs.Bsize) < need || (fs.Files > 0 && fs.Ffree < uint64(vms)*shmInodesPerVM+64) {
		return
	}
	_ = os.Setenv("TMPDIR", dir)
}

// vmCount is the number of VMs buildModel creates for cfg.
func vmCount(cfg *config) int {
	if cfg.esx {
		return cfg.vmPerHost
	}
	return cfg.dc * (cfg.cluster*cfg.host + cfg.standalone) * cfg.vmPerHost
}
