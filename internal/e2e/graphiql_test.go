package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/web"
)

// graphiqlReport is what scripts/browser/graphiql.mjs prints.
type graphiqlReport struct {
	OK            bool     `json:"ok"`
	Result        string   `json:"result"`
	Blocked       []string `json:"blocked"`
	PageErrors    []string `json:"pageErrors"`
	ConsoleErrors []string `json:"consoleErrors"`
	Error         string   `json:"error"`
}

func TestGraphiQLOffline(t *testing.T) {
	require.True(t, web.AssetsAvailable(), "the GraphiQL files are not built in: run scripts/fetch-web-assets.sh")
	requireBrowser(t)
	svc := startService(t, nil)
	root := repoRoot(t)

	env := []string{
		"BASE_URL=" + svc.srv.URL,
		"TOKEN=" + svc.token(t, auth.RoleManager),
		"QUERY={ viewer { role subject } }",
		`EXPECT="role": "MANAGER"`,
	}
	if dir := os.Getenv("E2E_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		env = append(env, "SCREENSHOT="+filepath.Join(dir, "graphiql.png"))
	}
	cmd := exec.Command("node", filepath.Join(root, "scripts", "browser", "graphiql.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("graphiql.mjs did not finish in 90 s; stderr: %s", stderr.String())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Fatalf("%s; run %s first", stderr.String(), installScript)
	}

	var rep graphiqlReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), "stdout: %s; stderr: %s", stdout.String(), stderr.String())
	require.Empty(t, rep.Blocked, "requests that would leave this machine")
	require.Empty(t, rep.PageErrors, "uncaught errors in the page")
	require.Empty(t, rep.Error, "result pane: %q", rep.Result)
	require.Contains(t, rep.Result, `"role": "MANAGER"`)
	require.Contains(t, rep.Result, `"subject": "e2e-manager"`)
	require.True(t, rep.OK)
	require.NoError(t, err, "stderr: %s", stderr.String())
}
