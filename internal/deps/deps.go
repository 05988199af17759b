package deps

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/klauspost/cpuid/v2"
	_ "github.com/valyala/bytebufferpool"
	_ "golang.org/x/sys/unix"
)
