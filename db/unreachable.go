package db

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/uptrace/bun/driver/pgdriver"
)

// TimedOut reports whether err says that the server cancelled the
// statement because it ran past the pool's statement timeout.
func TimedOut(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "57014" && strings.Contains(pgErr.Field('M'), "statement timeout")
}

// Unreachable reports whether err says that the database could not be
// reached or let go of the connection: it refused or dropped it, is
// shutting down or starting up, or has no connection to spare. The
// request may well succeed a moment later, unlike one that failed for
// what it asked.
func Unreachable(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		code := pgErr.Field('C')
		switch {
		case strings.HasPrefix(code, "08"): // connection exception
			return true
		case code == "57P01", code == "57P02", code == "57P03": // shutdown, crash, cannot connect now
			return true
		case code == "53300": // too many connections
			return true
		case code == "55000" && strings.Contains(pgErr.Field('M'), "not currently accepting connections"):
			// The database was closed to connections (ALLOW_CONNECTIONS).
			return true
		}
		return false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
