package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Record formats: how a table's records sit in one API response body.
const (
	// FormatData: an API envelope whose data[] holds the records.
	FormatData = "data"
	// FormatDataList: an API envelope whose data[0].<ListKey>[] holds the records.
	FormatDataList = "data-list"
	// FormatNDJSON: a (decompressed) SIEM batch file, one record per non-empty line.
	FormatNDJSON = "ndjson"
	// FormatSTIX: a STIX 2 bundle whose objects[] of type indicator are the records.
	FormatSTIX = "stix"
	// FormatRawLines: raw log lines read by `castwatch ingest` (no API), one normalized event each.
	FormatRawLines = "raw-lines"
)

// RecordSource says where a table's records come from and how to take them out of one response.
type RecordSource struct {
	// Endpoint is the HTTP method and path.
	Endpoint string
	// Format is one of FormatData, FormatDataList, FormatNDJSON, FormatSTIX, FormatRawLines.
	Format string
	// ListKey is the key inside data[0] that holds the record list (FormatDataList only).
	ListKey string
}

var recordSources = map[string]RecordSource{
	"Audit_CL":                         {"POST /api/audit/get-audit-events", FormatData, ""},
	"Seg_Cg_CL":                        {"GET /siem/v1/batch/events/cg", FormatNDJSON, ""},
	"Cloud_Integrated_CL":              {"GET /siem/v1/batch/events/ci", FormatNDJSON, ""},
	"Seg_Dlp_CL":                       {"POST /api/dlp/get-logs", FormatDataList, "dlpLogs"},
	"Ttp_Url_CL":                       {"POST /api/ttp/url/get-logs", FormatDataList, "clickLogs"},
	"Ttp_Attachment_CL":                {"POST /api/ttp/attachment/get-logs", FormatDataList, "attachmentLogs"},
	"Ttp_Impersonation_CL":             {"POST /api/ttp/impersonation/get-logs", FormatDataList, "impersonationLogs"},
	"Awareness_Performance_Details_CL": {"POST /api/awareness-training/company/get-performance-details", FormatData, ""},
	"Awareness_SafeScore_Details_CL":   {"POST /api/awareness-training/company/get-safe-score-details", FormatData, ""},
	"Awareness_Watchlist_Details_CL":   {"POST /api/awareness-training/company/get-watchlist-details", FormatData, ""},
	"Awareness_User_Data_CL":           {"POST /api/awareness-training/phishing/campaign/get-user-data", FormatDataList, "items"},
	"Message_Release_CL":               {"POST /api/gateway/get-held-release-logs", FormatDataList, "heldReleaseLogs"},
	"Archive_Search_CL":                {"POST /api/archive/get-archive-search-logs", FormatDataList, "logs"},
	"Threat_Intel_CL":                  {"POST /api/ttp/threat-intel/get-feed", FormatSTIX, ""},
	"Raw_Event_CL":                     {"castwatch ingest (raw log files, syslog)", FormatRawLines, ""},
}

// SourceOf returns where the named table's records come from.
func SourceOf(table string) (RecordSource, bool) {
	s, ok := recordSources[table]
	return s, ok
}

// RecordListKey returns the key inside data[0] that a collector unwraps to get the named table's records, or ""
// when the records are data[] itself, NDJSON lines or STIX objects (see SourceOf).
func RecordListKey(table string) string { return recordSources[table].ListKey }

// snapshotTables hold current state rather than events: a new row for a stored key replaces the old one.
var snapshotTables = map[string]bool{
	"Awareness_Performance_Details_CL": true,
	"Awareness_SafeScore_Details_CL":   true,
	"Awareness_Watchlist_Details_CL":   true,
	"Awareness_User_Data_CL":           true,
}

// IsSnapshot reports whether the named table keeps the latest row per key (replace on key conflict) instead of
// the first one (ignore on key conflict, the rule for event tables).
func IsSnapshot(table string) bool { return snapshotTables[table] }

// UnwrapRecords takes the records of the named table out of one response body (or one decompressed SIEM batch
// file), ready for Decode. An envelope with a non-empty fail[] is an error; so is a body that is not the table's
// format. Empty pages give no records. For STIX bundles only indicator objects are returned.
func UnwrapRecords(table string, body []byte) ([]json.RawMessage, error) {
	src, ok := recordSources[table]
	if !ok {
		return nil, fmt.Errorf("unwrap records: unknown table %q", table)
	}
	switch src.Format {
	case FormatNDJSON:
		return splitNDJSON(body)
	case FormatSTIX:
		var b struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, fmt.Errorf("unwrap %s: invalid STIX bundle: %w", table, err)
		}
		var out []json.RawMessage
		for _, o := range b.Objects {
			var h struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(o, &h) == nil && h.Type == "indicator" {
				out = append(out, o)
			}
		}
		return out, nil
	}
	var env struct {
		Data []json.RawMessage `json:"data"`
		Fail []json.RawMessage `json:"fail"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("unwrap %s: invalid envelope: %w", table, err)
	}
	if len(env.Fail) > 0 {
		return nil, fmt.Errorf("unwrap %s: response has fail entries: %s", table, compactJSON(env.Fail[0]))
	}
	if src.Format == FormatData || len(env.Data) == 0 {
		return env.Data, nil
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(env.Data[0], &inner); err != nil {
		return nil, fmt.Errorf("unwrap %s: data[0] is not an object: %w", table, err)
	}
	list, ok := inner[src.ListKey]
	if !ok || isNull(list) {
		return nil, nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(list, &out); err != nil {
		return nil, fmt.Errorf("unwrap %s: data[0].%s is not a list: %w", table, src.ListKey, err)
	}
	return out, nil
}

// splitNDJSON returns the non-empty lines of an NDJSON file; lines are returned even when they are not valid
// JSON, so that Decode rejects (and the collector quarantines) each bad line on its own.
func splitNDJSON(body []byte) ([]json.RawMessage, error) {
	var out []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		out = append(out, json.RawMessage(bytes.Clone(line)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("split ndjson: %w", err)
	}
	return out, nil
}

// WithField returns raw (a JSON object) with one more field set, for values a record needs but the API sends
// elsewhere: the campaign id of Awareness_User_Data_CL items, the feedType of Threat_Intel_CL objects.
func WithField(raw json.RawMessage, name string, value any) (json.RawMessage, error) {
	m, err := parseFields(raw)
	if err != nil {
		return nil, fmt.Errorf("with field %s: %w", name, err)
	}
	b, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("with field %s: %w", name, err)
	}
	m[name] = b
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("with field %s: %w", name, err)
	}
	return out, nil
}

// EventTimeOf returns the event time of a row of t: a datetime column as is, a real column (SIEM v2 timestamp)
// read as epoch milliseconds. ok is false when the value is missing.
func EventTimeOf(t *Table, row Row) (ts time.Time, ok bool) {
	i := t.ColumnIndex(t.EventTime)
	if i < 0 || i >= len(row) {
		return time.Time{}, false
	}
	switch v := row[i].(type) {
	case time.Time:
		return v.UTC(), true
	case float64:
		return time.UnixMilli(int64(v)).UTC(), true
	}
	return time.Time{}, false
}

func compactJSON(v json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return strings.TrimSpace(string(v))
	}
	return buf.String()
}
