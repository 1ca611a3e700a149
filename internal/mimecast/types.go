// Package mimecast is the Mimecast API client: OAuth2 client credentials (API 2.0), the request/response
// envelope, pagination, rate limits and retries.
package mimecast

import (
	"encoding/json"
	"errors"
	"fmt"
)

// PageRequest asks for one page of a paginated POST /api/... log function.
type PageRequest struct {
	// Path is the function path, e.g. "/api/audit/get-audit-events".
	Path string
	// Filter is the single object sent in the request's data array (dates, flags).
	Filter any
	// PageSize is meta.pagination.pageSize.
	PageSize int
	// PageToken is meta.pagination.pageToken; empty for the first page.
	PageToken string
}

// Page is one page of a paginated response.
type Page struct {
	// Data is the response's data array, undecoded. Where records sit differs per function (flat in data[] or
	// wrapped in data[0].<list>); the caller knows which.
	Data []json.RawMessage
	// Next is meta.pagination.next; empty when the API gave none.
	Next string
	// TotalCount is meta.pagination.totalCount when present.
	TotalCount int
}

// APIError is an error the Mimecast API reported: an HTTP status, or HTTP 200 with a non-empty fail[].
type APIError struct {
	Path    string
	Status  int
	Code    string
	Message string
	// Retryable is true for errors worth retrying (429, 5xx, network); false for permanent ones.
	Retryable bool
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	if e.Code != "" {
		return fmt.Sprintf("mimecast %s: HTTP %d %s: %s", e.Path, e.Status, e.Code, msg)
	}
	return fmt.Sprintf("mimecast %s: HTTP %d: %s", e.Path, e.Status, msg)
}

// IsPermanent reports whether err is an API error that retrying will not fix (bad request, forbidden, not found,
// bad credentials).
func IsPermanent(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && !ae.Retryable
}
