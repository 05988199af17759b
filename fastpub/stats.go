package fastpub

import "sync/atomic"

// Stats are a client's transport counters. They are updated by the writer
// goroutine, once per system call, never per publish.
type Stats struct {
	BytesWritten uint64 // bytes the kernel accepted (the ring's released position)
	Writes       uint64 // writev (or TLS write) calls that moved bytes
	Buffered     int    // bytes queued (claimed by publishes and control frames) and not yet written, oversized frames included
	BufferSize   int    // the ring's size (WithBufferSize)
}

// writerStats are written by the writer goroutine only. Bytes written are
// not counted here: they are the ring's released position.
type writerStats struct {
	writes atomic.Uint64
}

// Stats returns the client's counters. Safe from any goroutine; zero before
// Logon.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	r, w := c.ring, c.w
	c.mu.Unlock()
	if r == nil || w == nil {
		return Stats{BufferSize: c.cfg.bufferSize}
	}
	// Released first: Claimed is read after it, so it is not behind it.
	written := r.Released()
	queued := r.Claimed()
	return Stats{
		BytesWritten: written,
		Writes:       w.stats.writes.Load(),
		Buffered:     int(queued - written),
		BufferSize:   r.Size(),
	}
}
