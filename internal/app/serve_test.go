package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/schema"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServe runs the whole server: the scheduler collects at start, the connectors API reports it, a sync-now
// request runs the streams again, a raw line sent by syslog is stored, and cancelling stops everything cleanly.
func TestServe(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	s := simTenant(t, "", now)
	api := httptest.NewServer(s.Handler())
	defer api.Close()
	cfg := testConfig(t, api.URL)
	cfg.Syslog.TCP = freePort(t)
	a, err := Open(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	token, _, err := a.Auth().CreateToken(context.Background(), "serve test", auth.RoleAdmin, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, url string) (*http.Response, error) {
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return http.DefaultClient.Do(req)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, "127.0.0.1:0", func(u string) { ready <- u }) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("serve ended at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}

	connector := func() map[string]any {
		res, err := call(http.MethodGet, base+"/api/v1/connectors")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Connectors []map[string]any `json:"connectors"`
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || len(body.Connectors) == 0 {
			return nil
		}
		return body.Connectors[0]
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("the first collection", func() bool { c := connector(); return c != nil && c["state"] == "ok" })
	first := connector()["last_run"]

	res, err := call(http.MethodPost, base+"/api/v1/sync")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("sync now answered %d", res.StatusCode)
	}
	waitFor("the requested collection", func() bool { c := connector(); return c != nil && c["last_run"] != first && c["state"] == "ok" })

	// A raw audit record sent over syslog (RFC 5424, newline framing) lands in Audit_CL.
	conn, err := net.Dial("tcp", cfg.Syslog.TCP)
	if err != nil {
		t.Fatal(err)
	}
	at := now.Add(-time.Minute).Format("2006-01-02T15:04:05-0700")
	line := fmt.Sprintf(`{"id":"syslog-1","auditType":"User Logged On","user":"amy@example.com","eventTime":%q,"eventInfo":"Successful authentication for amy@example.com, IP: 203.0.113.5, Application: Mimecast Personal Portal","category":"authentication_logs"}`, at)
	fmt.Fprintf(conn, "<134>1 %s mx1 mimecast - - - %s\n", time.Now().UTC().Format(time.RFC3339), line)
	conn.Close()
	waitFor("the syslog record", func() bool {
		r, err := a.Store().Query(context.Background(), `SELECT count(*) FROM Audit_CL WHERE id = 'syslog-1' AND tenant = 'default'`)
		return err == nil && fmt.Sprint(r.Rows[0][0]) == "1"
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if n, _ := a.Store().Count(context.Background(), schema.Audit.Name); n == 0 {
		t.Fatal("nothing collected")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("base url %q", base)
	}
}
