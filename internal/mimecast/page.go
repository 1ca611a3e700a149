package mimecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ErrPaginationLoop reports that the API returned, with data, the same page token the client had just sent;
// following it would loop forever.
var ErrPaginationLoop = errors.New("mimecast pagination: the api returned the token it was given")

// envelope is the request body of a POST /api/... function. Field order matters to strict servers and mocks:
// meta first, pageSize before pageToken.
type envelope struct {
	Meta struct {
		Pagination pagination `json:"pagination"`
	} `json:"meta"`
	Data []any `json:"data"`
}

type pagination struct {
	PageSize  int    `json:"pageSize"`
	PageToken string `json:"pageToken,omitempty"`
}

// pageResponse is the response envelope of a POST /api/... function.
type pageResponse struct {
	Meta struct {
		Pagination struct {
			Next       string          `json:"next"`
			TotalCount json.RawMessage `json:"totalCount"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
}

// FetchPage fetches one page of a paginated POST /api/... function. The request sends
// {"meta":{"pagination":{"pageSize":N,"pageToken":"…"}},"data":[filter]}, omitting pageToken on the first page;
// a nil Filter is sent as an empty object and PageSize <= 0 as DefaultPageSize. HTTP 200 with a non-empty
// fail[] is returned as an *APIError.
func (c *Client) FetchPage(ctx context.Context, req PageRequest) (Page, error) {
	if !strings.HasPrefix(req.Path, "/") {
		return Page{}, fmt.Errorf("mimecast page: path %q must start with /", req.Path)
	}
	var env envelope
	env.Meta.Pagination = pagination{PageSize: req.PageSize, PageToken: req.PageToken}
	if env.Meta.Pagination.PageSize <= 0 {
		env.Meta.Pagination.PageSize = DefaultPageSize
	}
	filter := req.Filter
	if filter == nil {
		filter = struct{}{}
	}
	env.Data = []any{filter}
	body, err := json.Marshal(env)
	if err != nil {
		return Page{}, fmt.Errorf("mimecast %s: encode request: %w", req.Path, err)
	}
	var raw []byte
	if err := c.Do(ctx, http.MethodPost, req.Path, body, &raw); err != nil {
		return Page{}, err
	}
	var pr pageResponse
	if err := json.Unmarshal(raw, &pr); err != nil {
		return Page{}, &APIError{Path: req.Path, Status: http.StatusOK, Message: "response is not a json envelope: " + err.Error()}
	}
	return Page{
		Data:       pr.Data,
		Next:       pr.Meta.Pagination.Next,
		TotalCount: parseCount(pr.Meta.Pagination.TotalCount),
	}, nil
}

// parseCount reads a count sent as a number or a numeric string; anything else is 0.
func parseCount(raw json.RawMessage) int {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// Paginate fetches pages starting at req (req.PageToken may resume a previous run) and calls fn for each page
// that holds data, in order. It stops when a page has no next token, or when a page has no data even though
// it has a next token (the API's last page can carry a dummy next such as "String"). A page counts as empty
// when data[] is empty or holds only wrapper objects whose lists are all empty (data:[{"logs":[]}] or
// data:[{"impersonationLogs":[],"resultCount":0}]).
// An error from fn stops the loop and is returned as is.
func (c *Client) Paginate(ctx context.Context, req PageRequest, fn func(Page) error) error {
	for {
		page, err := c.FetchPage(ctx, req)
		if err != nil {
			return err
		}
		if pageEmpty(page.Data) {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		if page.Next == req.PageToken {
			return fmt.Errorf("mimecast %s: %w", req.Path, ErrPaginationLoop)
		}
		req.PageToken = page.Next
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mimecast %s: %w", req.Path, err)
		}
	}
}

// pageEmpty reports whether a page's data holds no records: no elements, or only wrapper objects (see
// wrapperEmpty) with empty lists.
func pageEmpty(data []json.RawMessage) bool {
	for _, d := range data {
		if !wrapperEmpty(d) {
			return false
		}
	}
	return true
}

// wrapperEmpty reports whether raw is a wrapper object with no records: it has at least one list, every list is
// empty, and its other values are only numbers or null (counts such as resultCount). Anything holding a string,
// bool or object is treated as a record, so a real record is never mistaken for an empty page.
func wrapperEmpty(raw json.RawMessage) bool {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return false
	}
	lists := 0
	for _, v := range obj {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0 || bytes.Equal(v, []byte("null")):
		case v[0] == '[':
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil || len(list) > 0 {
				return false
			}
			lists++
		case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		default:
			return false
		}
	}
	return lists > 0
}
