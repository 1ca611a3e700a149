package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoShowsNotableUsers runs `castwatch demo` as a user would and checks, over HTTP with the login it prints,
// that the simulated tenant's attack stories make notable users whose session timelines list the reasons, and that
// the dashboards have data.
func TestDemoShowsNotableUsers(t *testing.T) {
	cmd := exec.Command(os.Args[0], "demo", "--addr", "127.0.0.1:0", "--mailboxes", "15", "--days", "6",
		"--story-days", "2", "--seed", "3")
	cmd.Env = append(os.Environ(), "CASTWATCH_TEST_MAIN=1", "CASTWATCH_DATA_DIR="+t.TempDir(),
		"CASTWATCH_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("the demo did not stop within 30 s of Ctrl-C")
		}
	})

	base, password := readDemoBanner(t, stdout)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := client.PostForm(base+"/login", url.Values{"username": {"admin"}, "password": {password}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/" {
		t.Fatalf("login with the printed password: %d at %s", res.StatusCode, res.Request.URL)
	}

	// Collection, then analytics (kicked by every collection run that stored rows) take a little while.
	var notable []struct {
		ID       string `json:"id"`
		User     string `json:"user"`
		Score    int    `json:"score"`
		Notable  bool   `json:"notable"`
		Findings []struct {
			Reason string `json:"reason"`
		} `json:"findings"`
	}
	deadline := time.Now().Add(6 * time.Minute)
	for len(notable) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no notable user within 6 minutes; demo log:\n%s", stderr.String())
		}
		time.Sleep(3 * time.Second)
		var list struct {
			Sessions []struct {
				ID       string `json:"id"`
				User     string `json:"user"`
				Score    int    `json:"score"`
				Notable  bool   `json:"notable"`
				Findings []struct {
					Reason string `json:"reason"`
				} `json:"findings"`
			} `json:"sessions"`
		}
		getJSON(t, client, base+"/api/v1/risk/sessions?range=7d", &list)
		for _, s := range list.Sessions {
			if s.Notable {
				notable = append(notable, s)
			}
		}
	}
	s := notable[0]
	if s.Score < 90 || len(s.Findings) < 2 || s.Findings[0].Reason == "" {
		t.Errorf("notable session %+v: want a score of at least 90 from several explained findings", s)
	}
	body := getBody(t, client, base+"/risk/"+s.ID)
	if n := strings.Count(body, `class="finding-row"`); n != len(s.Findings) {
		t.Errorf("the session timeline shows %d findings, the API %d", n, len(s.Findings))
	}
	if !strings.Contains(body, s.Findings[0].Reason) && !strings.Contains(body, htmlEscape(s.Findings[0].Reason)) {
		t.Errorf("the session timeline lacks the reason %q", s.Findings[0].Reason)
	}
	if !strings.Contains(body, "ip-location-db") {
		t.Error("the pages do not credit the built-in GeoIP database")
	}
	body = getBody(t, client, base+"/incidents/ueba-"+s.ID)
	if !strings.Contains(body, s.User) {
		t.Errorf("the notable session's incident does not name %s", s.User)
	}
	var panel struct {
		Rows [][]any `json:"rows"`
	}
	getJSON(t, client, base+"/api/v1/dashboards/audit/panels/by-type?range=7d", &panel)
	if len(panel.Rows) == 0 {
		t.Error("the Audit dashboard has no data")
	}
}

// readDemoBanner reads the demo's start-up lines: the URL and the admin password it prints once.
func readDemoBanner(t *testing.T, r io.Reader) (base, password string) {
	t.Helper()
	urlRe := regexp.MustCompile(`castwatch demo: open (https?://\S+)`)
	pwRe := regexp.MustCompile(`log in as user admin with password (\S+)`)
	found := make(chan [2]string, 1)
	go func() {
		var got [2]string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
				got[0] = m[1]
			}
			if m := pwRe.FindStringSubmatch(sc.Text()); m != nil {
				got[1] = m[1]
			}
			if got[0] != "" && got[1] != "" {
				found <- got
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case got := <-found:
		return got[0], got[1]
	case <-time.After(2 * time.Minute):
		t.Fatal("the demo did not print its URL and login within 2 minutes")
	}
	return "", ""
}

func getBody(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %v:\n%s", u, res.StatusCode, err, b)
	}
	return string(b)
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getBody(t, c, u)), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// htmlEscape escapes what html/template escapes in text.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}
