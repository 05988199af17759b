package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/klauspost/cpuid/v2"
)

// machineInfo is the machine fingerprint in every report, so that numbers
// from different machines are never compared by mistake.
type machineInfo struct {
	CPU           string `json:"cpu"`            // brand string from CPUID; "unknown" if none
	PhysicalCores int    `json:"physical_cores"` // 0 if undetectable
	LogicalCores  int    `json:"logical_cores"`  // 0 if undetectable
	CacheLine     int    `json:"cache_line_bytes"`
	L1D           int    `json:"l1d_bytes"` // -1 if undetectable
	L2            int    `json:"l2_bytes"`
	L3            int    `json:"l3_bytes"`
	Hypervisor    string `json:"hypervisor"` // "" on bare metal (or when not reported)
	NumCPU        int    `json:"num_cpu"`    // runtime.NumCPU: CPUs this process may use
	GOMAXPROCS    int    `json:"gomaxprocs"`
	GOOS          string `json:"goos"`
	GOARCH        string `json:"goarch"`
	GoVersion     string `json:"go_version"`
	Hostname      string `json:"hostname"`
}

// fingerprint describes this machine. cpuid detects once, at start-up.
func fingerprint() machineInfo {
	c := &cpuid.CPU
	m := machineInfo{
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

func (m *machineInfo) coresText() string {
	p, l := "?", "?"
	if m.PhysicalCores > 0 {
		p = strconv.Itoa(m.PhysicalCores)
	}
	if m.LogicalCores > 0 {
		l = strconv.Itoa(m.LogicalCores)
	}
	s := p + " physical / " + l + " logical cores"
	if m.NumCPU != m.LogicalCores {
		s += " (" + strconv.Itoa(m.NumCPU) + " usable)"
	}
	if m.Hypervisor != "" {
		s += " (" + m.Hypervisor + " guest)"
	}
	return s
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
