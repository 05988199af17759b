package fastpub

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/ring"
)

// documentedSentinels are the sentinels errors.go documents (the README and
// the package doc list them): every error the client returns matches one.
var documentedSentinels = []error{
	ErrInvalidURI, ErrNotConnected, ErrNotLoggedOn, ErrAlreadyConnected, ErrClosed,
	ErrDisconnected, ErrConnect, ErrTimedOut, ErrBufferFull, ErrMessageTooLarge,
	ErrInvalidTopic, ErrInvalidValue, ErrProtocol, ErrStore,
	ErrAuthentication, ErrNameInUse, ErrDuplicateLogon, ErrLogonRequired, ErrNotEntitled,
	ErrInvalidOptions, ErrInvalidMessageType, ErrMissingFields, ErrPublish, ErrCommand,
	ErrPublishGap, ErrSequenceAhead, ErrOutage,
}

func matchesSentinel(err error) bool {
	for _, s := range documentedSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Every error constructor of the package, with every kind it takes, builds
// an error that matches a documented sentinel.
func TestEveryErrorConstructorMatchesASentinel(t *testing.T) {
	c := &Client{}
	c.uri = nil
	cases := map[string]error{
		"ServerError, unknown reason":     &ServerError{Command: "publish", Status: "failure", Reason: "something new"},
		"ServerError, no reason":          &ServerError{Command: "flush", Status: "failure"},
		"ConnectionError connect":         &ConnectionError{Op: "connect", Err: io.EOF, kind: ErrConnect},
		"ConnectionError read":            &ConnectionError{Op: "read", Err: io.EOF, kind: ErrDisconnected},
		"TimedOutError":                   ctxError("flush", context.DeadlineExceeded),
		"MessageTooLargeError":            &MessageTooLargeError{Size: 10, Max: 5},
		"fieldError":                      &fieldError{sentinel: ErrInvalidValue, cause: io.EOF},
		"OptionError":                     &OptionError{Option: "WithBufferSize", Value: "3", Reason: "x"},
		"CloseTimeoutError":               &CloseTimeoutError{After: time.Second, Frames: 1, Bytes: 10},
		"encodeErr, topic":                encodeErr(&frame.InvalidValueError{Field: "t", Reason: "x"}),
		"encodeErr, other field":          encodeErr(&frame.InvalidValueError{Field: "x", Reason: "x"}),
		"encodeErr, frame too large":      encodeErr(&frame.FrameTooLargeError{Size: 1 << 33, Max: 1 << 32}),
		"encodeErr, unknown":              encodeErr(io.EOF),
		"claimErr, full":                  c.claimErr(context.Background(), "publish", ring.ErrFull),
		"claimErr, context":               c.claimErr(context.Background(), "publish", context.Canceled),
		"claimErr, size":                  c.claimErr(context.Background(), "publish", &ring.SizeError{N: 10, Max: 5}),
		"claimErr, unknown":               c.claimErr(context.Background(), "publish", io.EOF),
		"expirationError":                 expirationError(-time.Second),
		"nil message":                     errNilMessage,
		"stoppedErr, new":                 (&Client{}).stoppedErr(),
		"protocol error (inbound frame)":  protocolErr(&frame.FrameTooLargeError{Size: 1 << 30, Max: 1 << 20}),
		"protocol error (unparsed frame)": protocolErr(io.ErrUnexpectedEOF),
		"PublishGapError":                 &PublishGapError{URI: "tcp://h:1/amps/json", From: 5, To: 9},
		"SequenceAheadError (reconnect)":  &SequenceAheadError{URI: "tcp://h:1/amps/json", Last: 9, Sent: 5},
		"SequenceAheadError (first)":      &SequenceAheadError{URI: "tcp://h:1/amps/json", Last: 9, Start: 10},
		"OutageError":                     &OutageError{Outage: time.Second, Attempts: 3},
		"OutageError with a last error":   &OutageError{Outage: time.Second, Attempts: 3, Last: io.EOF},
		"UndeliveredError":                &UndeliveredError{Frames: 1, Bytes: 10, Err: ErrDisconnected},
		"FailedWrite.Err":                 (&FailedWrite{Command: "publish", Status: "failure", Reason: "duplicate"}).Err(),
	}
	for _, reason := range []string{"auth failure", "authentication disabled", "name in use", "duplicate logon attempt",
		"logon required", "not entitled", "invalid topic", "invalid topic or filter", "invalid options",
		"invalid message type", "no client name", "no topic or filter", "no filter or bookmark", "orderby required",
		"tx store failure", "sow store failed"} {
		se := &ServerError{Command: "logon", Status: "failure", Reason: reason}
		if errors.Is(se, ErrCommand) {
			t.Errorf("reason %q maps to the catch-all ErrCommand", reason)
		}
		cases["ServerError "+reason] = se
	}
	for _, o := range []Option{WithBufferSize(3), WithMaxMessageSize(1), WithHeartbeat(time.Millisecond),
		WithHeartbeat(1 << 62), WithCloseTimeout(-time.Second), WithCloseTimeout(0),
		WithStore(nil), WithReconnect(ReconnectPolicy{MaxOutage: -1}), WithPublishGapPolicy(9)} {
		_, err := NewClient("x", o)
		cases["NewClient option "+err.Error()] = err
	}
	_, err := NewClient("")
	cases["NewClient empty name"] = err
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: nil error", name)
			continue
		}
		if !matchesSentinel(err) {
			t.Errorf("%s: %v (%T) matches no documented sentinel", name, err, err)
		}
	}
}

