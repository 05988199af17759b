package filestore

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// System calls the store makes through variables, so that tests can inject
// faults (a full disk where a small tmpfs cannot be mounted).
var (
	// fallocate reserves [off, off+n) of fd's file: after it, writing a
	// page of the mapping cannot fail for want of space (SIGBUS).
	fallocate = func(fd int, off, n int64) error { return unix.Fallocate(fd, 0, off, n) }
)

// sysErr wraps a system error the os.NewSyscallError way, so that
// errors.Is(err, syscall.ENOSPC) matches through it.
func sysErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(name, err)
}

func mmap(f *os.File, size int, write bool) ([]byte, error) {
	prot := unix.PROT_READ
	if write {
		prot |= unix.PROT_WRITE
	}
	flags := unix.MAP_SHARED
	b, err := unix.Mmap(int(f.Fd()), 0, size, prot, flags)
	return b, sysErr("mmap", err)
}

func munmap(b []byte) error {
	if b == nil {
		return nil
	}
	return sysErr("munmap", unix.Munmap(b))
}

// msync flushes m[from:to) (offsets in the mapping) to disk, rounding from
// down to a page.
func msync(m []byte, from, to uint64) error {
	if to <= from {
		return nil
	}
	from &^= uint64(pageSize - 1)
	return sysErr("msync", unix.Msync(m[from:to], unix.MS_SYNC))
}

var pageSize = os.Getpagesize()

func fdatasync(f *os.File) error { return sysErr("fdatasync", unix.Fdatasync(int(f.Fd()))) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return sysErr("fsync", unix.Fsync(int(d.Fd())))
}

func flock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// prefault maps b's pages writable ahead of the producers, so that their
// first write to a page does not fault (MADV_POPULATE_WRITE, Linux 5.14).
// It reports false where the kernel does not have it.
func prefault(b []byte) bool {
	return unix.Madvise(b, unix.MADV_POPULATE_WRITE) != unix.EINVAL
}

// dataExtents lists the stretches of f's [from, to) that are not holes,
// relative to from (SEEK_DATA and SEEK_HOLE). A file system that cannot
// tell says all of it: holes only ever make the scan skip zeros.
func dataExtents(f *os.File, from, to int64) []extent {
	fd := int(f.Fd())
	var out []extent
	for off := from; off < to; {
		d, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO || (err == nil && d >= to) {
			break
		}
		if err != nil {
			return []extent{{0, uint64(to - from)}}
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		if err != nil || h > to {
			h = to
		}
		out = append(out, extent{uint64(max(d, from) - from), uint64(h - from)})
		off = h
	}
	return out
}

// zeroRange makes [off, off+n) of fd read as zeros and stay allocated:
// FALLOC_FL_ZERO_RANGE, or where the file system lacks it (tmpfs) a punched
// hole allocated again.
func zeroRange(fd int, off, n int64) error {
	err := unix.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err != unix.EOPNOTSUPP && err != unix.EINVAL {
		return err
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
		return err
	}
	return fallocate(fd, off, n)
}

// renameat and unlinkat take NUL-terminated names in dirfd: unlike the
// string-taking wrappers, they allocate nothing.
func renameat(dirfd int, from, to *segName) error {
	_, _, e := unix.Syscall6(unix.SYS_RENAMEAT2, uintptr(dirfd), uintptr(unsafe.Pointer(&from[0])),
		uintptr(dirfd), uintptr(unsafe.Pointer(&to[0])), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func unlinkat(dirfd int, name *segName) error {
	_, _, e := unix.Syscall(unix.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])), 0)
	if e != 0 {
		return e
	}
	return nil
}
