package web

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every /api/v1/ route (OpenAPI 3.1). TestOpenAPIDocumentsEveryRoute keeps it in step
// with the routes registered through handleAPI.
//
//go:embed openapi.json
var openAPIDocument []byte

// registerOpenAPI serves the document at GET /api/v1/openapi.json (a login is needed, as for every API call).
func (s *server) registerOpenAPI(mux *http.ServeMux) {
	s.handleAPI(mux, "GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(openAPIDocument)
	})
	if serverBuilt != nil {
		serverBuilt(s)
	}
}

// serverBuilt, when set (by tests), receives each server New builds, so tests can read its registered routes.
var serverBuilt func(*server)
