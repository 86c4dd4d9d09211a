// Package embeddedpg runs a private PostgreSQL server from the PostgreSQL
// binaries installed on the machine, for the service's zero-configuration
// demo mode and as a fallback database for tests.
//
// The cluster lives in a folder of its own (Options.DataDir). The first Start
// creates it with initdb (superuser "postgres", trust authentication, UTF8,
// C locale); later starts reuse it, so the data survives restarts. The server
// listens on 127.0.0.1 only, and its Unix socket lives in the data folder, so
// it needs nothing from the system PostgreSQL installation apart from the
// binaries, and does not disturb a system server that is already running.
//
// PostgreSQL refuses to run as root. When the process runs as root, initdb,
// pg_ctl and postgres run as the unprivileged user "postgres" instead, and the
// data folder is handed over to that user.
//
// The postmaster runs detached from the calling process (pg_ctl puts it in a
// session of its own): it keeps running if the process exits without calling
// Server.Stop. The next Start on the same folder then finds it running and
// reuses it.
package embeddedpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// DefaultPort is the port Start uses when Options.Port is 0 and the port is
// free. It is deliberately not 5432, so the private server does not collide
// with a system PostgreSQL server.
const DefaultPort = 54329

const (
	// superuser is the name of the cluster's superuser, and the name of the
	// system user the server runs as when the process runs as root.
	superuser = "postgres"
	// logFileName is the server log, inside the data folder.
	logFileName = "server.log"
	// pidFileName is the postmaster's lock file, inside the data folder.
	pidFileName = "postmaster.pid"
	// waitSeconds bounds how long pg_ctl waits for the server to start or stop.
	waitSeconds = 60
	// maxSocketPath is the longest Unix socket path the kernel accepts
	// (sizeof(sun_path) - 1 on Linux).
	maxSocketPath = 107
	// startAttempts is how often Start tries again on another port when the
	// port it picked was taken between the check and the server's bind.
	startAttempts = 3
)

// Options configure the server.
type Options struct {
	// DataDir is the folder holding the cluster, for example
	// ".data/postgres". It is created if missing and made absolute. It must
	// be empty or hold a cluster made by an earlier Start.
	DataDir string
	// Port is the TCP port on 127.0.0.1. 0 means DefaultPort, or a free port
	// if that is taken. A port that is taken by something else is replaced by
	// a free one too. When the cluster is already running, the port it runs on
	// wins.
	Port int
	// Log receives what Start and Stop do. The zero value discards it.
	Log zerolog.Logger
}

// Server is a running private PostgreSQL server. It is safe for concurrent
// use.
type Server struct {
	binDir  string
	dataDir string
	port    int
	runAs   *syscall.Credential // nil: run as the current user
	log     zerolog.Logger
	reused  bool

	mu      sync.Mutex
	stopped bool
}

// Start starts the server for opts.DataDir, creating the cluster first if the
// folder holds none, or reuses the server if it is already running for that
// folder (for example left behind by a process that crashed). ctx bounds the
// whole start, including initdb and the wait for the server to accept
// connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("error starting postgres: no data folder given")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("error starting postgres: invalid port %d", opts.Port)
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("error starting postgres: resolving data folder %q: %w", opts.DataDir, err)
	}
	binDir, err := FindBinDir()
	if err != nil {
		return nil, fmt.Errorf("error starting postgres: %w", err)
	}
	s := &Server{binDir: binDir, dataDir: dataDir, log: opts.Log}

	if err := s.prepareDataDir(); err != nil {
		return nil, fmt.Errorf("error starting postgres: %w", err)
	}

	if exists(filepath.Join(dataDir, "PG_VERSION")) {
		if err := s.ensureDataDirMode(); err != nil {
			return nil, fmt.Errorf("error starting postgres: %w", err)
		}
		reused, err := s.reuseRunning(ctx, opts.Port)
		if err != nil {
			return nil, fmt.Errorf("error starting postgres: %w", err)
		}
		if reused {
			return s, nil
		}
	} else if err := s.initdb(ctx); err != nil {
		return nil, fmt.Errorf("error initialising postgres cluster: %w", err)
	}

	if err := s.start(ctx, opts.Port); err != nil {
		return nil, fmt.Errorf("error starting postgres: %w", err)
	}
	return s, nil
}

