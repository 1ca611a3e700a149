package siemlegacy

import (
	"context"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Client sends one signed API 1.0 call whose answer may be a file. It returns the response headers and body of a
// 2xx answer (the caller closes the body); an answer that reports a failure (non-2xx, or a JSON body with a
// non-empty fail[]) is a *mimecast.APIError. *mimecast.Client satisfies it, with an API 1.0 HMAC authorizer.
type Client interface {
	PostFile(ctx context.Context, path string, body any) (http.Header, io.ReadCloser, error)
}

// maxJSONBody caps a JSON answer (end marker or error) read into memory.
const maxJSONBody = 1 << 20

// isJSON reports a JSON content type.
func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
