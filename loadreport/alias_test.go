package loadreport

import "github.com/HdrHistogram/hdrhistogram-go"

type hdrHist = hdrhistogram.Histogram

var hdrNew = hdrhistogram.New