// DSN returns the URL for connecting to database as the superuser
// "postgres" over TCP, without a password and without TLS:
// "postgres://postgres@127.0.0.1:PORT/DATABASE?sslmode=disable".
func (s *Server) DSN(database string) string {
	u := fmt.Sprintf("postgres://%s@127.0.0.1:%d/", superuser, s.port)
	return u + url.PathEscape(database) + "?sslmode=disable"
}

// Port returns the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int {
	return s.port
}

// Stop shuts the server down with pg_ctl's fast mode (open transactions
// are rolled back, data is kept) and waits until it has gone. It also stops a
// server that Start reused rather than started. Calling Stop again, or after
// the server was stopped by other means, does nothing and returns nil.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), (waitSeconds+10)*time.Second)
	defer cancel()

	running, err := s.running(ctx)
	if err != nil {
		return fmt.Errorf("error stopping postgres: %w", err)
	}
	if !running {
		s.stopped = true
		s.log.Info().Str("data_dir", s.dataDir).Int("port", s.port).Msg("postgres was already stopped")
		return nil
	}
	out, err := s.run(ctx, "pg_ctl", "stop", "-D", s.dataDir, "-m", "fast", "-w", "-t", strconv.Itoa(waitSeconds))
	if err != nil {
		// The server may have gone between the status check and the stop.
		if still, serr := s.running(ctx); serr != nil || still {
			return fmt.Errorf("error stopping postgres: %w%s", err, outputSuffix(out))
		}
	}
	s.stopped = true
	s.log.Info().Str("data_dir", s.dataDir).Int("port", s.port).Msg("stopped postgres")
	return nil
}

// FindBinDir returns the directory holding the PostgreSQL server binaries
// (initdb, pg_ctl and postgres). It takes, in this order: the directory named
// by the environment variable PG_BIN_DIR; the newest version under
// /usr/lib/postgresql/*/bin (Debian and Ubuntu); the directory of pg_ctl on
// PATH.
func FindBinDir() (string, error) {
	if dir := os.Getenv("PG_BIN_DIR"); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("invalid PG_BIN_DIR %s: %w", dir, err)
		}
		return dir, nil
	}
	if dir := newestDebianBinDir("/usr/lib/postgresql"); dir != "" {
		return dir, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dir := filepath.Dir(p)
		if checkBinDir(dir) == nil {
			return dir, nil
		}
		// A symlink on PATH (Homebrew, alternatives) may point into the
		// directory that has the rest.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if dir := filepath.Dir(real); checkBinDir(dir) == nil {
				return dir, nil
			}
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: " +
		"install PostgreSQL server binaries, e.g. apt-get install postgresql, " +
		"or set PG_BIN_DIR to the directory that holds them")
}

// checkBinDir reports whether dir holds the binaries Start needs.
func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("no %s in %s", name, dir)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s in %s is not executable", name, dir)
		}
	}
	return nil
}

// newestDebianBinDir returns root/VERSION/bin for the highest VERSION that
// holds the binaries, or "" if there is none.
func newestDebianBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	type candidate struct {
		version []int
		dir     string
	}
	var found []candidate
	for _, e := range entries {
		version, ok := parseVersion(e.Name())
		if !ok {
			continue
		}
		dir := filepath.Join(root, e.Name(), "bin")
		if checkBinDir(dir) == nil {
			found = append(found, candidate{version, dir})
		}
	}
	if len(found) == 0 {
		return ""
	}
	best := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.dir
}

