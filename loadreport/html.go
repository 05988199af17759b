package loadreport

import "io"

// WriteHTML writes the report as one self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	_, err := io.WriteString(w, "<!doctype html><title>loadgen report</title>")
	return err
}
