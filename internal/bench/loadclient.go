package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ioTimeout bounds one request of the load generator, so that a server
// that stops answering fails the benchmark instead of hanging it.
const ioTimeout = 30 * time.Second

// loadClient posts one prepared GraphQL request again and again over
// keep-alive HTTP/1.1 connections that it writes and reads itself. The
// load generator shares the process and the two cores with the server it
// measures: net/http's client hands every request between three goroutines
// and allocates its headers and body anew each time, garbage the server's
// collector would then pay for. This client writes the request bytes it
// built once and reads the response on the calling goroutine into a buffer
// kept per connection.
type loadClient struct {
	addr  string
	req   []byte
	conns chan *loadConn
}

// loadConn is one connection with its reader and response buffer.
type loadConn struct {
	conn net.Conn
	br   *bufio.Reader
	body bytes.Buffer
}

// newLoadClient prepares a request of method for path, with body when it
// is not nil and a bearer token when there is one, for the server at addr
// (host:port), keeping up to maxConns idle connections.
func newLoadClient(addr, method, path, token string, body []byte, maxConns int) *loadClient {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, addr)
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return &loadClient{addr: addr, req: b.Bytes(), conns: make(chan *loadConn, maxConns)}
}

// send sends the request once and fails on a transport error, a status
// other than 200 or an error in the GraphQL response.
func (l *loadClient) send(ctx context.Context) error {
	var c *loadConn
	select {
	case c = <-l.conns:
	default:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", l.addr)
		if err != nil {
			return err
		}
		c = &loadConn{conn: conn, br: bufio.NewReaderSize(conn, 64<<10)}
	}
	keep, err := c.roundTrip(l.req)
	if !keep {
		_ = c.conn.Close()
		return err
	}
	select {
	case l.conns <- c:
	default:
		_ = c.conn.Close()
	}
	return err
}

// close closes the idle connections.
func (l *loadClient) close() {
	for {
		select {
		case c := <-l.conns:
			_ = c.conn.Close()
		default:
			return
		}
	}
}

// roundTrip writes req and reads the whole response. keep reports whether
// the connection can carry another request.
func (c *loadConn) roundTrip(req []byte) (keep bool, err error) {
	if err := c.conn.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return false, err
	}
	if _, err := c.conn.Write(req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return false, err
	}
	c.body.Reset()
	_, err = c.body.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return false, err
	}
	keep = !resp.Close
	return keep, checkResponse(resp.StatusCode, c.body.Bytes())
}

// checkResponse fails on a status other than 200 or a GraphQL response
// with errors. The load generator only looks for errors, so that its own
// decoding does not weigh on the figures; a response with errors is decoded.
func checkResponse(status int, b []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %s", status, b)
	}
	if !bytes.Contains(b, []byte(`"errors"`)) {
		return nil
	}
	var r gqlResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("response with errors that is not JSON: %w", err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql error: %s", r.Errors[0].Message)
	}
	return nil
}
