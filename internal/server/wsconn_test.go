package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// alwaysBusy is a process that is always busy.
type alwaysBusy struct{}

func (alwaysBusy) add(time.Time)       {}
func (alwaysBusy) wrote()              {}
func (alwaysBusy) busy(time.Time) bool { return true }

// tcpPair returns a coalescing server side of a loopback TCP connection,
// the count of its socket writes, and a reader of the client side.
func tcpPair(t *testing.T, maxPending int, interval time.Duration, load loadGauge) (*coalescingConn, *countingConn, *frameReader) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	server, ok := <-accepted
	require.True(t, ok)
	counted := &countingConn{Conn: server}
	cc := newCoalescingConn(counted, maxPending, interval, load, &pacer{})
	t.Cleanup(func() { _ = cc.Close() })
	return cc, counted, &frameReader{t: t, conn: client, r: bufio.NewReader(client)}
}

// frameReader reads the server's unmasked text frames.
type frameReader struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// next returns the next frame's payload, failing the test after a while.
func (f *frameReader) next() (string, error) {
	f.t.Helper()
	require.NoError(f.t, f.conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	var h [2]byte
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		return "", err
	}
	require.Equal(f.t, byte(0x81), h[0], "a final text frame")
	n := int(h[1])
	switch n {
	case 126:
		var ext [2]byte
		_, err := io.ReadFull(f.r, ext[:])
		require.NoError(f.t, err)
		n = int(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, err := io.ReadFull(f.r, ext[:])
		require.NoError(f.t, err)
		n = int(binary.BigEndian.Uint64(ext[:]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(f.r, p)
	require.NoError(f.t, err)
	return string(p), nil
}

func (f *frameReader) require(want ...string) {
	f.t.Helper()
	for _, w := range want {
		got, err := f.next()
		require.NoError(f.t, err)
		require.Equal(f.t, w, got)
	}
}

func TestCoalescingConnFrames(t *testing.T) {
	t.Parallel()
	cc, _, fr := tcpPair(t, defaultMaxPending, 0, nil)
	long := strings.Repeat("x", 300)
	huge := strings.Repeat("y", 70000)
	for _, p := range []string{"", "a", long, huge} {
		require.Equal(t, frameQueued, cc.tryFrame([]byte(`{"p":"`), []byte(p), []byte(`"}`)))
		fr.require(`{"p":"` + p + `"}`)
	}
}

func TestCoalescingConnWritesAtOnceWhenIdle(t *testing.T) {
	t.Parallel()
	// A long interval, but the process is not busy: no frame waits for it.
	cc, counted, fr := tcpPair(t, defaultMaxPending, time.Hour, &writeLoad{rate: DefaultBusyRate})
	for i := range 3 {
		msg := fmt.Sprint(i)
		require.Equal(t, frameQueued, cc.tryFrame([]byte(msg)))
		fr.require(msg)
	}
	require.Equal(t, int64(3), counted.writes.Load())
	frames, writes := cc.load.(*writeLoad).Totals()
	require.Equal(t, int64(3), frames)
	require.Equal(t, int64(3), writes)
}

func TestCoalescingConnSpacesWritesWhenBusy(t *testing.T) {
	t.Parallel()
	cc, counted, fr := tcpPair(t, defaultMaxPending, 150*time.Millisecond, alwaysBusy{})
	// The first frame leaves at once; those queued within the interval of
	// that write leave together in the next one.
	require.Equal(t, frameQueued, cc.tryFrame([]byte("first")))
	fr.require("first")
	sent := time.Now()
	for _, m := range []string{"b", "c", "d"} {
		require.Equal(t, frameQueued, cc.tryFrame([]byte(m)))
	}
	fr.require("b", "c", "d")
	require.Equal(t, int64(2), counted.writes.Load())
	require.GreaterOrEqual(t, time.Since(sent), 100*time.Millisecond, "the batch waited for the interval")
}

// queueHeld sends a first frame, which leaves at once, then queues n
// more behind it (which a busy process holds for the interval) and
// returns them.
func queueHeld(t *testing.T, cc *coalescingConn, fr *frameReader, n int) []string {
	t.Helper()
	require.Equal(t, frameQueued, cc.tryFrame([]byte("first")))
	fr.require("first")
	var held []string
	for i := range n {
		held = append(held, fmt.Sprint(i))
		require.Equal(t, frameQueued, cc.tryFrame([]byte(held[i])))
	}
	return held
}

func TestCoalescingConnHalfFullQueueDoesNotWait(t *testing.T) {
	t.Parallel()
	// An interval far longer than the test: only a long queue makes the
	// held frames leave.
	cc, _, fr := tcpPair(t, defaultMaxPending, time.Hour, alwaysBusy{})
	want := queueHeld(t, cc, fr, maxPendingFrames/2)
	fr.require(want...)
}

func TestCoalescingConnCloseSendsHeldFrames(t *testing.T) {
	t.Parallel()
	cc, _, fr := tcpPair(t, defaultMaxPending, time.Hour, alwaysBusy{})
	want := queueHeld(t, cc, fr, 10)
	// A message of the transport that does not fit beside them waits for
	// room, then gives up.
	start := time.Now()
	err := cc.writeFrame(50*time.Millisecond, []byte(strings.Repeat("z", defaultMaxPending)))
	require.ErrorIs(t, err, errWriteTimeout)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	// The frames wait for an interval of an hour; closing sends them at
	// once, in order, then the connection ends.
	require.NoError(t, cc.Close())
	fr.require(want...)
	_, err = fr.next()
	require.True(t, errors.Is(err, io.EOF), "got %v", err)
	require.Equal(t, frameClosed, cc.tryFrame([]byte("late")))
}

func TestCoalescingConnSlowPeer(t *testing.T) {
	t.Parallel()
	cc, counted, fr := tcpPair(t, defaultMaxPending, 0, nil)
	// Small kernel buffers on both ends, and a peer that reads nothing:
	// the socket fills after a few frames, then the queue does.
	require.NoError(t, counted.Conn.(*net.TCPConn).SetWriteBuffer(4096))
	require.NoError(t, fr.conn.(*net.TCPConn).SetReadBuffer(4096))
	frame := func(i int) []byte { return fmt.Appendf(nil, "%06d%s", i, strings.Repeat("x", 2000)) }
	sent := 0
	for ; sent < 5000; sent++ {
		if out := cc.tryFrame(frame(sent)); out != frameQueued {
			require.Equal(t, frameFull, out)
			break
		}
	}
	require.Less(t, sent, 5000, "the queue never filled")
	require.GreaterOrEqual(t, sent, maxPendingFrames)

	// The peer reads at last: the frames it gets are the first ones, in
	// order.
	for i := range 20 {
		got, err := fr.next()
		require.NoError(t, err)
		require.Equal(t, string(frame(i)), got)
	}
}

func TestCoalescingConnRefusesFramesWhenClosing(t *testing.T) {
	t.Parallel()
	cc, _, fr := tcpPair(t, defaultMaxPending, 0, nil)
	cc.refuseFrames()
	require.Equal(t, frameClosed, cc.tryFrame([]byte("data")))
	require.ErrorIs(t, cc.writeFrame(time.Second, []byte("data")), errClosing)
	// The library's own bytes (the close frame) still go out.
	_, err := cc.Write([]byte{0x81, 2, 'o', 'k'})
	require.NoError(t, err)
	fr.require("ok")
}

func TestWriteLoad(t *testing.T) {
	t.Parallel()
	limit := int(DefaultBusyRate * writeSlot / time.Second)
	at := func(slot int64, off time.Duration) time.Time {
		return time.Unix(0, slot*int64(writeSlot)).Add(off)
	}
	tests := []struct {
		name   string
		writes map[int64]int // slot -> writes
		check  time.Time
		busy   bool
	}{
		{"idle", nil, at(10, 0), false},
		{"below the rate", map[int64]int{10: limit - 1}, at(10, writeSlot/2), false},
		{"at the rate in this slot", map[int64]int{10: limit}, at(10, writeSlot/2), true},
		{"the slot before was busy", map[int64]int{10: limit, 11: 1}, at(11, writeSlot/2), true},
		{"busy slot just ended", map[int64]int{10: limit}, at(11, 0), true},
		{"two slots ago", map[int64]int{10: limit, 12: 1}, at(12, writeSlot/2), false},
		{"long quiet", map[int64]int{10: limit}, at(20, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &writeLoad{rate: DefaultBusyRate}
			for slot := int64(10); slot <= 12; slot++ {
				for range tc.writes[slot] {
					l.add(at(slot, time.Millisecond))
				}
			}
			require.Equal(t, tc.busy, l.busy(tc.check))
		})
	}
}
