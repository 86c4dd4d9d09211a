package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/auth"
)

// auditResult is one audit of graphql-http's GraphQL over HTTP audit, as
// scripts/browser/http-audit.mjs reports it.
type auditResult struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	HTTPStatus int    `json:"httpStatus"`
	Body       string `json:"body"`
}

// TestGraphQLOverHTTPAudit runs graphql-http's audit of the GraphQL over
// HTTP specification against the service's /graphql endpoint: every MUST,
// SHOULD and MAY it checks has to pass, with application/json and
// application/graphql-response+json, over GET and POST.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	requireNodePackage(t, "graphql-http")
	svc := startService(t, nil)
	root := repoRoot(t)
	cmd := exec.Command("node", filepath.Join(root, "scripts", "browser", "http-audit.mjs"), svc.srv.URL+"/graphql")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TOKEN="+svc.token(t, auth.RoleManager))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())

	var results []auditResult
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &results), "stdout: %s", stdout.String())
	// graphql-http 1.23 has 61 audits; far fewer means the audit did not
	// run as it should.
	require.GreaterOrEqual(t, len(results), 50, "audits run: %d", len(results))
	levels := map[string]int{}
	var failed []string
	for _, r := range results {
		levels[strings.Fields(r.Name)[0]]++
		if r.Status != "ok" {
			failed = append(failed, fmt.Sprintf("%s %s %s: %s (HTTP %d, body %s)", r.Status, r.ID, r.Name, r.Reason, r.HTTPStatus, r.Body))
		}
	}
	require.Empty(t, failed, "audits that did not pass:\n%s", strings.Join(failed, "\n"))
	require.Positive(t, levels["MUST"], "levels: %v", levels)
	require.Positive(t, levels["SHOULD"], "levels: %v", levels)
}

// requireNodePackage fails the test when node or the npm package name,
// installed by scripts/install-browser-deps.sh, is missing.
func requireNodePackage(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("this test needs node (Node.js 20+): run %s first", installScript)
	}
	tools := toolsDir(t)
	if _, err := os.Stat(filepath.Join(tools, "node_modules", name, "package.json")); err != nil {
		t.Fatalf("this test needs the npm package %s in %s: run %s first", name, tools, installScript)
	}
}
