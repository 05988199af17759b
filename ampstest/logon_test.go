package ampstest

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/fastpub/fastpub/frame"
)

func TestLogonAck(t *testing.T) {
	checkNoLeak(t)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			s := startServer(t, Config{})
			c := dial(t, s, network)
			c.send(logonFrame(t, "auto1", "pub-1", "alice", "secret"))
			g := c.next()
			h := fnv.New64a()
			h.Write([]byte("pub-1"))
			want := fmt.Sprintf(`{"c":"ack","cid":"auto1","a":"processed","status":"success",`+
				`"client_name":"pub-1","s":0,"bm":"%d|0|","version":"5.3.4.0"}`, h.Sum64())
			if g.Header != want || g.Payload != "" {
				t.Fatalf("logon ack\n got %s\nwant %s", g, want)
			}
		})
	}
}

func TestLogonAckReportsHistory(t *testing.T) {
	checkNoLeak(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Server)
		want  uint64
	}{
		{"fresh name", func(*testing.T, *Server) {}, 0},
		{"SetLastSequence", func(_ *testing.T, s *Server) { s.SetLastSequence("pub", 42) }, 42},
		{"previous connection", func(t *testing.T, s *Server) {
			c := dial(t, s, "tcp")
			c.logon("pub")
			c.send(pubFrame(t, frame.Publish{Topic: "t", Seq: 7}, "a"),
				pubFrame(t, frame.Publish{Topic: "t", Seq: 9}, "b"))
			c.sync()
			c.close()
		}, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Version: "9.9.9.9"})
			tt.setup(t, s)
			c := dial(t, s, "unix")
			g := c.logon("pub")
			if !g.HasSeq || g.Seq != tt.want || g.Bookmark != bm("pub", tt.want) || g.Version != "9.9.9.9" {
				t.Fatalf("logon ack %s: want s=%d bm=%s", g, tt.want, bm("pub", tt.want))
			}
			if got := s.LastSequence("pub"); got != tt.want {
				t.Fatalf("LastSequence = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLogonRequired(t *testing.T) {
	checkNoLeak(t)
	tests := []struct {
		name    string
		frame   []byte
		wantAck bool
	}{
		{"publish with processed ack", pubFrame(t, frame.Publish{Topic: "t", CommandID: "p1", Ack: frame.AckProcessed}, "x"), true},
		{"publish with persisted ack", pubFrame(t, frame.Publish{Topic: "t", CommandID: "p1", Ack: frame.AckPersisted, Seq: 1}, "x"), true},
		{"plain publish", pubFrame(t, frame.Publish{Topic: "t"}, "x"), false},
		{"flush", flushFrame(t, "p1", frame.AckProcessed), true},
		{"heartbeat", frame.AppendHeartbeatStart(nil, 5), false},
		{"subscribe", subFrame(t, frame.CmdSubscribe, "p1", "t", "s1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{})
			c := dial(t, s, "tcp")
			c.send(tt.frame)
			gs := c.expectClosed()
			if !tt.wantAck {
				if len(gs) != 0 {
					t.Fatalf("unexpected frames %v", gs)
				}
			} else if len(gs) != 1 || gs[0].Cid != "p1" || gs[0].Status != "failure" ||
				gs[0].Reason != "logon required" {
				t.Fatalf("want one logon required failure, got %v", gs)
			}
			waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseLogonRequired] == 1 })
		})
	}
}

