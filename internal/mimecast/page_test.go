package mimecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// pagedServer serves pages keyed by the request's pageToken ("" = first page) and records the tokens asked for.
func pagedServer(pages map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Meta struct {
				Pagination struct {
					PageSize  int    `json:"pageSize"`
					PageToken string `json:"pageToken"`
				} `json:"pagination"`
			} `json:"meta"`
			Data []json.RawMessage `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &req); err != nil || len(req.Data) != 1 {
			jsonHandler(400, `{"fail":[{"code":"bad_envelope","message":"bad envelope"}]}`)(w, r)
			return
		}
		body, ok := pages[req.Meta.Pagination.PageToken]
		if !ok {
			jsonHandler(200, `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_audit_invalid_token","message":"unknown token","retryable":false}]}]}`)(w, r)
			return
		}
		jsonHandler(200, body)(w, r)
	}
}

func page(next string, ids ...string) string {
	data := make([]string, len(ids))
	for i, id := range ids {
		data[i] = fmt.Sprintf(`{"id":%q}`, id)
	}
	nx := ""
	if next != "" {
		nx = fmt.Sprintf(`,"next":%q`, next)
	}
	return fmt.Sprintf(`{"meta":{"status":200,"pagination":{"pageSize":2,"totalCount":5%s}},"data":[%s],"fail":[]}`, nx, strings.Join(data, ","))
}

func TestPaginate(t *testing.T) {
	tests := []struct {
		name       string
		pages      map[string]string
		start      string
		wantIDs    []string
		wantTokens []string
		wantErr    string
	}{
		{
			name:       "stops when next is absent",
			pages:      map[string]string{"": page("p2", "a", "b"), "p2": page("p3", "c", "d"), "p3": page("", "e")},
			wantIDs:    []string{"a", "b", "c", "d", "e"},
			wantTokens: []string{"", "p2", "p3"},
		},
		{
			name:       "stops on empty data despite dummy next",
			pages:      map[string]string{"": page("p2", "a", "b"), "p2": page("String")},
			wantIDs:    []string{"a", "b"},
			wantTokens: []string{"", "p2"},
		},
		{
			name: "stops on an empty wrapped list",
			pages: map[string]string{
				"":   `{"meta":{"pagination":{"next":"p2"}},"data":[{"logs":[{"id":"a"}]}]}`,
				"p2": `{"meta":{"pagination":{"next":"String"}},"data":[{"logs":[]}]}`,
			},
			wantIDs:    []string{"wrapped:1"},
			wantTokens: []string{"", "p2"},
		},
		{
			name: "stops on an empty wrapped list next to a count",
			pages: map[string]string{
				"":   `{"meta":{"pagination":{"next":"p2"}},"data":[{"logs":[{"id":"a"},{"id":"b"}],"resultCount":2}]}`,
				"p2": `{"meta":{"pagination":{"next":"p3"}},"data":[{"logs":[],"resultCount":0}]}`,
			},
			wantIDs:    []string{"wrapped:2"},
			wantTokens: []string{"", "p2"},
		},
		{
			name: "a record with an empty list is not an empty page",
			pages: map[string]string{
				"":   `{"meta":{"pagination":{"next":"p2"}},"data":[{"id":"a","categories":[]}]}`,
				"p2": `{"meta":{"pagination":{}},"data":[{"id":"b","categories":[]}]}`,
			},
			wantIDs:    []string{"a", "b"},
			wantTokens: []string{"", "p2"},
		},
		{
			name:       "resumes from a saved token",
			pages:      map[string]string{"p2": page("p3", "c"), "p3": page("", "d")},
			start:      "p2",
			wantIDs:    []string{"c", "d"},
			wantTokens: []string{"p2", "p3"},
		},
		{
			name:       "empty first page calls nothing",
			pages:      map[string]string{"": page("")},
			wantTokens: []string{""},
		},
		{
			name:       "fail on a later page is returned",
			pages:      map[string]string{"": page("gone", "a")},
			wantIDs:    []string{"a"},
			wantTokens: []string{"", "gone"},
			wantErr:    "unknown token",
		},
		{
			name:       "repeated token is a loop",
			pages:      map[string]string{"": page("p2", "a"), "p2": page("p2", "b")},
			wantIDs:    []string{"a", "b"},
			wantTokens: []string{"", "p2"},
			wantErr:    ErrPaginationLoop.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{auditPath: pagedServer(tt.pages)})
			var ids []string
			err := e.client.Paginate(context.Background(), PageRequest{Path: auditPath, PageSize: 2, PageToken: tt.start, Filter: map[string]string{"startDateTime": "2026-01-01T00:00:00+0000"}},
				func(p Page) error {
					for _, d := range p.Data {
						var rec struct {
							ID   string            `json:"id"`
							Logs []json.RawMessage `json:"logs"`
						}
						if err := json.Unmarshal(d, &rec); err != nil {
							return err
						}
						if rec.ID == "" {
							rec.ID = fmt.Sprintf("wrapped:%d", len(rec.Logs))
						}
						ids = append(ids, rec.ID)
					}
					return nil
				})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Paginate: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
			}
			var tokens []string
			for _, r := range e.rec.byPath(auditPath) {
				var env struct {
					Meta struct {
						Pagination map[string]any `json:"pagination"`
					} `json:"meta"`
					Data []map[string]string `json:"data"`
				}
				if err := json.Unmarshal([]byte(r.Body), &env); err != nil {
					t.Fatalf("request body %q: %v", r.Body, err)
				}
				tok, has := env.Meta.Pagination["pageToken"]
				if has && tok == "" {
					t.Errorf("empty pageToken sent: %s", r.Body)
				}
				s, _ := tok.(string)
				tokens = append(tokens, s)
				if len(env.Data) != 1 || env.Data[0]["startDateTime"] != "2026-01-01T00:00:00+0000" {
					t.Errorf("filter not resent on every page: %s", r.Body)
				}
			}
			if strings.Join(tokens, ",") != strings.Join(tt.wantTokens, ",") {
				t.Errorf("tokens sent = %q, want %q", tokens, tt.wantTokens)
			}
		})
	}
}

