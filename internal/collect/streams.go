package collect

import (
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Names of the windowed streams.
const (
	StreamAudit            = "audit"
	StreamDLP              = "dlp"
	StreamTTPURL           = "ttp_url"
	StreamTTPAttachment    = "ttp_attachment"
	StreamTTPImpersonation = "ttp_impersonation"
	StreamMessageRelease   = "message_release"
	StreamArchiveSearch    = "archive_search"
)

// fromToFilter is data[0] of the mail-log functions that take their window as from/to (DLP and the three TTP
// logs). Route, ScanResult and Result are sent as "all" where the function documents them, so that the default of
// an undocumented server never narrows the result; oldestFirst pages the window from its start.
type fromToFilter struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Route       string `json:"route,omitempty"`
	ScanResult  string `json:"scanResult,omitempty"`
	Result      string `json:"result,omitempty"`
	OldestFirst bool   `json:"oldestFirst"`
}

// startEndFilter is data[0] of the functions that take their window as start/end (held-release and archive
// search logs). They document no ordering flag, so none is sent.
type startEndFilter struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// windowedSpec fills in what every /api/... log stream shares: page size, look-back and window bounds, and the
// records taken from data[0].<list> as the table's record source names it.
func windowedSpec(name string, table *schema.Table, path string, filter func(start, end time.Time) any) Spec {
	return Spec{
		Name:      name,
		Table:     table.Name,
		Path:      path,
		PageSize:  DefaultPageSize,
		Filter:    filter,
		Records:   WrappedRecords(schema.RecordListKey(table.Name)),
		Lookback:  DefaultLookback,
		MinWindow: DefaultMinWindow,
		MaxWindow: DefaultMaxWindow,
	}
}

// fromTo returns a filter builder for a from/to function; extra sets the function's own "all" fields.
func fromTo(extra func(*fromToFilter)) func(start, end time.Time) any {
	return func(start, end time.Time) any {
		f := fromToFilter{From: schema.FormatAPITime(start), To: schema.FormatAPITime(end), OldestFirst: true}
		if extra != nil {
			extra(&f)
		}
		return f
	}
}

// startEnd builds the filter of a start/end function.
func startEnd(start, end time.Time) any {
	return startEndFilter{Start: schema.FormatAPITime(start), End: schema.FormatAPITime(end)}
}

// DLPSpec is the Seg_Dlp_CL stream: POST /api/dlp/get-logs with from/to and oldestFirst, records in
// data[0].dlpLogs[].
func DLPSpec() Spec {
	return windowedSpec(StreamDLP, &schema.SegDlp, "/api/dlp/get-logs", fromTo(nil))
}

// TTPURLSpec is the Ttp_Url_CL stream: POST /api/ttp/url/get-logs with from/to, route and scanResult "all" and
// oldestFirst, records in data[0].clickLogs[].
func TTPURLSpec() Spec {
	return windowedSpec(StreamTTPURL, &schema.TtpURL, "/api/ttp/url/get-logs", fromTo(func(f *fromToFilter) {
		f.Route, f.ScanResult = "all", "all"
	}))
}

// TTPAttachmentSpec is the Ttp_Attachment_CL stream: POST /api/ttp/attachment/get-logs with from/to, route and
// result "all" and oldestFirst, records in data[0].attachmentLogs[].
func TTPAttachmentSpec() Spec {
	return windowedSpec(StreamTTPAttachment, &schema.TtpAttachment, "/api/ttp/attachment/get-logs",
		fromTo(func(f *fromToFilter) { f.Route, f.Result = "all", "all" }))
}

// TTPImpersonationSpec is the Ttp_Impersonation_CL stream: POST /api/ttp/impersonation/get-logs with from/to and
// oldestFirst, records in data[0].impersonationLogs[] (the wrapper's resultCount is not a record).
func TTPImpersonationSpec() Spec {
	return windowedSpec(StreamTTPImpersonation, &schema.TtpImpersonation, "/api/ttp/impersonation/get-logs", fromTo(nil))
}

// MessageReleaseSpec is the Message_Release_CL stream: POST /api/gateway/get-held-release-logs with start/end,
// records in data[0].heldReleaseLogs[].
func MessageReleaseSpec() Spec {
	return windowedSpec(StreamMessageRelease, &schema.MessageRelease, "/api/gateway/get-held-release-logs", startEnd)
}

// ArchiveSearchSpec is the Archive_Search_CL stream: POST /api/archive/get-archive-search-logs with start/end,
// records in data[0].logs[].
func ArchiveSearchSpec() Spec {
	return windowedSpec(StreamArchiveSearch, &schema.ArchiveSearch, "/api/archive/get-archive-search-logs", startEnd)
}

// WindowedSpecs returns every stream the windowed engine collects, by stream name. Each call builds fresh specs,
// so a caller may adjust one (page size, look-back) without affecting others.
func WindowedSpecs() map[string]Spec {
	return map[string]Spec{
		StreamAudit:            AuditSpec(),
		StreamDLP:              DLPSpec(),
		StreamTTPURL:           TTPURLSpec(),
		StreamTTPAttachment:    TTPAttachmentSpec(),
		StreamTTPImpersonation: TTPImpersonationSpec(),
		StreamMessageRelease:   MessageReleaseSpec(),
		StreamArchiveSearch:    ArchiveSearchSpec(),
	}
}
