package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Validation error codes answered in fail[] with HTTP 200.
const (
	codeNull         = "err_validation_null"
	codeBlank        = "err_validation_blank"
	codeDateFormat   = "err_validation_invalid_date_format"
	codeDateRange    = "err_validation_invalid_date_range"
	codePageSize     = "err_validation_invalid_page_size"
	codePageToken    = "err_validation_invalid_page_token"
	codeBadBody      = "err_request_body_invalid"
	dummyNext        = "String"
	maxRequestBodyKB = 1024
)

// apiRequest is the documented request envelope of the /api/... functions.
type apiRequest struct {
	Meta struct {
		Pagination struct {
			PageSize  json.RawMessage `json:"pageSize"`
			PageToken string          `json:"pageToken"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
}

// auditFilter is data[0] of get-audit-events.
type auditFilter struct {
	StartDateTime *string  `json:"startDateTime"`
	EndDateTime   *string  `json:"endDateTime"`
	Query         string   `json:"query"`
	Categories    []string `json:"categories"`
}

// auditQuery is a validated filter; page tokens are bound to it.
type auditQuery struct {
	Path  string   `json:"p"`
	Start int64    `json:"s"`
	End   int64    `json:"e"`
	Query string   `json:"q,omitempty"`
	Cats  []string `json:"c,omitempty"`
	// Extra is the canonical JSON of the other filter fields of mail-log functions.
	Extra string `json:"x,omitempty"`
	// Oldest is oldestFirst of mail-log functions.
	Oldest bool `json:"r,omitempty"`
}

func (q auditQuery) equal(o auditQuery) bool {
	return q.Path == o.Path && q.Start == o.Start && q.End == o.End && q.Query == o.Query &&
		slices.Equal(q.Cats, o.Cats) && q.Extra == o.Extra && q.Oldest == o.Oldest
}

func (q auditQuery) keep(r *schema.AuditRecord) bool {
	if len(q.Cats) > 0 && !slices.Contains(q.Cats, r.Category) {
		return false
	}
	if q.Query == "" {
		return true
	}
	needle := strings.ToLower(q.Query)
	return strings.Contains(strings.ToLower(r.EventInfo), needle) ||
		strings.Contains(strings.ToLower(r.User), needle) ||
		strings.Contains(strings.ToLower(r.AuditType), needle)
}

// cursor is the content of a page token: the query, the snapshot time and the offset into the result set.
type cursor struct {
	Q      auditQuery `json:"q"`
	AsOf   int64      `json:"a"`
	Offset int        `json:"o"`
	// Mid marks a token handed out with an injected empty mid-result page; it is answered with data.
	Mid bool `json:"m,omitempty"`
}

// encodeCursor signs and encodes c into an opaque base64url token.
func (s *Sim) encodeCursor(c cursor) string {
	raw, _ := json.Marshal(c)
	mac := hmac.New(sha256.New, s.key)
	mac.Write(raw)
	return base64.RawURLEncoding.EncodeToString(append(mac.Sum(nil)[:12], raw...))
}

// decodeCursor verifies and decodes a page token.
func (s *Sim) decodeCursor(tok string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 13 {
		return c, errors.New("malformed page token")
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write(b[12:])
	if !hmac.Equal(mac.Sum(nil)[:12], b[:12]) {
		return c, errors.New("page token was not issued by this account")
	}
	if err := json.Unmarshal(b[12:], &c); err != nil {
		return c, fmt.Errorf("malformed page token: %w", err)
	}
	return c, nil
}

// parseAPIDate accepts the documented colon-less offset form and RFC 3339 (Z or colon offset).
func parseAPIDate(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", v)
}

// validationError is one fail[] item of an HTTP 200 answer.
type validationError struct {
	code, message string
}

func (e *validationError) Error() string { return e.code + ": " + e.message }

// writeFail answers HTTP 200 with the v1 fail shape {"key":…, "errors":[…]}.
func (s *Sim) writeFail(w http.ResponseWriter, key json.RawMessage, e *validationError) {
	s.count(func(st *Stats) { st.ValidationFailures++ })
	if len(key) == 0 {
		key = json.RawMessage(`{}`)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"meta": map[string]any{"status": http.StatusOK},
		"data": []any{},
		"fail": []any{map[string]any{
			"key":    key,
			"errors": []any{map[string]any{"code": e.code, "message": e.message, "retryable": false}},
		}},
	})
}

// parsePageSize reads meta.pagination.pageSize, a number or a numeric string, clamped to PageSizeMax.
func (s *Sim) parsePageSize(raw json.RawMessage) (int, *validationError) {
	if len(raw) == 0 || string(raw) == "null" {
		return DefaultPageSize, nil
	}
	txt := strings.Trim(string(raw), `"`)
	n, err := strconv.Atoi(txt)
	if err != nil || n < 1 {
		return 0, &validationError{codePageSize, "pageSize must be a positive integer, got " + string(raw)}
	}
	return min(n, s.opts.PageSizeMax), nil
}

// parseAuditFilter validates data[0].
func parseAuditFilter(raw json.RawMessage) (auditQuery, *validationError) {
	var f auditFilter
	if err := json.Unmarshal(raw, &f); err != nil {
		return auditQuery{}, &validationError{codeBadBody, "data[0] is not a valid filter object"}
	}
	var q auditQuery
	for _, fld := range []struct {
		name string
		v    *string
		dst  *int64
	}{{"startDateTime", f.StartDateTime, &q.Start}, {"endDateTime", f.EndDateTime, &q.End}} {
		switch {
		case fld.v == nil:
			return q, &validationError{codeNull, fld.name + " must not be null"}
		case strings.TrimSpace(*fld.v) == "":
			return q, &validationError{codeBlank, fld.name + " must not be blank"}
		}
		t, err := parseAPIDate(*fld.v)
		if err != nil {
			return q, &validationError{codeDateFormat,
				fmt.Sprintf("%s %q is not a valid date, expected yyyy-MM-dd'T'HH:mm:ssZ", fld.name, *fld.v)}
		}
		*fld.dst = t.Unix()
	}
	if q.Start > q.End {
		return q, &validationError{codeDateRange, "startDateTime must not be after endDateTime"}
	}
	q.Query = f.Query
	q.Cats = f.Categories
	return q, nil
}

// handleAuditEvents serves POST /api/audit/get-audit-events.
func (s *Sim) handleAuditEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyKB<<10))
	var req apiRequest
	if err == nil {
		err = json.NewDecoder(bytes.NewReader(body)).Decode(&req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"meta": map[string]any{"status": http.StatusBadRequest},
			"data": []any{},
			"fail": []any{map[string]any{"errors": []any{map[string]any{
				"code": codeBadBody, "message": "request body is not valid JSON", "retryable": false}}}},
		})
		return
	}
	var key json.RawMessage
	if len(req.Data) > 0 {
		key = req.Data[0]
	}
	size, verr := s.parsePageSize(req.Meta.Pagination.PageSize)
	if verr != nil {
		s.writeFail(w, key, verr)
		return
	}
	var c cursor
	tok := req.Meta.Pagination.PageToken
	if tok != "" {
		if c, err = s.decodeCursor(tok); err != nil {
			s.writeFail(w, key, &validationError{codePageToken, err.Error()})
			return
		}
	}
	switch {
	case len(req.Data) > 0:
		q, verr := parseAuditFilter(req.Data[0])
		if verr != nil {
			s.writeFail(w, key, verr)
			return
		}
		q.Path = r.URL.Path
		if tok != "" && !q.equal(c.Q) {
			s.writeFail(w, key, &validationError{codePageToken, "page token belongs to a different query"})
			return
		}
		if tok == "" {
			c = cursor{Q: q, AsOf: s.opts.Now().Unix()}
		}
	case tok == "":
		s.writeFail(w, key, &validationError{codeNull, "data must not be null"})
		return
	case c.Q.Path != r.URL.Path:
		s.writeFail(w, key, &validationError{codePageToken, "page token belongs to a different function"})
		return
	}

	recs := s.resultSet(c, func() []any {
		found := s.collect(time.Unix(c.Q.Start, 0), time.Unix(c.Q.End, 0), time.Unix(c.AsOf, 0), c.Q.keep)
		out := make([]any, len(found))
		for i := range found {
			out[i] = found[i]
		}
		return out
	})
	s.writePage(w, c, size, len(recs), func(lo, hi int) any { return recs[lo:hi] })
}

