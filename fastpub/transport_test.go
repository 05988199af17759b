package fastpub_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
)

func TestUnixTransport(t *testing.T) {
	s, err := ampstest.StartUnix(ampstest.Config{}, filepath.Join(t.TempDir(), "amps.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := connect(t, s.UnixURI("json")+"&unix_sndbuf=65536&unix_linger=1", "unix-pub")
	for i := 0; i < 10000; i++ {
		if err := c.PublishString("u", `{"n":1}`); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Publishes; got != 10000 {
		t.Fatalf("server accepted %d, want 10000", got)
	}
}

// tcps: TLS in front of the test server. writev does not apply; the writer
// batches into the TLS connection instead.
func TestTLSTransport(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.ServeConn(conn)
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c := connect(t, "tcps://localhost:"+port+"/amps/json?ip_protocol_prefer=ipv4", "tls-pub",
		fastpub.WithTLSConfig(&tls.Config{RootCAs: pool}))
	payload := make([]byte, 300)
	for i := 0; i < 20000; i++ {
		if err := c.Publish("secure", payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Publishes; got != 20000 {
		t.Fatalf("server accepted %d over TLS, want 20000", got)
	}
	// Without the CA the handshake fails with a connect error.
	c2 := newClient(t, "tls-untrusted")
	if err := c2.Connect(ctxT(t, 5*time.Second), "tcps://localhost:"+port+"/amps/json"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Connect to an untrusted server: %v", err)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// What the client puts on the wire: the logon as the official C client
// builds it, publishes with "c":"p", delta_publish spelled out, optional
// headers per message.
func TestWireHeaders(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.Record(100)
	uri := "tcp://alice:pw1@" + s.Addr().String() + "/amps/json?pretty=true"
	c := newClient(t, "wire")
	ctx := ctxT(t, 5*time.Second)
	if err := c.Connect(ctx, uri); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx, fastpub.WithLogonCorrelationID("QUJD")); err != nil {
		t.Fatal(err)
	}
	c.PublishString("orders", `{"id":1}`)
	c.DeltaPublishString("orders", `{"id":2}`)
	m := fastpub.Message{Topic: "orders", DataString: `{"id":3}`, Expiration: 1500 * time.Millisecond, CorrelationID: "cor", SowKey: "k1"}
	c.PublishMessage(ctx, &m)
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	got := s.Received()
	want := []string{
		`{"c":"logon","cid":"auto1","client_name":"wire","user_id":"alice","mt":"json","a":"processed","version":"` + fastpub.Version + `:go","x":"QUJD","pw":"pw1","o":"pretty"}`,
		`{"c":"p","t":"orders"}{"id":1}`,
		`{"c":"delta_publish","t":"orders"}{"id":2}`,
		`{"c":"p","t":"orders","e":"2","x":"cor","k":"k1"}{"id":3}`,
	}
	if len(got) < len(want)+1 {
		t.Fatalf("recorded %d frames, want %d", len(got), len(want)+1)
	}
	for i, w := range want {
		if g := string(got[i].Header) + string(got[i].Payload); g != w {
			t.Errorf("frame %d:\n got %s\nwant %s", i, g, w)
		}
	}
	if got[4].Command != frame.CmdFlush || !strings.Contains(string(got[4].Header), `"a":"processed"`) {
		t.Errorf("last frame %s, want a flush with a processed ack", got[4].Header)
	}
}
