package filestore_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fastpub/fastpub/store/filestore"
)

// A process stores three frames and dies before the server persists the
// last one; the next process recovers it, byte for byte.
func Example() {
	dir, _ := os.MkdirTemp("", "filestore-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pub-1")

	s, err := filestore.Open(path, "pub-1", filestore.Options{Durability: filestore.DurabilityGroup})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Recover(func(uint64, []byte) error { return nil }); err != nil {
		log.Fatal(err)
	}
	s.Begin(101, 0) // the client's first frame: s=101 at stream position 0
	pos := uint64(0)
	for seq := uint64(101); seq <= 103; seq++ {
		frame := []byte(fmt.Sprintf("\x00\x00\x00\x05msg%d", seq-100))
		s.Append(seq, pos, frame)
		pos += uint64(len(frame))
	}
	s.Committed(104, pos)
	s.Persisted(102, 9+9, 102) // the server persisted 101 and 102; 103 starts at 18
	s.Close()

	s, err = filestore.Open(path, "pub-1", filestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	rec, err := s.Recover(func(seq uint64, frame []byte) error {
		fmt.Printf("replay s=%d %q\n", seq, frame[4:])
		return nil
	})
	fmt.Printf("last %d, persisted %d, lost %v, err %v\n", rec.Last, rec.Persisted, rec.Lost, err)
	// Output:
	// replay s=103 "msg3"
	// last 103, persisted 102, lost [], err <nil>
}