// parseVersion parses "15" or "9.6" into its numeric parts.
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// prepareDataDir creates the data folder and, when running as root, works out
// the user to run as, checks that user can reach the folder and hands the
// folder over to it.
func (s *Server) prepareDataDir() error {
	if fi, err := os.Stat(s.dataDir); err == nil && !fi.IsDir() {
		return fmt.Errorf("data folder %s is not a folder", s.dataDir)
	}
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data folder: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil
	}

	u, err := user.Lookup(superuser)
	if err != nil {
		return fmt.Errorf("running as root, and PostgreSQL refuses to run as root, "+
			"but looking up the user %q to run it as failed: %w", superuser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return fmt.Errorf("user %q has uid %q: %w", superuser, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return fmt.Errorf("user %q has gid %q: %w", superuser, u.Gid, err)
	}
	gids := map[uint32]bool{uint32(gid): true}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if groups, err := u.GroupIds(); err == nil {
		for _, g := range groups {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
				gids[uint32(n)] = true
			}
		}
	}
	s.runAs = cred

	if err := checkTraversable(filepath.Dir(s.dataDir), cred.Uid, gids); err != nil {
		return err
	}
	if err := chownTree(s.dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("handing data folder %s over to user %q: %w", s.dataDir, superuser, err)
	}
	return nil
}

