package mimecast

import (
	"encoding/json"
	"net/http"
	"strings"
)

// failure is one error the API reported in a response body.
type failure struct {
	Code      string
	Message   string
	Retryable bool
}

// failItem is one fail[] entry in either documented shape: v1 {"key":…,"errors":[{code,message,retryable}]} or
// v2 flat {"code","message"}.
type failItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Errors  []struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"errors"`
}

// errorBody is the union of the error-carrying fields a Mimecast response may hold.
type errorBody struct {
	Fail  []failItem      `json:"fail"`
	Error json.RawMessage `json:"error"`
	// ErrorDescription is the OAuth2 (RFC 6749) error_description next to a string "error".
	ErrorDescription string `json:"error_description"`
}

// parseFailure extracts the first error a response body reports: a non-empty fail[] (both shapes), an
// {"error":{code,message}} object, or an OAuth2 {"error":"…","error_description":"…"}. ok is false when the
// body reports none (or is not a JSON object).
func parseFailure(body []byte) (f failure, ok bool) {
	trimmed := strings.TrimSpace(string(body))
	if !strings.HasPrefix(trimmed, "{") {
		return failure{}, false
	}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		return failure{}, false
	}
	if len(eb.Fail) > 0 {
		item := eb.Fail[0]
		if len(item.Errors) > 0 {
			e := item.Errors[0]
			msgs := make([]string, 0, len(item.Errors))
			for _, x := range item.Errors {
				if x.Message != "" {
					msgs = append(msgs, x.Message)
				}
			}
			return failure{Code: e.Code, Message: strings.Join(msgs, "; "), Retryable: e.Retryable}, true
		}
		return failure{Code: item.Code, Message: item.Message}, true
	}
	raw := strings.TrimSpace(string(eb.Error))
	if raw == "" || raw == "null" {
		return failure{}, false
	}
	var obj struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(eb.Error, &obj); err == nil {
		if obj.Code == "" && obj.Message == "" {
			return failure{}, false
		}
		return failure{Code: obj.Code, Message: obj.Message}, true
	}
	var s string
	if err := json.Unmarshal(eb.Error, &s); err == nil && s != "" {
		return failure{Code: s, Message: eb.ErrorDescription}, true
	}
	return failure{}, false
}

// retryableStatus reports whether an HTTP status is worth retrying: throttling and transient server errors
// (509 is the bandwidth-limit status Sentinel's connectors retry too).
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, 509:
		return true
	}
	return false
}

// statusError builds the APIError for a non-2xx response, taking code and message from the body when it has
// them and falling back to the HTTP status text.
func statusError(path string, status int, body []byte) *APIError {
	ae := &APIError{Path: path, Status: status, Retryable: retryableStatus(status)}
	if f, ok := parseFailure(body); ok {
		ae.Code, ae.Message = f.Code, f.Message
	}
	if ae.Message == "" {
		ae.Message = http.StatusText(status)
	}
	return ae
}
