package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/auth"
)

const submitForm = `mutation Submit($input: ContactFormInput!) {
  submitContactForm(input: $input) { duplicate event { id status } }
}`

// submit sends a contact form through the API with a SERVICE token.
func (s *service) submit(t *testing.T, serviceToken, id, email, subject string) {
	t.Helper()
	var out struct {
		SubmitContactForm struct {
			Event struct{ ID, Status string }
		}
	}
	s.graphQL(t, serviceToken, submitForm, map[string]any{"input": map[string]any{
		"submissionId": id, "email": email, "name": "Wall Test", "subject": subject, "message": "Sent by the wall-screen test.",
	}}, &out)
	require.Equal(t, "PENDING", out.SubmitContactForm.Event.Status)
}

// screenshot saves a picture of the page into $E2E_SCREENSHOTS, when set.
func screenshot(t *testing.T, b *browser, name string) {
	t.Helper()
	dir := os.Getenv("E2E_SCREENSHOTS")
	if dir == "" {
		return
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	b.call("screenshot", map[string]any{"path": filepath.Join(dir, name+".png")})
}

// frame is a WebSocket frame as wall.mjs records it.
type frame struct {
	Socket  int    `json:"socket"`
	Dir     string `json:"dir"`
	Payload string `json:"payload"`
}

func frames(t *testing.T, b *browser) []frame {
	t.Helper()
	raw, err := json.Marshal(b.call("frames", nil)["frames"])
	require.NoError(t, err)
	var fs []frame
	require.NoError(t, json.Unmarshal(raw, &fs))
	return fs
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// feedCursors reads the frames of the syncEvents subscriptions: the after
// variable of each subscribe (in order) and the cursor of each change
// received (in order), each with its socket.
func feedCursors(t *testing.T, fs []frame) (subscribes, received []onSocket) {
	t.Helper()
	feedIDs := map[string]bool{} // socket/id of WallFeed subscriptions
	for _, f := range fs {
		if f.Dir == "closed" {
			continue
		}
		var m wsMessage
		require.NoError(t, json.Unmarshal([]byte(f.Payload), &m), "frame %q", f.Payload)
		key := fmt.Sprint(f.Socket, "/", m.ID)
		switch {
		case f.Dir == "sent" && m.Type == "subscribe":
			var p struct {
				Query     string
				Variables struct{ After *string }
			}
			require.NoError(t, json.Unmarshal(m.Payload, &p))
			if strings.Contains(p.Query, "subscription WallFeed") {
				feedIDs[key] = true
				after := ""
				if p.Variables.After != nil {
					after = *p.Variables.After
				}
				subscribes = append(subscribes, onSocket{f.Socket, after})
			}
		case f.Dir == "received" && m.Type == "next" && feedIDs[key]:
			var p struct {
				Data struct{ SyncEvents struct{ Cursor string } }
			}
			require.NoError(t, json.Unmarshal(m.Payload, &p))
			received = append(received, onSocket{f.Socket, p.Data.SyncEvents.Cursor})
		}
	}
	return subscribes, received
}

// onSocket is a value with the WebSocket (numbered from 1) it came over.
type onSocket struct {
	socket int
	value  string
}

func operations(t *testing.T, b *browser) []string {
	t.Helper()
	var ops []string
	for _, o := range b.call("requests", nil)["operations"].([]any) {
		ops = append(ops, o.(string))
	}
	return ops
}

// checkClean fails when the page threw, violated its Content-Security-Policy
// or tried to reach another host.
func checkClean(t *testing.T, b *browser) {
	t.Helper()
	d := b.call("diagnostics", nil)
	require.Empty(t, d["pageErrors"], "uncaught errors in the page")
	require.Empty(t, d["blocked"], "requests that would leave this machine")
	for _, m := range d["consoleErrors"].([]any) {
		require.NotContains(t, m, "Content Security Policy", "CSP violation")
	}
}

func TestWallScreen(t *testing.T) {
	requireBrowser(t)
	svc := startService(t, nil)
	px := startProxy(t, svc.srv.Listener.Addr().String())
	b := startBrowser(t, "wall.mjs")
	manager := svc.token(t, auth.RoleManager)
	serviceTok := svc.token(t, auth.RoleService)
	wall := px.URL() + "/wall"

	// Without a token the page asks for one.
	b.call("open", map[string]any{"url": wall})
	ans := b.call("waitSignin", nil)
	require.Empty(t, ans["reason"])
	require.Equal(t, "signed-out", b.call("waitState", map[string]any{"state": "signed-out"})["state"])

	// A refused token brings the prompt back with the reason.
	for _, tc := range []struct{ name, token, reason string }{
		{"not a token", "not-a-token", "token"},
		{"SERVICE cannot read the log", serviceTok, "MANAGER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.call("signin", map[string]any{"token": tc.token})
			ans := b.call("waitSignin", map[string]any{"withReason": true})
			require.Contains(t, ans["reason"], tc.reason)
		})
	}
	screenshot(t, b, "wall-signin")

	// A MANAGER token connects.
	b.call("signin", map[string]any{"token": manager})
	b.call("waitState", map[string]any{"state": "live"})
	screenshot(t, b, "wall-connected")

	// An event submitted through the API appears, PENDING and then SUCCESS,
	// with a link to its conversation.
	sent := time.Now()
	svc.submit(t, serviceTok, "wall-ok-1", "wall-ok-1@example.com", "Order 1001 arrived broken")
	b.call("waitEvent", map[string]any{"text": "wall-ok-1@example.com"})
	t.Logf("a submitted event shows %s after the mutation began", time.Since(sent).Round(time.Millisecond))
	ok := b.call("waitEvent", map[string]any{"text": "wall-ok-1@example.com", "status": "SUCCESS"})
	t.Logf("and shows SUCCESS %s after", time.Since(sent).Round(time.Millisecond))
	require.Equal(t, "TICKET_CREATED", ok["type"])
	require.Contains(t, ok["className"], "success")
	require.NotContains(t, ok["className"], "failed")
	require.EqualValues(t, 1, ok["sameId"], "the event shows once")
	require.Len(t, ok["links"], 1)
	require.Regexp(t, `^https://secure\.helpscout\.net/conversation/\d+/\d+$`, ok["links"].([]any)[0])

	// A failure stands out: its own class and colours.
	svc.submit(t, serviceTok, "wall-bad-1", "wall-bad-1-at-example.com", "Refund please")
	bad := b.call("waitEvent", map[string]any{"text": "wall-bad-1-at-example.com", "status": "FAILED"})
	require.Contains(t, bad["className"], "failed")
	require.Contains(t, bad["text"], "INVALID_EMAIL")
	require.NotEqual(t, ok["background"], bad["background"])
	require.NotEqual(t, ok["border"], bad["border"])
	require.NotEqual(t, ok["statusColor"], bad["statusColor"])

	// The figures follow: one success and one failure in the last 24 hours
	// is a 50% success rate, below the 95% line; one ticket today.
	b.call("waitText", map[string]any{"selector": "#rate", "text": "50%"})
	b.call("waitText", map[string]any{"selector": "#rate-detail", "text": "1 succeeded · 1 failed · 0 pending"})
	b.call("waitText", map[string]any{"selector": "#tickets", "text": "1"})
	screenshot(t, b, "wall-events")

	// The network fails: the page reconnects by itself, resumes after the
	// last cursor it received (no list query again) and shows what happened
	// meanwhile, once.
	cutSocket := 0
	for _, f := range frames(t, b) {
		cutSocket = max(cutSocket, f.Socket)
	}
	opsBefore := len(operations(t, b))
	cutAt := time.Now()
	require.Positive(t, px.cut(), "connections to cut")
	b.call("waitNotState", map[string]any{"state": "live"})
	svc.submit(t, serviceTok, "wall-ok-2", "wall-ok-2@example.com", "Where is my parcel?")
	b.call("waitState", map[string]any{"state": "live"})
	t.Logf("live again %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	again := b.call("waitEvent", map[string]any{"text": "wall-ok-2@example.com", "status": "SUCCESS"})
	t.Logf("the event sent meanwhile shows %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	require.EqualValues(t, 1, again["sameId"])
	for _, email := range []string{"wall-ok-1@example.com", "wall-bad-1-at-example.com"} {
		row := b.call("waitEvent", map[string]any{"text": email})
		require.EqualValues(t, 1, row["matching"], "%s shows once after the reconnect", email)
	}

	subs, got := feedCursors(t, frames(t, b))
	var lastBefore string
	for _, c := range got {
		if c.socket <= cutSocket {
			lastBefore = c.value
		}
	}
	require.NotEmpty(t, lastBefore, "changes received before the cut")
	var resumed *onSocket
	for i := range subs {
		if subs[i].socket > cutSocket {
			resumed = &subs[i]
			break
		}
	}
	require.NotNil(t, resumed, "a new subscription after the cut")
	require.Equal(t, lastBefore, resumed.value, "the feed resumes after the last cursor received")
	require.NotContains(t, operations(t, b)[opsBefore:], "WallEvents", "no list query on reconnect")

	// A longer outage: once the feed has been down for a few seconds, the
	// screen says that what it shows is not live and dims it; it recovers
	// by itself when the server is back.
	require.Positive(t, px.hold(), "connections to cut")
	stale := b.call("waitShown", map[string]any{"selector": "#stale"})
	require.Contains(t, stale["text"], "Not live")
	b.call("waitShown", map[string]any{"selector": "body[data-stale]"})
	require.NotEqual(t, "live", b.call("waitNotState", map[string]any{"state": "live"})["state"])
	screenshot(t, b, "wall-stale")
	px.release()
	b.call("waitState", map[string]any{"state": "live"})
	b.call("waitShown", map[string]any{"selector": "#stale", "shown": false})
	b.call("waitShown", map[string]any{"selector": "body[data-stale]", "shown": false})

	// Reloaded, the page uses the token it kept.
	b.call("open", map[string]any{"url": wall})
	b.call("waitState", map[string]any{"state": "live"})
	b.call("waitEvent", map[string]any{"text": "wall-ok-2@example.com", "status": "SUCCESS"})

	// A token in the URL fragment wins over the kept one and leaves the
	// address bar.
	b.call("open", map[string]any{"url": wall + "#token=garbage"})
	ans = b.call("waitSignin", map[string]any{"withReason": true})
	require.NotEmpty(t, ans["reason"])
	require.Equal(t, wall, b.call("url", nil)["url"])

	checkClean(t, b)
}

func TestWallScreenDemoToken(t *testing.T) {
	requireBrowser(t)
	kiva, err := auth.NewIssuer(testSecret).Issue("demo-kiva", auth.RoleKivaAdmin, time.Hour)
	require.NoError(t, err)
	svc := startService(t, map[string]string{"Authorization": "Bearer " + kiva})
	b := startBrowser(t, "wall.mjs")
	// A token in the address gives way to the demo's, and leaves the
	// address bar all the same.
	b.call("open", map[string]any{"url": svc.srv.URL + "/wall#token=another.token.value"})
	b.call("waitState", map[string]any{"state": "live"})
	require.NotContains(t, b.call("url", nil)["url"], "token", "the token stays in the address bar")
	svc.submit(t, svc.token(t, auth.RoleService), "demo-1", "demo-1@example.com", "Hello")
	b.call("waitEvent", map[string]any{"text": "demo-1@example.com", "status": "SUCCESS"})
	b.call("waitText", map[string]any{"selector": "#tickets", "text": "1"})
	checkClean(t, b)
}

// The wall fits TV screens, a small one and a portrait one: nothing leaves
// the screen, no feed row is cut in half, long addresses and errors are cut
// short inside their own boxes, the type grows with the screen, and a burst
// of events leaves the list at its fixed length.
func TestWallScreenLayout(t *testing.T) {
	requireBrowser(t)
	kiva, err := auth.NewIssuer(testSecret).Issue("demo-kiva", auth.RoleKivaAdmin, time.Hour)
	require.NoError(t, err)
	svc := startService(t, map[string]string{"Authorization": "Bearer " + kiva})
	serviceTok := svc.token(t, auth.RoleService)
	b := startBrowser(t, "wall.mjs")
	b.call("open", map[string]any{"url": svc.srv.URL + "/wall"})
	b.call("waitState", map[string]any{"state": "live"})

	const burst, feedSize = 36, 30
	for i := range burst {
		svc.submit(t, serviceTok, fmt.Sprintf("burst-%d", i), fmt.Sprintf("burst-%d@example.com", i), "Burst")
	}
	long := strings.Repeat("a-very-long-mailbox-name-", 2) + "0123456789@customers.of.a.long.subdomain.example.com"
	svc.submit(t, serviceTok, "long-1", long, strings.Repeat("A subject that goes on and on ", 8))
	svc.submit(t, serviceTok, "bad-long-1", strings.Repeat("not-an-address-", 6), "Refund")
	b.call("waitEvent", map[string]any{"text": fmt.Sprintf("burst-%d@example.com", burst-1), "status": "SUCCESS"})
	b.call("waitEvent", map[string]any{"text": long})
	b.call("waitEvent", map[string]any{"text": strings.Repeat("not-an-address-", 6), "status": "FAILED"})
	b.call("waitEvent", map[string]any{"text": long, "status": "SUCCESS"})
	// Today's tickets follow the burst: every form but the malformed one.
	b.call("waitText", map[string]any{"selector": "#tickets", "text": fmt.Sprint(burst + 1)})

	fonts := map[string]float64{}
	for _, size := range []struct{ w, h int }{{1920, 1080}, {3840, 2160}, {1280, 720}, {1080, 1920}} {
		name := fmt.Sprintf("%dx%d", size.w, size.h)
		t.Run(name, func(t *testing.T) {
			l := b.call("layout", map[string]any{"width": size.w, "height": size.h})
			screenshot(t, b, "wall-"+name)
			require.Empty(t, l["outside"], "elements outside the screen")
			require.Empty(t, l["cut"], "feed rows cut by the list's edge")
			require.Empty(t, l["spills"], "row parts outside their row")
			require.EqualValues(t, feedSize, l["rows"], "the list keeps its length")
			require.GreaterOrEqual(t, l["visibleRows"], float64(6), "rows shown")
			scroll := l["scroll"].(map[string]any)
			require.LessOrEqual(t, scroll["width"], float64(size.w), "no horizontal scrolling")
			require.LessOrEqual(t, scroll["height"], float64(size.h), "no vertical scrolling")
			var truncated []string
			for _, s := range l["truncated"].([]any) {
				truncated = append(truncated, s.(string))
			}
			require.Contains(t, truncated, long, "the long address is cut short in its box")
			fonts[name] = l["fontSize"].(float64)
		})
	}
	require.InDelta(t, 2*fonts["1920x1080"], fonts["3840x2160"], 1, "a 4K screen shows the 1080p layout at twice the size")
	require.GreaterOrEqual(t, fonts["1080x1920"], 0.9*fonts["1920x1080"], "a portrait screen keeps the type legible")
	checkClean(t, b)
}

// A token that expires while the wall is open brings the prompt back,
// saying so. The token must outlive the page's start: on a machine so busy
// that it does not, the test tries again with a longer-lived token (each
// wait stays within the 60 s a browser command may take).
func TestWallScreenTokenExpiry(t *testing.T) {
	requireBrowser(t)
	svc := startService(t, nil)
	for _, life := range []time.Duration{8 * time.Second, 20 * time.Second, 35 * time.Second} {
		b := startBrowser(t, "wall.mjs")
		tok, err := svc.issuer.Issue("e2e-expiring", auth.RoleManager, life)
		require.NoError(t, err)
		issued := time.Now()
		b.call("open", map[string]any{"url": svc.srv.URL + "/wall#token=" + tok})
		if _, err := b.try("waitState", map[string]any{"state": "live", "timeoutMs": life.Milliseconds()}); err != nil {
			require.Greater(t, time.Since(issued), life, "the wall did not go live while its token was valid: %v", err)
			t.Logf("the token expired before the wall went live (%v); trying a longer one", err)
			continue
		}
		ans := b.call("waitSignin", map[string]any{"withReason": true, "timeoutMs": (life + 20*time.Second).Milliseconds()})
		require.Contains(t, ans["reason"], "expired")
		state := b.call("waitState", map[string]any{"state": "signed-out"})
		require.Equal(t, "Token expired", state["text"])
		screenshot(t, b, "wall-expired")
		checkClean(t, b)
		return
	}
	t.Fatal("the wall never went live before its token expired")
}
