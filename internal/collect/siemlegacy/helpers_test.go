package siemlegacy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/collect/collecttest"
	"github.com/castwatch/castwatch/internal/mimecast"
)

const (
	testAppID     = "app-id"
	testAppKey    = "app-key"
	testAccessKey = "access-key"
)

var testSecret = base64.StdEncoding.EncodeToString([]byte("the-secret-key"))

// legacyFile is one file of the fake's token chain.
type legacyFile struct {
	name string
	body string // the log file text inside the zip
	// answer overrides the file once: "empty" (no body), "notzip" (plain text)
	answer []string
}

// fakeV1 serves get-siem-logs: files[i] is served for token "" (i=0) or "tok-i"; the token after the last file
// answers the isLastToken marker. It checks every request's HMAC signature the documented way.
type fakeV1 struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	files    []*legacyFile
	requests []map[string]any
	invalid  map[string]bool // tokens answered err_audit_siem_invalid_token
	sigFails int
}

func newFakeV1(t *testing.T, files ...*legacyFile) *fakeV1 {
	f := &fakeV1{t: t, files: files, invalid: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func v1Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"meta":{"isLastToken":false,"status":%d},"fail":[{"errors":[{"code":%q,"message":%q,"retryable":false}]}]}`, status, code, msg)
}

func (f *fakeV1) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != PathSIEMLogs {
		http.NotFound(w, r)
		return
	}
	date, reqID := r.Header.Get("x-mc-date"), r.Header.Get("x-mc-req-id")
	if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 UTC", date); err != nil || reqID == "" || r.Header.Get("x-mc-app-id") != testAppID {
		v1Error(w, http.StatusBadRequest, "err_xdk_client_unauthorized", "0001 Credentials Missing")
		return
	}
	key, _ := base64.StdEncoding.DecodeString(testSecret)
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(date + ":" + reqID + ":" + r.URL.Path + ":" + testAppKey))
	want := "MC " + testAccessKey + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if r.Header.Get("Authorization") != want {
		f.mu.Lock()
		f.sigFails++
		f.mu.Unlock()
		v1Error(w, http.StatusUnauthorized, "err_xdk_invalid_signature", "0004 Invalid Signature")
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		v1Error(w, http.StatusBadRequest, "err_bad_request", "body")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	item := req["data"].([]any)[0].(map[string]any)
	if item["type"] != "MTA" || item["compress"] != true {
		v1Error(w, http.StatusOK, "err_validation", "type MTA and compress expected")
		return
	}
	tok, _ := item["token"].(string)
	if f.invalid[tok] {
		v1Error(w, http.StatusOK, CodeInvalidToken, "The token is invalid or has expired")
		return
	}
	idx := 0
	if tok != "" {
		if _, err := fmt.Sscanf(tok, "tok-%d", &idx); err != nil {
			v1Error(w, http.StatusOK, CodeInvalidToken, "unknown token")
			return
		}
	}
	if idx >= len(f.files) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("mc-siem-token", tok)
		_, _ = io.WriteString(w, `{"meta":{"isLastToken":true,"status":200},"data":[],"fail":[]}`)
		return
	}
	lf := f.files[idx]
	answer := ""
	if len(lf.answer) > 0 {
		answer, lf.answer = lf.answer[0], lf.answer[1:]
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.TrimSuffix(lf.name, ".log")+`.zip"`)
	w.Header().Set("mc-siem-token", fmt.Sprintf("tok-%d", idx+1))
	switch answer {
	case "empty":
		return
	case "notzip":
		_, _ = io.WriteString(w, lf.body)
		return
	}
	_, _ = w.Write(zipOf(lf.name, lf.body))
}

func (f *fakeV1) tokensAsked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		tok, _ := r["data"].([]any)[0].(map[string]any)["token"].(string)
		out = append(out, tok)
	}
	return out
}

func zipOf(name, body string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create(name)
	_, _ = io.WriteString(w, body)
	_ = zw.Close()
	return b.Bytes()
}

func newSigner(t *testing.T, secret string) *mimecast.HMACSigner {
	t.Helper()
	s, err := mimecast.NewHMACSigner(mimecast.HMACConfig{AppID: testAppID, AppKey: testAppKey, AccessKey: testAccessKey,
		SecretKey: secret}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newHTTPClient is the shared Mimecast client with the API 1.0 signer, as the app builds it, with quick retries.
func newHTTPClient(t *testing.T, base string, signer mimecast.Authorizer) *mimecast.Client {
	t.Helper()
	c, err := mimecast.New(mimecast.Config{BaseURL: base, MaxRetries: 3, MinBackoff: time.Millisecond,
		MaxBackoff: 2 * time.Millisecond}, mimecast.WithAuthorizer(signer))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openBus(t *testing.T) *bus.Bus { return collecttest.OpenBus(t) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// drainBatches reads every batch on the bus.
func drainBatches(t *testing.T, b *bus.Bus) []collect.Batch {
	t.Helper()
	var out []collect.Batch
	for _, m := range collecttest.Drain(t, b) {
		bt, err := collect.DecodeBatch(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bt)
	}
	return out
}

// failingPublisher fails the publish number failAt (1-based), then passes everything to the bus.
type failingPublisher struct {
	next   collect.Publisher
	mu     sync.Mutex
	n      int
	failAt int
}

func (p *failingPublisher) Publish(ctx context.Context, subject, id string, data []byte) (bool, error) {
	p.mu.Lock()
	p.n++
	n := p.n
	p.mu.Unlock()
	if n == p.failAt {
		return false, errors.New("bus unavailable")
	}
	return p.next.Publish(ctx, subject, id, data)
}
