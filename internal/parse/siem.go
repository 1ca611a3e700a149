package parse

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Legacy SIEM log types (API 1.0 get-siem-logs, key_value format), as SIEMRecord.Type.
const (
	SIEMReceipt              = "receipt"
	SIEMProcess              = "process"
	SIEMDelivery             = "delivery"
	SIEMJournal              = "jrnl"
	SIEMAV                   = "avlog"
	SIEMSpam                 = "spam"
	SIEMInternalEmailProtect = "internal-email-protect"
	SIEMImpersonationProtect = "impersonation-protect"
	SIEMURLProtect           = "url-protect"
	SIEMAttachmentProtect    = "attachment-protect"
)

// SIEMRecord is one legacy SIEM key=value record ("datetime=…|aCode=…|acc=…|…").
type SIEMRecord struct {
	// Raw is the record text, unchanged.
	Raw string `json:"raw"`
	// Type is the log type inferred from the keys (SIEMReceipt, …); empty when no rule matched.
	Type string `json:"type,omitempty"`
	// LocalTime is the datetime value as written (account-local offset).
	LocalTime string `json:"local_time,omitempty"`
	// Time is LocalTime in UTC; zero when absent or unreadable (see Issues).
	Time time.Time `json:"time,omitzero"`
	// Fields lists the key/value pairs in order. Backslash-wrapped values (Subject=\text\) are unwrapped.
	Fields []Field `json:"fields,omitempty"`
	// Issues says what could not be read.
	Issues []string `json:"issues,omitempty"`
}

// Get returns the value of key: an exact match first, else the first key equal ignoring case.
func (r SIEMRecord) Get(key string) (string, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	for _, f := range r.Fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value, true
		}
	}
	return "", false
}

var (
	// siemKeyAt matches a key and its "=" at the start of the remaining text.
	siemKeyAt = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_.-]{0,63})=`)
	// siemRecordStart finds "datetime=<date>T" where a record begins.
	siemRecordStart = regexp.MustCompile(`datetime=\d{4}-\d{2}-\d{2}T`)
)

// SplitSIEMRecords splits text into records: one per line, and also where records were concatenated without a
// separator ("…|headerFrom=datetime=2019-…"): a "datetime=<date>T" not preceded by "|" starts a new record.
// Blank lines are dropped.
func SplitSIEMRecords(text string) []string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		start := 0
		for _, loc := range siemRecordStart.FindAllStringIndex(line, -1) {
			if loc[0] == 0 || line[loc[0]-1] == '|' {
				continue
			}
			out = append(out, line[start:loc[0]])
			start = loc[0]
		}
		out = append(out, line[start:])
	}
	return out
}

// ParseSIEMLine reads one legacy SIEM key=value record. Values are not quoted or escaped by Mimecast, so a value
// runs to the next "|" that is followed by "Key="; a value wrapped in backslashes (Subject=\a|b\) runs to its
// closing backslash. It never fails: problems are listed in Issues.
func ParseSIEMLine(line string) SIEMRecord {
	r := SIEMRecord{Raw: line}
	s := strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(s) == "" {
		r.Issues = append(r.Issues, "empty record")
		return r
	}
	pos := 0
	for pos < len(s) {
		m := siemKeyAt.FindStringSubmatch(s[pos:])
		if m == nil {
			end := nextSIEMField(s, pos)
			r.Issues = append(r.Issues, fmt.Sprintf("text without a key at byte %d: %q", pos, clip(s[pos:end], 40)))
			pos = skipBar(s, end)
			continue
		}
		key := m[1]
		vStart := pos + len(m[0])
		value, end := readSIEMValue(s, vStart)
		r.Fields = append(r.Fields, Field{Key: key, Value: value})
		pos = skipBar(s, end)
	}
	if len(r.Fields) == 0 {
		r.Issues = append(r.Issues, "no key=value fields")
		return r
	}
	r.readDatetime()
	r.Type = siemType(r)
	return r
}

// readSIEMValue reads the value starting at i and returns it with the index just past it.
func readSIEMValue(s string, i int) (string, int) {
	if i < len(s) && s[i] == '\\' {
		// Backslash-wrapped: the closing backslash is the one followed by "|Key=" or the end.
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\\' && (j+1 == len(s) || (s[j+1] == '|' && fieldFollows(s, j+2))) {
				return s[i+1 : j], j + 1
			}
		}
	}
	end := nextSIEMField(s, i)
	return s[i:end], end
}

// nextSIEMField returns the index of the "|" that starts the next field after i, or len(s).
func nextSIEMField(s string, i int) int {
	for j := i; j < len(s); j++ {
		if s[j] == '|' && (fieldFollows(s, j+1) || j+1 == len(s)) {
			return j
		}
	}
	return len(s)
}

func fieldFollows(s string, i int) bool {
	return i <= len(s) && siemKeyAt.MatchString(s[i:])
}

func skipBar(s string, i int) int {
	if i < len(s) && s[i] == '|' {
		return i + 1
	}
	return i
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (r *SIEMRecord) readDatetime() {
	v, ok := r.Get("datetime")
	if !ok {
		r.Issues = append(r.Issues, "no datetime")
		return
	}
	r.LocalTime = v
	for _, layout := range []string{"2006-01-02T15:04:05-0700", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999-0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			r.Time = t.UTC()
			return
		}
	}
	r.Issues = append(r.Issues, fmt.Sprintf("unreadable datetime %q", v))
}

// siemTypeKeys are the keys that identify a log type, checked in this order (an av record also has fileName, so
// avlog comes before attachment-protect). Keys compare case-insensitively.
var siemTypeKeys = []struct {
	typ  string
	keys []string
}{
	{SIEMReceipt, []string{"Error", "SpamInfo", "SpamLimit", "SpamProcessingDetail", "SpamScore"}},
	{SIEMProcess, []string{"AttNames", "Hld", "MsgSize", "IPInternalName", "IPNewDomain", "IPReplyMismatch", "IPSimilarDomain", "IPThreadDict"}},
	{SIEMDelivery, []string{"Attempt", "Delivered", "Err", "Latency", "ReceiptAck", "Snt", "UseTls"}},
	{SIEMJournal, []string{"RcptActType"}},
	{SIEMAV, []string{"CustomerIP", "MimecastIP", "SenderDomainInternal"}},
	{SIEMInternalEmailProtect, []string{"ScanResultInfo"}},
	{SIEMImpersonationProtect, []string{"CustomName", "CustomThreatDictionary", "Definition", "Hits", "InternalName", "NewDomain", "ReplyMismatch", "SimilarCustomExternalDomain", "SimilarInternalDomain", "SimilarMimecastExternalDomain", "TaggedExternal", "TaggedMalicious", "ThreatDictionary"}},
	{SIEMURLProtect, []string{"reason"}},
	{SIEMAttachmentProtect, []string{"fileName"}},
}

// siemType infers the log type from the keys present. Rejected receipts carry none of the receipt keys; a record
// with Act and Dir but no other marker is taken as a receipt, and one with SourceIP as a spam event.
func siemType(r SIEMRecord) string {
	has := func(k string) bool { _, ok := r.Get(k); return ok }
	for _, t := range siemTypeKeys {
		for _, k := range t.keys {
			if has(k) {
				return t.typ
			}
		}
	}
	switch {
	case has("SourceIP"):
		return SIEMSpam
	case has("Act") && (has("Dir") || has("RejType") || has("RejCode")):
		return SIEMReceipt
	}
	return ""
}
