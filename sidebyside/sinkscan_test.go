package sidebyside

import (
	"bytes"
	"regexp"
	"testing"
)

// storedEnd is the end of a header that storedPrefix must cache.
var storedEnd = regexp.MustCompile(`,"s":[0-9]{1,19}}$`)

// FuzzSinkStoredCache checks the sink's stored-header cache against its
// scanner: a header scanPublish reads as a stored publish caches
// exactly when it ends with "s":<1 to 19 digits>}; the cached prefix and
// cachedTail give back the same sequence and payload; and any second
// frame that begins with the prefix and whose tail cachedTail takes is
// one scanPublish reads the same way (a stored publish with that sequence
// and payload).
func FuzzSinkStoredCache(f *testing.F) {
	for _, s := range [][2]string{
		{`{"c":"p","t":"orders","a":"persisted","s":1764680000000000123}x`, `{"c":"p","t":"orders","a":"persisted","s":1764680000000000124}y`},
		{`{"c":"p","t":"orders","a":"persisted","s":1}`, `{"c":"p","t":"orders","a":"persisted","s":007}z`},
		{`{"c":"p","t":"orders","a":"persisted","s":1764680000000000999}x`, `{"c":"p","t":"orders","a":"persisted","s":1764680000000001000}y`},
		{`{"c":"p","t":"o","a":"persisted","s":00012345}`, `{"c":"p","t":"o","a":"persisted","s":00012346}`},
		{`{"c":"p","t":"o","a":"persisted","s":1234}`, `{"c":"p","t":"o","a":"persisted","s":12345}`},
		{`{"c":"p","t":"o","a":"persisted","s":1234}`, `{"c":"p","t":"o","a":"persisted","s":1x34}`},
		{`{"c":"p","t":"o","s":5,"a":"persisted","s":6}p`, `{"c":"p","t":"o","s":5,"a":"persisted","s":12345678901234567890}p`},
		{`{"c":"p","t":"o","a":"processed,persisted","s":9}`, `{"c":"p","t":"o","a":"processed,persisted","s":}`},
		{`{"c":"p","t":"o","a":"persisted","s":"9"}`, `{"c":"p","t":"o","a":"persisted","s":9}`},
		{`{"c":"p","t":"o","a":"persisted","s":9,"x":"c"}`, ``},
		{`{"c":"p","t":"o","a":"processed","s":9}`, `{"c":"p","t":"o","a":"processed","s":10}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		if !bytes.HasPrefix(first, []byte(publishPrefix)) || len(first) <= len(publishPrefix) {
			return
		}
		p1, s1, pers1, ok := scanPublish(first)
		if !ok || !pers1 || s1 == 0 {
			return
		}
		header := first[:len(first)-len(p1)]
		k := storedPrefix(header)
		if (k > 0) != storedEnd.Match(header) {
			t.Fatalf("storedPrefix(%q) = %d", header, k)
		}
		if k == 0 {
			return
		}
		m, head := storedCache(header, s1)
		if m < k || m > len(header)-2 || (m > k) != (head != 0) {
			t.Fatalf("storedCache(%q, %d) = %d, %d; storedPrefix %d", header, s1, m, head, k)
		}
		if s, n := cachedTail(head, first[m:]); n == 0 || s != s1 || !bytes.Equal(first[m+n:], p1) {
			t.Fatalf("cache of %q (%d bytes, head %d): tail %d, %d; scanner %d, payload %q", first, m, head, s, n, s1, p1)
		}
		if !bytes.HasPrefix(second, first[:m]) || len(second) <= m {
			return
		}
		s, n := cachedTail(head, second[m:])
		if n == 0 {
			return
		}
		p2, s2, pers2, ok := scanPublish(second)
		if !ok || !pers2 || s2 != s || !bytes.Equal(p2, second[m+n:]) {
			t.Fatalf("cached %q (head %d), then %q: tail %d, payload %q; scanner ok %v, %d, persisted %v, payload %q", first[:m], head, second, s, second[m+n:], ok, s2, pers2, p2)
		}
	})
}
