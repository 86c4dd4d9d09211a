//go:build unix

package db

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
)

// errUnexpectedRead is what an idle connection had waiting to be read.
var errUnexpectedRead = errors.New("unexpected data on an idle connection")

// connCheck reads, without waiting, from the socket of an idle connection.
// A live one has nothing to say; one the server ended has its last
// message (FATAL) or the end of the stream waiting.
func connCheck(c net.Conn) error {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var readErr error
	err = raw.Read(func(fd uintptr) bool {
		var buf [1]byte
		n, err := syscall.Read(int(fd), buf[:])
		switch {
		case n == 0 && err == nil:
			readErr = io.EOF
		case n > 0:
			readErr = errUnexpectedRead
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK):
			readErr = nil
		default:
			readErr = err
		}
		return true
	})
	if err != nil {
		return err
	}
	return readErr
}
