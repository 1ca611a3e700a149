// Package collect pulls Mimecast log streams in time windows and publishes each page as a Batch on the bus.
// A stream's checkpoint advances only after its page is durably accepted by the bus, so a crash at any point
// neither loses nor doubles a record.
package collect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
)

// SubjectPrefix is the bus subject prefix of batches.
const SubjectPrefix = bus.DefaultSubjectPrefix

// Batch is one collected page as carried on the bus.
type Batch struct {
	// Tenant names the Mimecast account the records belong to.
	Tenant string `json:"tenant"`
	// Stream is the collector stream name, e.g. "audit".
	Stream string `json:"stream"`
	// Table is the schema table the records decode into, e.g. "Audit_CL".
	Table string `json:"table"`
	// WindowStart and WindowEnd bound the window the page belongs to (the API filter, both inclusive).
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// PageToken is the token the page was requested with; empty for a window's first page.
	PageToken string `json:"page_token"`
	// Page is the page's 1-based number within its window.
	Page int `json:"page"`
	// Records are the page's records as the API returned them.
	Records []json.RawMessage `json:"records"`
	// Malformed are inputs of the page that are not even a JSON record (a broken line of a SIEM file); the store
	// consumer quarantines them with their reason and position.
	Malformed []Malformed `json:"malformed,omitempty"`
	// Fetched is when the page was fetched; the store uses it as the rows' TimeGenerated.
	Fetched time.Time `json:"fetched"`
}

// Malformed is one input a collector could not turn into a record.
type Malformed struct {
	// Position locates it in its source, e.g. "file 2026-03-10T11:00 line 17".
	Position string `json:"position"`
	Reason   string `json:"reason"`
	// Raw is the input, truncated by the collector if very long.
	Raw string `json:"raw"`
}

// MsgID is the batch's deterministic bus message id: a hash of tenant, stream, window, page token and the
// records. Republishing the same page (after a crash between publish and checkpoint) yields the same id and the
// bus drops it. The records are part of the id so that a page that changed between two fetches (records indexed
// late) is published again instead of being dropped; the rows it shares with the first copy are then ignored by
// the store's natural key.
func (b Batch) MsgID() string {
	h := sha256.New()
	for _, s := range []string{b.Tenant, b.Stream, b.WindowStart.UTC().Format(time.RFC3339Nano),
		b.WindowEnd.UTC().Format(time.RFC3339Nano), b.PageToken} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	rec := sha256.New()
	for _, r := range b.Records {
		fmt.Fprintf(rec, "%d:", len(r))
		rec.Write(r)
	}
	for _, m := range b.Malformed {
		fmt.Fprintf(rec, "!%d:%s%d:%s", len(m.Position), m.Position, len(m.Raw), m.Raw)
	}
	h.Write(rec.Sum(nil))
	return hex.EncodeToString(h.Sum(nil))
}

// Subject is the bus subject the batch is published on.
func (b Batch) Subject() string { return Subject(b.Tenant, b.Stream) }

// Subject returns the bus subject for a tenant's stream: castwatch.batch.<tenant>.<stream>, with both names made
// subject-safe by bus.Token.
func Subject(tenant, stream string) string {
	return SubjectPrefix + "." + bus.Token(tenant) + "." + bus.Token(stream)
}

// Encode serialises the batch for the bus.
func (b Batch) Encode() ([]byte, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return data, nil
}

// DecodeBatch parses a batch read from the bus.
func DecodeBatch(data []byte) (Batch, error) {
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return Batch{}, fmt.Errorf("decode batch: %w", err)
	}
	if b.Tenant == "" || b.Stream == "" || b.Table == "" {
		return Batch{}, fmt.Errorf("decode batch: missing tenant, stream or table")
	}
	return b, nil
}