func TestAuth(t *testing.T) {
	checkNoLeak(t)
	type step struct {
		cid, user, pw      string
		status, reason     string
		retryUser, retryPW string // expected challenge in a retry ack
	}
	pw := Password{User: "alice", Password: "secret"}
	ch := Challenge{User: "bob", Token: "challenge-1", Answer: "response-1"}
	tests := []struct {
		name       string
		auth       Auth
		steps      []step
		wantClosed bool
	}{
		{"accept all", nil, []step{{cid: "1", user: "anyone", pw: "anything", status: "success"}}, false},
		{"accept all explicit", AcceptAll{}, []step{{cid: "1", status: "success"}}, false},
		{"password ok", pw, []step{{cid: "1", user: "alice", pw: "secret", status: "success"}}, false},
		{"password wrong", pw, []step{{cid: "1", user: "alice", pw: "nope", status: "failure", reason: "auth failure"}}, true},
		{"password wrong user", pw, []step{{cid: "1", user: "eve", pw: "secret", status: "failure", reason: "auth failure"}}, true},
		{"password missing", pw, []step{{cid: "1", status: "failure", reason: "auth failure"}}, true},
		{"challenge new cid", ch, []step{
			{cid: "auto0", user: "bob", pw: "initial", status: "retry", retryUser: "bob", retryPW: "challenge-1"},
			{cid: "auto1", user: "bob", pw: "response-1", status: "success"},
		}, false},
		{"challenge same cid", ch, []step{
			{cid: "auto1", status: "retry", retryUser: "bob", retryPW: "challenge-1"},
			{cid: "auto1", user: "bob", pw: "response-1", status: "success"},
		}, false},
		{"challenge wrong answer", ch, []step{
			{cid: "auto0", user: "bob", status: "retry", retryUser: "bob", retryPW: "challenge-1"},
			{cid: "auto1", user: "bob", pw: "guess", status: "failure", reason: "auth failure"},
		}, true},
		{"challenge answered first", ch, []step{
			{cid: "a", user: "bob", pw: "response-1", status: "retry", retryUser: "bob", retryPW: "challenge-1"},
			{cid: "b", user: "bob", pw: "response-1", status: "success"},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Auth: tt.auth})
			c := dial(t, s, "tcp")
			for _, st := range tt.steps {
				c.send(logonFrame(t, st.cid, "pub", st.user, st.pw))
				g := c.nextAck(st.cid, "processed", st.status, st.reason)
				if g.UserID != st.retryUser || g.PW != st.retryPW {
					t.Fatalf("ack %s: want user_id=%q pw=%q", g, st.retryUser, st.retryPW)
				}
				if st.status == "success" && (g.ClientName != "pub" || !g.HasSeq || g.Version == "") {
					t.Fatalf("success ack lacks fields: %s", g)
				}
			}
			if tt.wantClosed {
				if gs := c.expectClosed(); len(gs) != 0 {
					t.Fatalf("frames after failure: %v", gs)
				}
				waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseAuthFailure] == 1 })
				return
			}
			c.sync()
		})
	}
}

func TestDuplicateLogonOnSameConnection(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	c.send(logonFrame(t, "L2", "pub", "", ""))
	c.nextAck("L2", "processed", "failure", "duplicate logon attempt")
	c.sync() // still open
}

func TestLogonWithoutClientName(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.send(logonFrame(t, "L1", "", "", ""))
	c.nextAck("L1", "processed", "failure", "no client name")
	c.expectClosed()
}

func TestLogonReceivedAck(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	b, err := frame.AppendLogon(nil, &frame.Logon{CommandID: "L", ClientName: "pub",
		Ack: frame.AckReceived | frame.AckProcessed})
	if err != nil {
		t.Fatal(err)
	}
	c.send(b)
	c.nextAck("L", "received", "success", "")
	c.nextAck("L", "processed", "success", "")
}

func TestNameRules(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	old := dial(t, s, "tcp")
	old.send(logonFrame(t, "1", "pub", "alice", "x"))
	old.nextAck("1", "processed", "success", "")

	// Same name, same user: the new connection wins, the old one is closed.
	repl := dial(t, s, "unix")
	repl.send(logonFrame(t, "2", "pub", "alice", "y"))
	repl.nextAck("2", "processed", "success", "")
	old.expectClosed()
	waitFor(t, "replaced counted", func() bool { return s.Stats().Closes[CloseReplaced] == 1 })

	// Same name, other user: the new logon fails, the live connection is untouched.
	other := dial(t, s, "tcp")
	other.send(logonFrame(t, "3", "pub", "mallory", "z"))
	other.nextAck("3", "processed", "failure", "name in use")
	other.expectClosed()
	repl.sync()
	if st := s.Stats().PerClient["pub"]; !st.Connected || st.Logons != 2 {
		t.Fatalf("client stats %+v", st)
	}

	// Once the holder is gone, another user may take the name.
	repl.close()
	waitFor(t, "name released", func() bool { return !s.Stats().PerClient["pub"].Connected })
	next := dial(t, s, "tcp")
	next.send(logonFrame(t, "4", "pub", "mallory", "z"))
	next.nextAck("4", "processed", "success", "")
}

func TestDropClient(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	if s.DropClient("nobody") {
		t.Fatal("DropClient of an unknown name reported true")
	}
	if !s.DropClient("pub") {
		t.Fatal("DropClient reported false")
	}
	c.expectClosed()
	waitFor(t, "drop counted", func() bool { return s.Stats().Closes[CloseDropped] == 1 })
	if f := s.Stats().Faults; f.DroppedClients != 1 {
		t.Fatalf("faults %+v", f)
	}
}
