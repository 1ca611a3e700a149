package mimecast

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const filePath = "/bucket/batch-0001.gz"

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGetFile(t *testing.T) {
	const ndjson = "{\"type\":\"receipt\",\"timestamp\":1}\n{\"type\":\"receipt\",\"timestamp\":2}\n"
	payload := gzipped(t, ndjson)
	serveFile := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(payload)
	}
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		wantErr      string
		wantPerm     bool
		wantRequests int
	}{
		{name: "downloads without credentials", handler: serveFile, wantRequests: 1},
		{name: "transient error retried", handler: sequence(jsonHandler(503, ``), serveFile), wantRequests: 2},
		{name: "expired url is permanent", handler: jsonHandler(403, `<Error><Code>AccessDenied</Code></Error>`), wantErr: "HTTP 403", wantPerm: true, wantRequests: 1},
		{name: "missing object is permanent", handler: jsonHandler(404, ``), wantErr: "HTTP 404", wantPerm: true, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{filePath: tt.handler, auditPath: jsonHandler(200, okPage)})
			// A data call first, so a token is cached and could leak into the file request.
			if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
				t.Fatal(err)
			}
			url := e.srv.URL + filePath + "?X-Amz-Signature=sig-value-123&X-Amz-Expires=600"
			rc, err := e.client.GetFile(context.Background(), url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || IsPermanent(err) != tt.wantPerm {
					t.Fatalf("err = %v, want %q (permanent=%v)", err, tt.wantErr, tt.wantPerm)
				}
				if strings.Contains(err.Error(), "sig-value-123") {
					t.Errorf("pre-signed query leaked into the error: %v", err)
				}
			} else {
				if err != nil {
					t.Fatalf("GetFile: %v", err)
				}
				zr, err := gzip.NewReader(rc)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != ndjson {
					t.Errorf("content = %q", got)
				}
				if err := rc.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
			reqs := e.rec.byPath(filePath)
			if len(reqs) != tt.wantRequests {
				t.Errorf("file requests = %d, want %d", len(reqs), tt.wantRequests)
			}
			for _, r := range reqs {
				if h := r.Header.Get("Authorization"); h != "" {
					t.Errorf("Authorization sent to a pre-signed url: %q", h)
				}
				if r.Method != http.MethodGet || !strings.Contains(r.Query, "X-Amz-Signature=sig-value-123") {
					t.Errorf("request = %s ?%s", r.Method, r.Query)
				}
			}
		})
	}
	t.Run("relative url rejected", func(t *testing.T) {
		e := newEnv(t, nil)
		if _, err := e.client.GetFile(context.Background(), "/relative.gz"); err == nil {
			t.Error("want error")
		}
	})
}

func TestGetFileStreams(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, map[string]http.HandlerFunc{filePath: func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "line-1\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		_, _ = io.WriteString(w, "line-2\n")
	}})
	rc, err := e.client.GetFile(context.Background(), e.srv.URL+filePath)
	if err != nil {
		t.Fatalf("GetFile returned %v before the body was complete", err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	first, err := br.ReadString('\n')
	if err != nil || first != "line-1\n" {
		t.Fatalf("first line = %q, %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "line-2\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

func TestGetFileCancel(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{filePath: func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := e.client.GetFile(ctx, e.srv.URL+filePath)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v, want context.Canceled", err)
	}
}

func TestPostFile(t *testing.T) {
	zipBody := []byte("PK\x03\x04 a zip file")
	calls := 0
	e := newEnv(t, map[string]http.HandlerFunc{
		"/api/audit/get-siem-logs": func(w http.ResponseWriter, r *http.Request) {
			calls++
			var req struct {
				Data []struct {
					Token string `json:"token"`
				} `json:"data"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			switch tok := req.Data[0].Token; {
			case calls == 1:
				w.WriteHeader(http.StatusServiceUnavailable) // retried
			case tok == "":
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("mc-siem-token", "tok-2")
				_, _ = w.Write(zipBody)
			case tok == "tok-2":
				jsonHandler(200, `{"meta":{"isLastToken":true,"status":200},"data":[],"fail":[]}`)(w, r)
			default:
				jsonHandler(200, `{"meta":{"status":200},"fail":[{"errors":[{"code":"err_audit_siem_invalid_token","message":"bad token","retryable":false}]}]}`)(w, r)
			}
		},
	})
	ctx := context.Background()
	body := func(token string) map[string]any {
		return map[string]any{"data": []map[string]any{{"type": "MTA", "compress": true, "token": token}}}
	}
	h, rc, err := e.client.PostFile(ctx, "/api/audit/get-siem-logs", body(""))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, zipBody) || h.Get("mc-siem-token") != "tok-2" || calls != 2 {
		t.Fatalf("file %q, token %q after %d calls", got, h.Get("mc-siem-token"), calls)
	}
	_, rc, err = e.client.PostFile(ctx, "/api/audit/get-siem-logs", body("tok-2"))
	if err != nil {
		t.Fatal(err)
	}
	end, _ := io.ReadAll(rc)
	if !bytes.Contains(end, []byte(`"isLastToken":true`)) {
		t.Fatalf("end marker %s", end)
	}
	_, _, err = e.client.PostFile(ctx, "/api/audit/get-siem-logs", body("stale"))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "err_audit_siem_invalid_token" || !IsPermanent(err) {
		t.Fatalf("a fail[] answer must be a permanent APIError, got %v", err)
	}
}
