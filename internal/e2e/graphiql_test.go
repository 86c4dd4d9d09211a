package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	Variables     string   `json:"variables"`
	Reopened      string   `json:"reopenedVariables"`
	Blocked       []string `json:"blocked"`
	PageErrors    []string `json:"pageErrors"`
	ConsoleErrors []string `json:"consoleErrors"`
	Error         string   `json:"error"`
}

// TestGraphiQLOffline runs operations in GraphiQL with every request that
// would leave the machine blocked: a query over HTTP, and a subscription
// over WebSocket authorised by the same headers editor. Each runs straight
// after it is typed, before GraphiQL has parsed it, and the subscription
// must still take the WebSocket (the server refuses it over HTTP).
func TestGraphiQLOffline(t *testing.T) {
	require.True(t, web.AssetsAvailable(), "the GraphiQL files are not built in: run scripts/fetch-web-assets.sh")
	requireBrowser(t)
	cases := []struct {
		name, query, expect string
		// live, when set, submits contact forms from this email while the
		// page runs, so that a subscription has something to show.
		live string
		want []string
		// tab, when set, runs that example tab as the page opens it, in
		// a browser whose time zone is zone; variables are texts its
		// variables must hold. With reopenZone, the same browser then
		// opens the page again in that zone, where the saved tab's
		// variables must hold reopened.
		tab, zone  string
		variables  []string
		reopenZone string
		reopened   []string
	}{
		{
			name:   "query",
			query:  "{ viewer { role subject } }",
			expect: `"role": "MANAGER"`,
			want:   []string{`"role": "MANAGER"`, `"subject": "e2e-manager"`},
		},
		{
			name:   "subscription",
			query:  `subscription { syncEvents(filter: {types: [TICKET_CREATED]}) { kind event { customerEmail type } } }`,
			expect: "graphiql-live@example.com",
			live:   "graphiql-live@example.com",
			want:   []string{`"customerEmail": "graphiql-live@example.com"`, `"type": "TICKET_CREATED"`},
		},
		{
			name:      "example in the browser's time zone",
			tab:       "DailyFailedTickets",
			zone:      "America/Chicago",
			expect:    `"totalCount"`,
			want:      []string{`"syncEvents"`, `"totalCount"`},
			variables: []string{`"timeZone": "America/Chicago"`, `"within": "TODAY"`},
			// The saved tab was never edited, so it follows the browser.
			reopenZone: "Asia/Tokyo",
			reopened:   []string{`"timeZone": "Asia/Tokyo"`, `"within": "TODAY"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := startService(t, nil)
			root := repoRoot(t)
			env := []string{
				"BASE_URL=" + svc.srv.URL,
				"TOKEN=" + svc.token(t, auth.RoleManager),
				"QUERY=" + tc.query,
				"EXPECT=" + tc.expect,
				"TAB=" + tc.tab,
				"TIMEZONE=" + tc.zone,
				"REOPEN_TIMEZONE=" + tc.reopenZone,
			}
			if dir := os.Getenv("E2E_SCREENSHOTS"); dir != "" {
				require.NoError(t, os.MkdirAll(dir, 0o755))
				env = append(env, "SCREENSHOT="+filepath.Join(dir, "graphiql-"+tc.name+".png"))
			}
			cmd := exec.Command("node", filepath.Join(root, "scripts", "browser", "graphiql.mjs"))
			cmd.Dir = root
			cmd.Env = append(os.Environ(), env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var tick <-chan time.Time
			if tc.live != "" {
				// The page subscribes at a moment the test cannot see, so a
				// form goes in every half second until the page shows one.
				tk := time.NewTicker(500 * time.Millisecond)
				defer tk.Stop()
				tick = tk.C
			}
			serviceToken := svc.token(t, auth.RoleService)
			deadline := time.After(90 * time.Second)
			var err error
			for n, waiting := 0, true; waiting; {
				select {
				case err = <-done:
					waiting = false
				case <-tick:
					n++
					svc.submit(t, serviceToken, fmt.Sprintf("graphiql-%d", n), tc.live, "Live in GraphiQL")
				case <-deadline:
					_ = cmd.Process.Kill()
					<-done
					t.Fatalf("graphiql.mjs did not finish in 90 s; stderr: %s", stderr.String())
				}
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
			for _, w := range tc.want {
				require.Contains(t, rep.Result, w)
			}
			for _, v := range tc.variables {
				require.Contains(t, rep.Variables, v)
			}
			for _, v := range tc.reopened {
				require.Contains(t, rep.Reopened, v)
			}
			require.True(t, rep.OK)
			require.NoError(t, err, "stderr: %s", stderr.String())
		})
	}
}