// checkTraversable checks that the user uid, member of the groups gids, may
// enter dir and every folder above it, going by the permission bits.
func checkTraversable(dir string, uid uint32, gids map[uint32]bool) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("checking folder %s: %w", dir, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok {
			mode := fi.Mode().Perm()
			var bit fs.FileMode
			switch {
			case st.Uid == uid:
				bit = 0o100
			case gids[st.Gid]:
				bit = 0o010
			default:
				bit = 0o001
			}
			if mode&bit == 0 {
				return fmt.Errorf("running as root, so postgres runs as user %q, which cannot enter folder %s "+
					"(mode %v, owner uid %d gid %d) on the way to the data folder: "+
					"make it traversable (chmod o+x %s) or choose a data folder elsewhere",
					superuser, dir, mode, st.Uid, st.Gid, dir)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// removeContents removes everything inside dir, but not dir itself.
func removeContents(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// chownTree changes the owner of root and everything under it, without
// following symlinks.
func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// ensureDataDirMode narrows the data folder's permissions to 0700 if they
// are wider than PostgreSQL accepts (0700 or 0750).
func (s *Server) ensureDataDirMode() error {
	fi, err := os.Stat(s.dataDir)
	if err != nil {
		return fmt.Errorf("checking data folder: %w", err)
	}
	if fi.Mode().Perm()&0o027 != 0 {
		if err := os.Chmod(s.dataDir, 0o700); err != nil {
			return fmt.Errorf("restricting data folder permissions: %w", err)
		}
	}
	return nil
}

// initdb creates the cluster in the data folder, which must be empty. If
// initdb fails or is interrupted, it empties the folder again, so the next
// Start does not find a half-made cluster.
func (s *Server) initdb(ctx context.Context) error {
	entries, err := os.ReadDir(s.dataDir)
	if err != nil {
		return fmt.Errorf("reading data folder: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("data folder %s is not empty and holds no PostgreSQL cluster (no PG_VERSION): "+
			"empty it or choose another folder", s.dataDir)
	}
	out, err := s.run(ctx, "initdb",
		"-D", s.dataDir,
		"-U", superuser,
		"--auth=trust",
		"-E", "UTF8",
		"--locale=C",
	)
	if err != nil {
		if rerr := removeContents(s.dataDir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up after initdb: %w", rerr))
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("initdb in %s: %w%s", s.dataDir, err, outputSuffix(out))
	}
	s.log.Info().Str("data_dir", s.dataDir).Str("bin_dir", s.binDir).Msg("initialised postgres cluster")
	return nil
}

// reuseRunning adopts the server if one is already running for the data
// folder, waiting for it to finish starting up or shutting down as needed.
// It reports whether it adopted one.
func (s *Server) reuseRunning(ctx context.Context, wantPort int) (bool, error) {
	pidFile := filepath.Join(s.dataDir, pidFileName)
	deadline := time.Now().Add(waitSeconds * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if !exists(pidFile) {
			return false, nil
		}
		running, err := s.running(ctx)
		if err != nil {
			return false, err
		}
		if !running {
			// A stale lock file: postgres removes it when it starts.
			return false, nil
		}
		info, err := readPidFile(pidFile)
		if err == nil && info.status == "ready" && info.port > 0 {
			s.port = info.port
			s.reused = true
			ev := s.log.Info().Str("data_dir", s.dataDir).Int("port", s.port).Int("pid", info.pid)
			if wantPort != 0 && wantPort != info.port {
				ev = ev.Int("requested_port", wantPort)
			}
			ev.Msg("reused running postgres")
			return true, nil
		}
		// Still starting or stopping, or the file is being written: look again.
		if time.Now().After(deadline) {
			return false, fmt.Errorf("postgres for %s is running but not ready after %ds (status %q)%s",
				s.dataDir, waitSeconds, info.status, s.logTail())
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}

// start runs pg_ctl start, moving to another port if the chosen one turns
// out to be taken.
func (s *Server) start(ctx context.Context, wantPort int) error {
	logFile := filepath.Join(s.dataDir, logFileName)
	tried := map[int]bool{}
	var lastErr error
	for range startAttempts {
		port, err := choosePort(wantPort, tried)
		if err != nil {
			return err
		}
		tried[port] = true
		if wantPort != 0 && port != wantPort {
			s.log.Warn().Int("requested_port", wantPort).Int("port", port).Msg("postgres port taken, using a free one")
		}

		logStart := fileSize(logFile)
		args := []string{
			"start",
			"-D", s.dataDir,
			"-w", "-t", strconv.Itoa(waitSeconds),
			"-l", logFile,
			"-o", s.serverOptions(port),
		}
		out, err := s.run(ctx, "pg_ctl", args...)
		if err == nil {
			s.port = port
			s.log.Info().Str("data_dir", s.dataDir).Int("port", port).Msg("started postgres")
			return nil
		}
		if ctx.Err() != nil {
			// pg_ctl was killed while waiting; the postmaster may come up
			// anyway, detached from us. Do not leave it behind.
			s.cleanupAfterFailedStart()
			return fmt.Errorf("pg_ctl start: %w", ctx.Err())
		}
		lastErr = fmt.Errorf("pg_ctl start on port %d: %w%s%s", port, err, outputSuffix(out), s.logTail())
		if !portClash(readFrom(logFile, logStart)) {
			return lastErr
		}
		s.log.Warn().Int("port", port).Msg("postgres port was taken meanwhile, trying another")
		wantPort = 0
	}
	return lastErr
}

// serverOptions returns the options pg_ctl passes to postgres. pg_ctl hands
// them to /bin/sh, so values are shell-quoted.
func (s *Server) serverOptions(port int) string {
	sockDir := s.dataDir
	if len(sockDir)+len("/.s.PGSQL.65535") > maxSocketPath {
		// Too long for a Unix socket path: TCP only. pg_ctl -w does not need
		// the socket (it watches postmaster.pid).
		sockDir = ""
		s.log.Debug().Str("data_dir", s.dataDir).Msg("data folder path too long for a unix socket, using TCP only")
	}
	return strings.Join([]string{
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-k", shellQuote(sockDir),
		"-c", "max_connections=200",
	}, " ")
}

// cleanupAfterFailedStart stops a postmaster that may have been left half
// started by an interrupted pg_ctl start.
func (s *Server) cleanupAfterFailedStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if running, err := s.running(ctx); err == nil && running {
		_, _ = s.run(ctx, "pg_ctl", "stop", "-D", s.dataDir, "-m", "immediate", "-w", "-t", "10")
	}
}

// running asks pg_ctl status whether a server runs for the data folder.
func (s *Server) running(ctx context.Context) (bool, error) {
	out, err := s.run(ctx, "pg_ctl", "status", "-D", s.dataDir)
	if err == nil {
		return true, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 3 {
		return false, nil // "no server running"
	}
	return false, fmt.Errorf("pg_ctl status: %w%s", err, outputSuffix(out))
}

// run runs one of the PostgreSQL binaries as the right user and returns its
// combined output.
func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, name), args...)
	// The data folder is the one place the postgres user can surely enter;
	// initdb and postgres fail in a working directory they cannot access.
	cmd.Dir = s.dataDir
	cmd.Env = s.env()
	// On cancellation ask politely first (initdb removes its files on
	// SIGTERM); WaitDelay escalates to SIGKILL.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Also, pg_ctl start leaves the postmaster running; should it ever hold
	// on to our output pipe, do not wait for it to exit.
	cmd.WaitDelay = 5 * time.Second
	if s.runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.runAs}
	}
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return out.Bytes(), err
}

// env returns the environment for the PostgreSQL binaries: ours, minus the
// libpq variables that could point them at another server, with messages in
// English so errors are searchable.
func (s *Server) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C")
	if s.runAs != nil {
		if u, err := user.Lookup(superuser); err == nil && u.HomeDir != "" {
			env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") })
			env = append(env, "HOME="+u.HomeDir)
		}
	}
	return env
}

// pidInfo is what postmaster.pid says about the running server.
type pidInfo struct {
	pid    int
	port   int
	status string // "starting", "ready", "stopping", or "" if not yet written
}

// readPidFile parses postmaster.pid: line 1 is the PID, line 4 the port,
// line 8 the status.
func readPidFile(path string) (pidInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidInfo{}, err
	}
	lines := strings.Split(string(b), "\n")
	var info pidInfo
	if len(lines) >= 1 {
		info.pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	}
	if len(lines) < 4 {
		return info, fmt.Errorf("%s is incomplete", path)
	}
	info.port, err = strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return info, fmt.Errorf("%s: bad port %q", path, lines[3])
	}
	if len(lines) >= 8 {
		info.status = strings.TrimSpace(lines[7])
	}
	return info, nil
}