// No error is made in this package without a sentinel: every errors.New and
// fmt.Errorf outside the sentinel declarations is a cause wrapped by one of
// the typed errors (a field of a composite literal, or an argument of a call
// such as errors.Join(ErrProtocol, ...) or fail(op, ...), which wraps it in a
// *ConnectionError). A bare one returned or assigned fails this test.
func TestNoBareErrors(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			if call, ok := n.(*ast.CallExpr); ok && isErrorMaker(call) {
				if !wrapped(stack) {
					t.Errorf("%s: a bare %s.%s: wrap it in a typed error with a sentinel", fset.Position(call.Pos()), call.Fun.(*ast.SelectorExpr).X, call.Fun.(*ast.SelectorExpr).Sel)
				}
			}
			stack = append(stack, n)
			return true
		})
	}
}

func isErrorMaker(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf")
}

// wrapped reports whether the innermost enclosing node makes the error a
// cause: a key-value field of a composite literal, an argument of another
// call, or a package-level var (a sentinel).
func wrapped(stack []ast.Node) bool {
	for i := len(stack) - 1; i >= 0; i-- {
		switch n := stack[i].(type) {
		case *ast.KeyValueExpr, *ast.CompositeLit, *ast.CallExpr:
			return true
		case *ast.ValueSpec:
			_, top := stack[i-1].(*ast.GenDecl)
			return top && i == 2
		case *ast.ReturnStmt, *ast.AssignStmt, *ast.FuncDecl, *ast.FuncLit:
			_ = n
			return false
		}
	}
	return false
}

// A call that saw the client reconnecting, and asks why only once the
// reconnect has finished, gets the disconnect, not ErrClosed (a review saw
// that window).
func TestStoppedErrAfterAQuickReconnect(t *testing.T) {
	c, err := NewClient("quick")
	if err != nil {
		t.Fatal(err)
	}
	outage := newConnErr("read", nil, errors.New("EOF"), ErrDisconnected)
	c.outage = outage
	for _, st := range []int32{stateReconnecting, stateLoggedOn} {
		c.state.Store(st)
		if got := c.stoppedErr(); got != outage {
			t.Fatalf("stoppedErr in state %d = %v, want the disconnect", st, got)
		}
	}
}
