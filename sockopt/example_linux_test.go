package sockopt_test

import (
	"fmt"
	"net"
	"syscall"

	"github.com/fastpub/fastpub/sockopt"
)

// Dial with the options of a connection string such as
// tcp://host:9007/amps/json?tcp_nodelay=false&tcp_linger=5, then read them
// back from the connected socket.
func ExampleOptions_Dialer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	o := sockopt.Options{NoDelay: sockopt.Off, Linger: 5}
	c, err := o.Dialer().Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	// Go turns TCP_NODELAY on after connect; put Nagle back.
	if err := o.ApplyConnected(c.(syscall.Conn)); err != nil {
		fmt.Println(err)
		return
	}

	rc, _ := c.(syscall.Conn).SyscallConn()
	rc.Control(func(fd uintptr) {
		nodelay, _ := sockopt.NoDelay(int(fd))
		keepalive, _ := sockopt.KeepAlive(int(fd))
		secs, on, _ := sockopt.Linger(int(fd))
		fmt.Printf("nodelay=%v keepalive=%v linger=%v/%ds\n", nodelay, keepalive, on, secs)
	})
	// Output: nodelay=false keepalive=true linger=true/5s
}
