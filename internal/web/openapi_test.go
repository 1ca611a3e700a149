package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/auth"
)

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	OperationID string         `json:"operationId"`
	Role        string         `json:"x-castwatch-role"`
	Responses   map[string]any `json:"responses"`
}

// TestOpenAPIDocumentsEveryRoute compares the served document's paths and methods with the routes registered
// through handleAPI: an undocumented route, or a documented one that is not served, fails.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	ts, s := buildServer(t, Options{Store: populatedStore(t), Gatherer: prometheus.NewRegistry(),
		Sync: func(context.Context) error { return nil }})
	rec := send(ts.as(t, auth.RoleViewer), "GET", "/api/v1/openapi.json", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc openAPIDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			route := strings.ToUpper(method) + " " + path
			documented = append(documented, route)
			if op.OperationID == "" || len(op.Responses) == 0 {
				t.Errorf("%s has no operationId or responses", route)
			}
			if want := string(s.requiredRole(strings.ToUpper(method), route)); op.Role != want {
				t.Errorf("%s: x-castwatch-role %q, but the route needs %q", route, op.Role, want)
			}
		}
	}
	served := slices.Clone(s.apiRoutes)
	slices.Sort(served)
	slices.Sort(documented)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("openapi.json documents %s, which is not served", r)
		}
	}
}
