module github.com/fastpub/fastpub

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/klauspost/cpuid/v2 v2.4.2
	github.com/valyala/bytebufferpool v1.0.0
	golang.org/x/sys v0.50.0
)