// choosePort returns want if it is free (DefaultPort if want is 0), or else
// a free port picked by the kernel. Ports in skip are not used.
func choosePort(want int, skip map[int]bool) (int, error) {
	if want == 0 {
		want = DefaultPort
	}
	if !skip[want] && portFree(want) {
		return want, nil
	}
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !skip[port] {
			return port, nil
		}
	}
	return 0, errors.New("finding a free port: none found")
}

// portFree reports whether something could listen on 127.0.0.1:port.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// portClash reports whether a server log says the port could not be bound.
func portClash(log string) bool {
	return strings.Contains(log, "Address already in use") ||
		strings.Contains(log, "could not create any TCP/IP sockets") ||
		strings.Contains(log, "is another postmaster already running on port")
}

// logTail returns the end of the server log, formatted to append to an
// error, or "" if there is none.
func (s *Server) logTail() string {
	tail := strings.TrimSpace(tailOf(filepath.Join(s.dataDir, logFileName), 4096, 25))
	if tail == "" {
		return ""
	}
	return "\nserver.log (end):\n" + tail
}

// tailOf returns at most the last maxLines lines within the last maxBytes
// bytes of the file at path.
func tailOf(path string, maxBytes int64, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-maxBytes, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // drop the partial first line
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

// readFrom returns the file at path from byte offset off on ("" on error).
func readFrom(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

// fileSize returns the size of the file at path, or 0.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// outputSuffix formats a command's output to append to an error.
func outputSuffix(out []byte) string {
	o := strings.TrimSpace(string(out))
	if o == "" {
		return ""
	}
	return "\n" + o
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