// writePage answers one page of a result set, applying the emptypage and emptymid faults.
func (s *Sim) writePage(w http.ResponseWriter, c cursor, size, total int, slice func(lo, hi int) any) {
	pagination := map[string]any{"pageSize": size, "totalCount": total}
	data := slice(0, 0)
	fp := fmt.Sprintf("emptymid:%s:%d:%d:%s:%v:%s:%t:%d", c.Q.Path, c.Q.Start, c.Q.End, c.Q.Query, c.Q.Cats, c.Q.Extra, c.Q.Oldest, c.AsOf)
	switch {
	case s.opts.Faults.EmptyMid && c.Offset > 0 && c.Offset < total && !c.Mid &&
		unitFloat(s.opts.Seed, fp, uint64(c.Offset)) < s.opts.EmptyMidRate:
		next := c
		next.Mid = true
		pagination["next"] = s.encodeCursor(next)
		s.count(func(st *Stats) { st.EmptyMidPages++ })
	case c.Offset >= total:
		if s.opts.Faults.EmptyPage {
			pagination["next"] = dummyNext
			pagination["previous"] = dummyNext
			s.count(func(st *Stats) { st.EmptyPages++ })
		}
	default:
		end := min(c.Offset+size, total)
		data = slice(c.Offset, end)
		if end < total || s.opts.Faults.EmptyPage {
			pagination["next"] = s.encodeCursor(cursor{Q: c.Q, AsOf: c.AsOf, Offset: end})
		}
		if c.Offset > 0 {
			pagination["previous"] = s.encodeCursor(cursor{Q: c.Q, AsOf: c.AsOf, Offset: max(0, c.Offset-size)})
		}
	}
	s.count(func(st *Stats) { st.Pages++ })
	writeJSON(w, http.StatusOK, map[string]any{
		"meta": map[string]any{"status": http.StatusOK, "pagination": pagination},
		"data": data,
		"fail": []any{},
	})
}

// auditCategories are the codes /api/audit/get-categories lists (names inferred).
var auditCategories = []struct{ code, name string }{
	{catAuth, "Authentication Logs"}, {catAccount, "Account Logs"}, {catCase, "Case Review Logs"},
	{catReporting, "Reporting Logs"}, {catRoles, "User Account and Role Logs"}, {catPolicy, "Policy Logs"},
	{catProfile, "Profile Group Logs"}, {catAccess, "Mimecast Access Logs"},
}

// handleAuditCategories serves POST /api/audit/get-categories.
func (s *Sim) handleAuditCategories(w http.ResponseWriter, _ *http.Request) {
	data := make([]map[string]string, len(auditCategories))
	for i, c := range auditCategories {
		data[i] = map[string]string{"code": c.code, "name": c.name}
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"status": http.StatusOK}, "data": data, "fail": []any{}})
}
