package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/syncbuf"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	testSecret    = "e2e-secret-0123456789abcdef"
	simClientID   = "e2e-app"
	simSecret     = "e2e-app-secret"
	simMailboxID  = 312345
	installScript = "scripts/install-browser-deps.sh"
)

// repoRoot is the repository's top folder.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// toolsDir is where scripts/install-browser-deps.sh installs the npm
// packages: $BROWSER_TOOLS, else .cache/browser-tools.
func toolsDir(t *testing.T) string {
	t.Helper()
	if tools := os.Getenv("BROWSER_TOOLS"); tools != "" {
		return tools
	}
	return filepath.Join(repoRoot(t), ".cache", "browser-tools")
}

// requireBrowser fails the test when Chromium or playwright-core is missing.
func requireBrowser(t *testing.T) {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	tools := toolsDir(t)
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (Node.js 20+)")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium)
	}
	if _, err := os.Stat(filepath.Join(tools, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core in "+tools)
	}
	if len(missing) > 0 {
		t.Fatalf("the browser tests need %s: run %s first", strings.Join(missing, ", "), installScript)
	}
}

// service is the real service under test.
type service struct {
	db     *bun.DB
	sim    *helpscoutsim.Server
	srv    *httptest.Server
	issuer *auth.Issuer
}

// startService runs the whole service over a fresh database, with sync
// workers that talk to the HelpScout simulator and the live hub started.
// headers are the playground's and wall's default headers (nil: none).
func startService(t *testing.T, headers map[string]string) *service {
	t.Helper()
	bdb := dbtest.New(t)
	sim := helpscoutsim.New(helpscoutsim.Options{ClientID: simClientID, ClientSecret: simSecret, MailboxIDs: []int64{simMailboxID}})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)

	cfg := &config.Config{
		LogLevel:              zerolog.Disabled,
		Introspection:         true,
		ComplexityLimit:       50000,
		HelpScoutAPIURL:       simSrv.URL,
		HelpScoutClientID:     simClientID,
		HelpScoutClientSecret: simSecret,
		HelpScoutMailboxID:    simMailboxID,
		SyncWorkers:           2,
		CustomerBatchInterval: time.Minute,
		ShutdownTimeout:       5 * time.Second,
	}
	issuer := auth.NewIssuer(testSecret)
	stack := app.NewStack(bdb, cfg, issuer, zerolog.Nop(), headers)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, stack.Start(ctx))
	t.Cleanup(func() {
		cancel()
		stack.Stop()
	})
	srv := httptest.NewServer(stack.Handler)
	t.Cleanup(srv.Close)
	return &service{db: bdb, sim: sim, srv: srv, issuer: issuer}
}

// token issues a token for role.
func (s *service) token(t *testing.T, role auth.Role) string {
	t.Helper()
	tok, err := s.issuer.Issue("e2e-"+strings.ToLower(string(role)), role, time.Hour)
	require.NoError(t, err)
	return tok
}

// graphQL posts a GraphQL request with a bearer token and decodes data into out.
func (s *service) graphQL(t *testing.T, token, query string, vars map[string]any, out any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var envelope struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &envelope), "response: %s", raw)
	require.Empty(t, envelope.Errors, "response: %s", raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(envelope.Data, out), "response: %s", raw)
	}
}

// browser is a running scripts/browser/*.mjs driver: JSON commands on its
// standard input, one JSON answer per line on its standard output.
type browser struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *syncbuf.Buffer
}

// startBrowser runs node scripts/browser/<script> with env added.
func startBrowser(t *testing.T, script string, env ...string) *browser {
	t.Helper()
	requireBrowser(t)
	root := repoRoot(t)
	cmd := exec.Command("node", filepath.Join(root, "scripts", "browser", script))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	b := &browser{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 16), stderr: &syncbuf.Buffer{}}
	cmd.Stderr = b.stderr
	require.NoError(t, cmd.Start())
	go func() {
		defer close(b.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return b
}

// call sends one command and returns its answer; a failed command fails
// the test.
func (b *browser) call(op string, args map[string]any) map[string]any {
	b.t.Helper()
	ans, err := b.try(op, args)
	require.NoError(b.t, err)
	return ans
}

// try sends one command and returns its answer, or the error it reported.
func (b *browser) try(op string, args map[string]any) (map[string]any, error) {
	b.t.Helper()
	cmd := map[string]any{"op": op}
	for k, v := range args {
		cmd[k] = v
	}
	line, err := json.Marshal(cmd)
	require.NoError(b.t, err)
	_, err = b.stdin.Write(append(line, '\n'))
	require.NoError(b.t, err, "browser script stopped: %s", b.stderr)
	timeout := 60 * time.Second
	select {
	case out, ok := <-b.lines:
		require.True(b.t, ok, "browser script exited during %s: %s", op, b.stderr)
		var ans map[string]any
		require.NoError(b.t, json.Unmarshal([]byte(out), &ans), "answer to %s: %s", op, out)
		if ans["ok"] != true {
			return ans, fmt.Errorf("%s: %v", op, ans["error"])
		}
		return ans, nil
	case <-time.After(timeout):
		b.t.Fatalf("browser script did not answer %s within %s; stderr: %s", op, timeout, b.stderr)
		return nil, nil
	}
}

// proxy forwards TCP connections to a target and can cut all of them at
// once, as a network failure would.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	held   bool // new connections are closed at once, as when the server is down
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		_ = ln.Close()
		p.cut()
	})
	return p
}

// URL is the proxy's base URL.
func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = u.Close()
			return
		}
		if p.held {
			p.mu.Unlock()
			_ = c.Close()
			_ = u.Close()
			continue
		}
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(u, c)
		go pipe(c, u)
	}
}

// hold cuts every connection and refuses new ones until release, as a
// server that is down would.
func (p *proxy) hold() int {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
	return p.cut()
}

// release lets new connections through again.
func (p *proxy) release() {
	p.mu.Lock()
	p.held = false
	p.mu.Unlock()
}

// cut closes every connection through the proxy; new ones are still accepted.
func (p *proxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
	return n
}
