package sim

import (
	"archive/zip"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// v1Client signs API 1.0 requests itself, from the documented algorithm.
type v1Client struct {
	t                             *testing.T
	base                          string
	access, secret, appID, appKey string
	n                             int
}

func newV1Client(t *testing.T, s *Sim, base string) *v1Client {
	o := s.Options()
	return &v1Client{t: t, base: base, access: o.AccessKey, secret: o.SecretKey, appID: o.AppID, appKey: o.AppKey}
}

// sign returns the Authorization signature: base64(HMAC-SHA1(base64decode(secret), date:reqID:uri:appKey)).
func (c *v1Client) sign(date, reqID, uri string) string {
	key, err := base64.StdEncoding.DecodeString(c.secret)
	if err != nil {
		c.t.Fatal(err)
	}
	mac := hmac.New(sha1.New, key)
	io.WriteString(mac, date+":"+reqID+":"+uri+":"+c.appKey)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// do posts body to path, signed over signPath (the path itself for a correct client).
func (c *v1Client) do(path, signPath string, body any, tamper func(h http.Header)) (int, http.Header, []byte) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	c.n++
	date := time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05") + " UTC"
	reqID := fmt.Sprintf("8578FCFC-A305-4D9A-99CB-%012X", c.n)
	req.Header.Set("x-mc-date", date)
	req.Header.Set("x-mc-req-id", reqID)
	req.Header.Set("x-mc-app-id", c.appID)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "MC "+c.access+":"+c.sign(date, reqID, signPath))
	if tamper != nil {
		tamper(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

func v1Code(body []byte) string {
	var p apiResponse
	_ = json.Unmarshal(body, &p)
	return p.failCode()
}

func TestV1Signature(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Options{Seed: 71, Mailboxes: 10, Days: 1})
	c := newV1Client(t, s, srv.URL)
	siemBody := map[string]any{"data": []any{map[string]any{"type": "MTA"}}}
	tests := []struct {
		name     string
		signPath string
		tamper   func(h http.Header)
		status   int
		code     string
	}{
		{"correctly signed", PathSIEMLogs, nil, http.StatusOK, ""},
		{"signed over the full URL", srv.URL + PathSIEMLogs, nil, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"signed over path and query", PathSIEMLogs + "?x=1", nil, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"date changed after signing", PathSIEMLogs, func(h http.Header) { h.Set("x-mc-date", "Tue, 24 Nov 2015 12:50:11 UTC") }, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"request id changed after signing", PathSIEMLogs, func(h http.Header) { h.Set("x-mc-req-id", "another") }, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"wrong access key", PathSIEMLogs, func(h http.Header) {
			h.Set("Authorization", strings.Replace(h.Get("Authorization"), c.access, "someone-else", 1))
		}, http.StatusUnauthorized, "err_xdk_client_unauthorized"},
		{"wrong application", PathSIEMLogs, func(h http.Header) { h.Set("x-mc-app-id", "other-app") }, http.StatusUnauthorized, "err_xdk_client_unauthorized"},
		{"missing date", PathSIEMLogs, func(h http.Header) { h.Del("x-mc-date") }, http.StatusBadRequest, "err_xdk_client_unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := c.do(PathSIEMLogs, tt.signPath, siemBody, tt.tamper)
			if status != tt.status || (tt.code != "" && v1Code(body) != tt.code) {
				t.Fatalf("status %d, code %q; want %d %q (%s)", status, v1Code(body), tt.status, tt.code, body)
			}
			if tt.code == "err_xdk_invalid_signature" && !bytes.Contains(body, []byte(`"message":"0004 Invalid Signature"`)) {
				t.Errorf("body %s", body)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		bad := *c
		bad.secret = base64.StdEncoding.EncodeToString([]byte("not the secret"))
		if status, _, body := bad.do(PathSIEMLogs, PathSIEMLogs, siemBody, nil); status != http.StatusUnauthorized || v1Code(body) != "err_xdk_invalid_signature" {
			t.Errorf("status %d, %s", status, body)
		}
	})
	t.Run("exported signer matches the documented algorithm", func(t *testing.T) {
		got, err := V1Signature(c.secret, "d", "r", "/p", c.appKey)
		if err != nil || got != c.sign("d", "r", "/p") {
			t.Errorf("V1Signature = %q, %v", got, err)
		}
		if _, err := V1Signature("%%%", "d", "r", "/p", "k"); err == nil {
			t.Error("a secret that is not base64 was accepted")
		}
	})
	t.Run("binding expired", func(t *testing.T) {
		s.ExpireBinding(true)
		status, _, body := c.do(PathSIEMLogs, PathSIEMLogs, siemBody, nil)
		s.ExpireBinding(false)
		if status != http.StatusTeapot || v1Code(body) != "err_xdk_binding_expired" {
			t.Errorf("status %d, %s", status, body)
		}
		if status, _, _ := c.do(PathSIEMLogs, PathSIEMLogs, siemBody, nil); status != http.StatusOK {
			t.Errorf("status %d after renewing the binding", status)
		}
	})
	t.Run("signed audit call", func(t *testing.T) {
		status, _, body := c.do(PathAuditEvents, PathAuditEvents, auditBody("2026-03-10T00:00:00+0000", "2026-03-10T12:00:00+0000", 500, ""), nil)
		var p apiResponse
		_ = json.Unmarshal(body, &p)
		if status != http.StatusOK || len(p.Fail) > 0 || len(p.Data) == 0 {
			t.Errorf("status %d, %d records, fail %v", status, len(p.Data), p.Fail)
		}
	})
	t.Run("not on the SIEM batch routes", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+PathSIEMBatchCG+"?type=receipt", nil)
		req.Header.Set("Authorization", "MC "+c.access+":x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
	})
	if st := s.Stats(); st.BadSignatures < 5 || st.BindingExpired != 1 {
		t.Errorf("stats %+v", st)
	}
}

var kvLine = regexp.MustCompile(`^datetime=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4})\|aCode=[A-Za-z0-9_-]+\|acc=CUSA[0-9A-F]+(\|[A-Za-z][A-Za-z0-9]*=[^|]*)+$`)

// siemLogs follows get-siem-logs from no token to isLastToken and returns every file name and body.
func (c *v1Client) siemLogs(format string, compress bool, token string) (names []string, bodies [][]byte, last string) {
	c.t.Helper()
	for range 2000 {
		q := map[string]any{"type": "MTA", "fileFormat": format, "compress": compress}
		if token != "" {
			q["token"] = token
		}
		status, hdr, body := c.do(PathSIEMLogs, PathSIEMLogs, map[string]any{"data": []any{q}}, nil)
		if status != http.StatusOK {
			c.t.Fatalf("status %d: %s", status, body)
		}
		if strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			var end struct {
				Meta struct {
					IsLastToken bool `json:"isLastToken"`
				} `json:"meta"`
				Fail []json.RawMessage `json:"fail"`
			}
			_ = json.Unmarshal(body, &end)
			if !end.Meta.IsLastToken || len(end.Fail) > 0 {
				c.t.Fatalf("JSON answer that is not the end marker: %s", body)
			}
			return names, bodies, token
		}
		m := regexp.MustCompile(`filename="([^"]+)"`).FindStringSubmatch(hdr.Get("Content-Disposition"))
		if m == nil || hdr.Get("mc-siem-token") == "" {
			c.t.Fatalf("file without name or token: %v", hdr)
		}
		if compress {
			zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
			if err != nil || len(zr.File) != 1 {
				c.t.Fatalf("compressed answer is not a zip with one file: %v", err)
			}
			f, _ := zr.File[0].Open()
			body, _ = io.ReadAll(f)
		}
		names = append(names, m[1])
		bodies = append(bodies, body)
		token = hdr.Get("mc-siem-token")
	}
	c.t.Fatal("get-siem-logs never ended")
	return nil, nil, ""
}

func TestLegacySIEMLogs(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testNow)
	s, srv := newTestSim(t, Options{Seed: 72, Mailboxes: 8, Days: 1, Now: clock.Now})
	c := newV1Client(t, s, srv.URL)
	want := s.LegacySIEMFiles()
	if len(want) < 20 {
		t.Fatalf("only %d files", len(want))
	}
	names, bodies, last := c.siemLogs("key_value", false, "")
	if len(names) != len(want) {
		t.Fatalf("%d files served, ground truth %d", len(names), len(want))
	}
	records := 0
	for i, f := range want {
		if names[i] != f.Name || string(bodies[i]) != strings.Join(f.Lines(), "\n")+"\n" {
			t.Fatalf("file %d: %s differs from ground truth %s", i, names[i], f.Name)
		}
		for _, line := range f.Lines() {
			m := kvLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("not a key_value line: %s", line)
			}
			local, _ := time.Parse("2006-01-02T15:04:05-0700", m[1])
			if _, off := local.Zone(); off != func() int { _, o := local.In(s.acct).Zone(); return o }() {
				t.Errorf("datetime %s is not in the account's offset", m[1])
			}
			records++
		}
	}
	batch := 0
	for _, lt := range legacyTypes {
		evs, _ := s.SIEMEvents(lt.typ, testNow.Add(-24*time.Hour), s.SIEMAvailableUntil().Add(-time.Millisecond))
		batch += len(evs)
	}
	if records != batch {
		t.Errorf("%d legacy records, %d batch events in the same periods", records, batch)
	}
	prefixes := map[string]bool{}
	for _, n := range names {
		prefixes[n[:strings.LastIndex(n, "_")]] = true
	}
	for _, p := range []string{"receipt", "process", "delivery", "jrnl", "spam"} {
		if !prefixes[p] {
			t.Errorf("no %s_ file", p)
		}
	}

	t.Run("json", func(t *testing.T) {
		_, bodies, _ := c.siemLogs("json", false, "")
		if len(bodies) != len(want) {
			t.Fatalf("%d files", len(bodies))
		}
		for i, b := range bodies {
			var f struct {
				Type string           `json:"type"`
				Data []map[string]any `json:"data"`
			}
			if err := json.Unmarshal(b, &f); err != nil || f.Type != "MTA" || len(f.Data) != len(want[i].Records) {
				t.Fatalf("file %d: %v, %d records", i, err, len(f.Data))
			}
		}
	})
	t.Run("compressed", func(t *testing.T) {
		names, zipped, _ := c.siemLogs("key_value", true, "")
		if len(zipped) != len(want) || !strings.HasSuffix(names[0], ".zip") {
			t.Fatalf("%d files, first %q", len(zipped), names[0])
		}
		for i := range zipped {
			if !bytes.Equal(zipped[i], bodies[i]) {
				t.Fatalf("zipped file %d differs", i)
			}
		}
	})
	t.Run("new files behind the last token", func(t *testing.T) {
		clock.Advance(time.Hour)
		defer clock.Advance(-time.Hour)
		more, _, _ := c.siemLogs("key_value", false, last)
		if len(more) == 0 {
			t.Error("no new files an hour later")
		}
		for _, n := range more {
			for _, old := range names {
				if n == old {
					t.Errorf("file %s served again", n)
				}
			}
		}
	})
	for _, tc := range []struct {
		name string
		q    map[string]any
		code string
	}{
		{"forged token", map[string]any{"type": "MTA", "token": "abc"}, "err_audit_siem_invalid_token"},
		{"other type", map[string]any{"type": "AUDIT"}, "err_validation_invalid_type"},
		{"other format", map[string]any{"type": "MTA", "fileFormat": "csv"}, "err_validation_invalid_file_format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := c.do(PathSIEMLogs, PathSIEMLogs, map[string]any{"data": []any{tc.q}}, nil)
			if status != http.StatusOK || v1Code(body) != tc.code {
				t.Errorf("status %d, code %q, want %q", status, v1Code(body), tc.code)
			}
		})
	}
	t.Run("token past retention", func(t *testing.T) {
		clock.Advance(8 * 24 * time.Hour)
		defer clock.Advance(-8 * 24 * time.Hour)
		status, _, body := c.do(PathSIEMLogs, PathSIEMLogs, map[string]any{"data": []any{map[string]any{"type": "MTA", "token": last}}}, nil)
		if status != http.StatusOK || v1Code(body) != "err_audit_siem_invalid_token" {
			t.Errorf("status %d, %s", status, body)
		}
	})
}
