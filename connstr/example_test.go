package connstr_test

import (
	"errors"
	"fmt"

	"github.com/fastpub/fastpub/connstr"
)

func ExampleParse() {
	u, err := connstr.Parse("tcp://publisher:s3cret@localhost:9007/amps/json?tcp_nodelay=false&tcp_sndbuf=1048576")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u) // the password is never printed
	fmt.Println(u.Transport, u.Host, u.Port, u.Protocol, u.MessageType)
	fmt.Println(u.User, u.HasPassword, u.Socket.NoDelay, u.Socket.SendBuffer, u.Socket.KeepAlive)
	fmt.Println(u.Address())
	// Output:
	// tcp://publisher:xxxxx@localhost:9007/amps/json?tcp_nodelay=false&tcp_sndbuf=1048576
	// tcp localhost 9007 amps json
	// publisher true off 1048576 default
	// tcp localhost:9007
}

func ExampleParse_ipv6AndUnix() {
	u, _ := connstr.Parse("tcp://[::1]:9007/amps/json")
	fmt.Println(u.Host)
	fmt.Println(u.Address())

	u, _ = connstr.Parse("unix://localhost:0/amps/json?path=/run/amps.sock")
	fmt.Println(u.Address())
	// Output:
	// ::1
	// tcp [::1]:9007
	// unix /run/amps.sock
}

func ExampleError() {
	_, err := connstr.Parse("tcp://publisher:s3cret@localhost:9007/amps/json?tcp_nodelay=yes")
	fmt.Println(errors.Is(err, connstr.ErrInvalidURI), errors.Is(err, connstr.ErrInvalidValue))
	var e *connstr.Error
	if errors.As(err, &e) {
		fmt.Println(e.Key, e.Value)
	}
	fmt.Println(err)
	// Output:
	// true true
	// tcp_nodelay yes
	// connstr: invalid option value: option "tcp_nodelay"="yes": want true, false or an unsigned decimal integer in "tcp://publisher:xxxxx@localhost:9007/amps/json?tcp_nodelay=yes"
}