func TestPaginateCallbackErrorStops(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{auditPath: pagedServer(map[string]string{"": page("p2", "a"), "p2": page("", "b")})})
	stop := errors.New("store full")
	err := e.client.Paginate(context.Background(), PageRequest{Path: auditPath}, func(Page) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the callback's error", err)
	}
	if got := e.rec.count(auditPath); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestFetchPageEnvelope(t *testing.T) {
	tests := []struct {
		name     string
		req      PageRequest
		wantBody string
	}{
		{name: "first page", req: PageRequest{Path: auditPath, PageSize: 2, Filter: map[string]string{"query": "x"}},
			wantBody: `{"meta":{"pagination":{"pageSize":2}},"data":[{"query":"x"}]}`},
		{name: "next page", req: PageRequest{Path: auditPath, PageSize: 500, PageToken: "tok", Filter: map[string]string{"query": "x"}},
			wantBody: `{"meta":{"pagination":{"pageSize":500,"pageToken":"tok"}},"data":[{"query":"x"}]}`},
		{name: "defaults", req: PageRequest{Path: auditPath},
			wantBody: `{"meta":{"pagination":{"pageSize":100}},"data":[{}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(200,
				`{"meta":{"status":200,"pagination":{"pageSize":2,"totalCount":"7","next":"n1"}},"data":[{"id":"a"},{"id":"b"}],"fail":[]}`)})
			p, err := e.client.FetchPage(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if p.Next != "n1" || p.TotalCount != 7 || len(p.Data) != 2 {
				t.Errorf("page = %+v", p)
			}
			if got := e.rec.byPath(auditPath)[0].Body; got != tt.wantBody {
				t.Errorf("body = %s, want %s", got, tt.wantBody)
			}
		})
	}
	t.Run("relative path rejected", func(t *testing.T) {
		e := newEnv(t, nil)
		if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: "api/x"}); err == nil {
			t.Error("want error")
		}
	})
}
