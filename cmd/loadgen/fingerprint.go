package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/klauspost/cpuid/v2"

	"github.com/fastpub/fastpub/loadreport"
)

// fingerprint describes this machine. cpuid detects once, at start-up.
func fingerprint() loadreport.Machine {
	c := &cpuid.CPU
	m := loadreport.Machine{
		CPU:           c.BrandName,
		PhysicalCores: c.PhysicalCores,
		LogicalCores:  c.LogicalCores,
		CacheLine:     c.CacheLine,
		L1D:           c.Cache.L1D,
		L2:            c.Cache.L2,
		L3:            c.Cache.L3,
		NumCPU:        runtime.NumCPU(),
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		GOOS:          runtime.GOOS,
		GOARCH:        runtime.GOARCH,
		GoVersion:     runtime.Version(),
	}
	if c.HypervisorVendorID != cpuid.VendorUnknown {
		m.Hypervisor = c.HypervisorVendorID.String()
	} else if c.HypervisorVendorString != "" {
		m.Hypervisor = c.HypervisorVendorString
	}
	if m.CPU == "" {
		m.CPU = "unknown CPU"
	}
	m.Hostname, _ = os.Hostname()
	return m
}

// peakRSS returns the process's peak resident set size in bytes: VmHWM from
// /proc/self/status on Linux, else getrusage's maxrss; 0 when neither works.
func peakRSS() uint64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := sc.Bytes()
			if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
				f := bytes.Fields(rest)
				if len(f) >= 1 {
					if kb, err := strconv.ParseUint(string(f[0]), 10, 64); err == nil {
						return kb << 10
					}
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil && ru.Maxrss > 0 {
		if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
			return uint64(ru.Maxrss) // bytes there
		}
		return uint64(ru.Maxrss) << 10 // KiB on Linux and the BSDs
	}
	return 0
}
