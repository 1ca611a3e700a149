package mimecast

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // API 1.0 mandates HMAC-SHA1.
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	testHMACSecret = "Y2FzdHdhdGNoLXRlc3Qtc2VjcmV0LWtleS1ieXRlcyE=" // base64("castwatch-test-secret-key-bytes!")
	testAppKey     = "app-key-123"
)

func TestHMACSignatureKnownAnswer(t *testing.T) {
	s, err := NewHMACSigner(HMACConfig{AppID: "app-id", AppKey: testAppKey, AccessKey: "access", SecretKey: testHMACSecret}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const date, reqID, uri = "Tue, 24 Nov 2015 12:50:11 UTC", "8578FCFC-A305-4D9A-99CB-F4D5ECEFE297", "/api/audit/get-siem-logs"
	// Computed independently (openssl dgst -sha1 -hmac over the documented string).
	const want = "j/bH5FMrO6LfwZ6NwPbLbHdXoXQ="
	if got := s.Signature(date, reqID, uri); got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
	// The documented algorithm, step by step.
	key, _ := base64.StdEncoding.DecodeString(testHMACSecret)
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(date + ":" + reqID + ":" + uri + ":" + testAppKey))
	if got := base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("documented algorithm gives %s, want %s", got, want)
	}
	if other := s.Signature(date, reqID, "/api/audit/get-audit-events"); other == want {
		t.Error("signature does not depend on the uri")
	}
}

func TestNewHMACSignerValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     HMACConfig
		wantErr string
	}{
		{name: "ok", cfg: HMACConfig{AppID: "a", AppKey: "k", AccessKey: "x", SecretKey: testHMACSecret}},
		{name: "missing app key", cfg: HMACConfig{AppID: "a", AccessKey: "x", SecretKey: testHMACSecret}, wantErr: "are required"},
		{name: "secret not base64", cfg: HMACConfig{AppID: "a", AppKey: "k", AccessKey: "x", SecretKey: "not*base64!"}, wantErr: "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHMACSigner(tt.cfg, nil, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.cfg.SecretKey) {
				t.Errorf("secret in error: %v", err)
			}
		})
	}
}

// verifyingServer checks API 1.0 signatures the way the documentation describes them.
func verifyingServer(t *testing.T, secret string) (*httptest.Server, *recorder) {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(secret)
	rec := &recorder{}
	srv := httptest.NewServer(rec.wrap(func(w http.ResponseWriter, r *http.Request) {
		date, reqID := r.Header.Get(HeaderMCDate), r.Header.Get(HeaderMCReqID)
		mac := hmac.New(sha1.New, key)
		mac.Write([]byte(date + ":" + reqID + ":" + r.URL.Path + ":" + testAppKey))
		want := "MC access-key:" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if r.Header.Get(HeaderMCAppID) != "app-id" || r.Header.Get("Authorization") != want {
			jsonHandler(401, `{"meta":{"isLastToken":false,"status":401},"fail":[{"errors":[{"code":"err_xdk_invalid_signature","message":"0004 Invalid Signature","retryable":false}]}]}`)(w, r)
			return
		}
		jsonHandler(200, okPage)(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func TestHMACSignerWithClient(t *testing.T) {
	now := func() time.Time { return time.Date(2015, 11, 24, 12, 50, 11, 0, time.FixedZone("x", 3600)) }
	tests := []struct {
		name         string
		clientSecret string
		wantErr      string
		wantRequests int
	}{
		{name: "valid signature", clientSecret: testHMACSecret, wantRequests: 1},
		{name: "wrong key", clientSecret: base64.StdEncoding.EncodeToString([]byte("wrong")), wantErr: "err_xdk_invalid_signature", wantRequests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := verifyingServer(t, testHMACSecret)
			signer, err := NewHMACSigner(HMACConfig{AppID: "app-id", AppKey: testAppKey, AccessKey: "access-key", SecretKey: tt.clientSecret}, now, nil)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			c, err := New(Config{BaseURL: srv.URL}, WithAuthorizer(signer), WithHTTPClient(srv.Client()), WithClock(clock.Now), WithSleep(clock.Sleep))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.FetchPage(context.Background(), PageRequest{Path: "/api/audit/get-siem-logs"})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("FetchPage: %v", err)
			}
			if tt.wantErr != "" && (!IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want permanent %s", err, tt.wantErr)
			}
			reqs := rec.all()
			if len(reqs) != tt.wantRequests {
				t.Errorf("requests = %d, want %d", len(reqs), tt.wantRequests)
			}
			if got := reqs[0].Header.Get(HeaderMCDate); got != "Tue, 24 Nov 2015 11:50:11 UTC" {
				t.Errorf("x-mc-date = %q", got)
			}
			guid := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
			if id := reqs[0].Header.Get(HeaderMCReqID); !guid.MatchString(id) {
				t.Errorf("x-mc-req-id = %q, want a GUID", id)
			}
			if len(reqs) > 1 && reqs[0].Header.Get(HeaderMCReqID) == reqs[1].Header.Get(HeaderMCReqID) {
				t.Error("request id reused across requests")
			}
		})
	}
}

func TestBindingExpiredIsPermanent(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(418, `{"fail":[{"errors":[{"code":"err_xdk_binding_expired","message":"Binding Expired","retryable":false}]}]}`)})
	_, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
	if !IsPermanent(err) || !strings.Contains(err.Error(), "err_xdk_binding_expired") {
		t.Fatalf("err = %v", err)
	}
	if got := e.rec.count(auditPath); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}
