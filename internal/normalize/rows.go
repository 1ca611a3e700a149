package normalize

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// EventEmailActivity is schema.EventEmailActivity, kept here for the mappings that use it.
const EventEmailActivity = schema.EventEmailActivity

// Directions as written to Event.Direction.
const (
	dirInbound  = "inbound"
	dirOutbound = "outbound"
	dirInternal = "internal"
	dirExternal = "external"
)

// keySeparator joins the natural key values of a row into the event id; a separator or backslash inside a value
// is escaped with a backslash, so two different keys never give the same id.
const keySeparator = "|"

// secondEventSuffix marks the id of the second event a row gives (e.g. "#security-alert").
const secondEventSuffix = "#"

// reasonField is the Fields key holding why Mimecast flagged a message (security-alert events).
const reasonField = "reason"

var keyEscaper = strings.NewReplacer(`\`, `\\`, keySeparator, `\`+keySeparator)

// rowEventID returns "<tenant>/<table>/<key values joined by |>", the key being t.Key after tenant.
func rowEventID(t *schema.Table, row schema.Row) (string, error) {
	if len(row) != len(t.Columns) {
		return "", &RowError{Table: t.Name, Reason: fmt.Sprintf("row has %d values, table has %d columns", len(row), len(t.Columns))}
	}
	tenant, _ := row[0].(string)
	parts := make([]string, 0, len(t.Key))
	for _, k := range t.Key {
		if k == "tenant" {
			continue
		}
		i := t.ColumnIndex(k)
		if i < 0 {
			return "", &RowError{Table: t.Name, Reason: fmt.Sprintf("no key column %s", k)}
		}
		parts = append(parts, keyEscaper.Replace(keyValue(row[i])))
	}
	return tenant + "/" + t.Name + "/" + strings.Join(parts, keySeparator), nil
}

// keyValue writes one key value as text: numbers without exponent, times in RFC 3339 UTC, NULL as "".
func keyValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case json.RawMessage:
		return string(x)
	}
	return fmt.Sprint(v)
}

// baseEvent fills the fields every event of a row shares: id, time (the table's event time, else TimeGenerated),
// tenant, table, and Fields with every column but the event time and those listed in promoted (NULL and empty
// values left out).
func baseEvent(t *schema.Table, row schema.Row, promoted ...string) (schema.Event, error) {
	id, err := rowEventID(t, row)
	if err != nil {
		return schema.Event{}, err
	}
	r := newRowReader(t, row)
	tenant := r.str("tenant")
	generated := r.time("TimeGenerated")
	if r.err != nil {
		return schema.Event{}, r.err
	}
	ts, ok := schema.EventTimeOf(t, row)
	if !ok {
		ts = generated
	}
	return schema.Event{
		ID:     id,
		Time:   ts,
		Tenant: tenant,
		Table:  t.Name,
		Fields: restFields(t, row, append([]string{t.EventTime}, promoted...)),
	}, nil
}

// restFields returns the columns of row not promoted to typed event fields, by column name. Dynamic (JSON)
// values are decoded, so that rules see lists and objects rather than text.
func restFields(t *schema.Table, row schema.Row, promoted []string) map[string]any {
	skip := map[string]bool{"tenant": true, "TimeGenerated": true}
	for _, p := range promoted {
		skip[p] = true
	}
	m := map[string]any{}
	for i, c := range t.Columns {
		if skip[c.Name] || i >= len(row) {
			continue
		}
		switch v := row[i].(type) {
		case nil:
		case string:
			if v != "" {
				m[c.Name] = v
			}
		case json.RawMessage:
			var x any
			if json.Unmarshal(v, &x) == nil {
				m[c.Name] = x
			} else {
				m[c.Name] = string(v)
			}
		case time.Time:
			m[c.Name] = v.UTC().Format(time.RFC3339Nano)
		default:
			m[c.Name] = v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// real reads a real column; NULL reads as 0 and false.
func (r *rowReader) real(col string) (float64, bool) {
	switch v := r.value(col).(type) {
	case nil:
		return 0, false
	case float64:
		return v, true
	default:
		if r.err == nil {
			r.err = &RowError{Table: r.table.Name, Reason: fmt.Sprintf("column %s is %T, want float64", col, v)}
		}
		return 0, false
	}
}

// flag reads a bool column; NULL reads as false.
func (r *rowReader) flag(col string) bool {
	switch v := r.value(col).(type) {
	case nil:
		return false
	case bool:
		return v
	default:
		if r.err == nil {
			r.err = &RowError{Table: r.table.Name, Reason: fmt.Sprintf("column %s is %T, want bool", col, v)}
		}
		return false
	}
}

// dynamic reads a dynamic (JSON) column as its text; NULL reads as "".
func (r *rowReader) dynamic(col string) string {
	switch v := r.value(col).(type) {
	case nil:
		return ""
	case json.RawMessage:
		return string(v)
	default:
		if r.err == nil {
			r.err = &RowError{Table: r.table.Name, Reason: fmt.Sprintf("column %s is %T, want JSON", col, v)}
		}
		return ""
	}
}

// address returns a mail address cleaned for an event: trimmed, angle brackets removed, lower-cased; the null
// sender "<>" and anything without text on both sides of one "@" give "".
func address(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	s = strings.TrimSpace(s)
	local, dom, ok := strings.Cut(s, "@")
	if !ok || local == "" || dom == "" || strings.ContainsAny(dom, "@ <>,;") || strings.ContainsAny(local, " <>,;") {
		return ""
	}
	return strings.ToLower(s)
}

// domainOf returns the lower-cased domain of an address, or "".
func domainOf(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok {
		return strings.ToLower(d)
	}
	return ""
}

// listValues reads a list as a column stores it: JSON array text (`["a","b"]`), a JSON string, quoted
// comma-separated names (`"a.pdf", "b.docx"`), or plain text separated by commas or semicolons. Empty items and
// "<>" are dropped.
func listValues(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return nil
	}
	var items []string
	var arr []any
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &arr) == nil {
		for _, a := range arr {
			if str, ok := a.(string); ok {
				items = append(items, str)
			}
		}
	} else {
		items = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' })
	}
	var out []string
	for _, it := range items {
		it = strings.TrimSpace(strings.Trim(strings.TrimSpace(it), `"`))
		if it != "" && it != "<>" {
			out = append(out, it)
		}
	}
	return out
}

// addresses returns the valid addresses of a stored recipient list, lower-cased, in order, without repeats.
func addresses(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range listValues(s) {
		if a := address(v); a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// domains returns the distinct domains of addrs, sorted.
func domains(addrs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range addrs {
		if d := domainOf(a); d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// validIP returns the address in canonical form (IPv4-mapped IPv6 unmapped), or "" when s is not an IP
// address (e.g. the "Internal IP" TTP URL logs write).
func validIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// direction lower-cases a direction or route value; values that are not a direction give "".
func direction(s string) string {
	switch d := strings.ToLower(strings.TrimSpace(s)); d {
	case dirInbound, dirOutbound, dirInternal, dirExternal:
		return d
	}
	return ""
}

// extension returns the lower-cased extension of a file name without the dot, or "".
func extension(name string) string {
	ext := strings.TrimPrefix(path.Ext(strings.TrimSpace(name)), ".")
	if ext == "" || strings.ContainsAny(ext, " /\\") {
		return ""
	}
	return strings.ToLower(ext)
}

// appendUnique appends the non-empty values not yet in list.
func appendUnique(list []string, vals ...string) []string {
	for _, v := range vals {
		if v == "" {
			continue
		}
		dup := false
		for _, x := range list {
			if x == v {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, v)
		}
	}
	return list
}

// setMailUser sets user, user_email and email_domain to the party of a message inside the organization: the
// first recipient of inbound mail, the sender of outbound and internal mail. Other directions name nobody.
func setMailUser(ev *schema.Event) {
	var u string
	switch ev.Direction {
	case dirInbound:
		if len(ev.Recipients) > 0 {
			u = ev.Recipients[0]
		}
	case dirOutbound, dirInternal:
		u = ev.Sender
	}
	setUser(ev, u)
}

// setUser sets user, user_email and email_domain from one value (see splitUser).
func setUser(ev *schema.Event, u string) {
	if u == "" {
		return
	}
	ev.User, ev.UserEmail, ev.EmailDomain = splitUser(u)
}

// setRecipients sets recipients and recipient_domains.
func setRecipients(ev *schema.Event, addrs []string) {
	if len(addrs) == 0 {
		return
	}
	ev.Recipients = addrs
	ev.RecipientDomains = domains(addrs)
}

// setSender sets sender and sender_domain from the first valid address of candidates.
func setSender(ev *schema.Event, candidates ...string) {
	for _, c := range candidates {
		if a := address(c); a != "" {
			ev.Sender, ev.SenderDomain = a, domainOf(a)
			return
		}
	}
}

// addAttachment adds one file to the attachment lists; the extension is taken from the name when not given.
func addAttachment(ev *schema.Event, name, ext string, hashes ...string) {
	name = strings.TrimSpace(name)
	if ext = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(ext), ".")); ext == "" {
		ext = extension(name)
	}
	ev.AttachmentNames = appendUnique(ev.AttachmentNames, name)
	ev.AttachmentExtensions = appendUnique(ev.AttachmentExtensions, ext)
	for _, h := range hashes {
		ev.AttachmentHashes = appendUnique(ev.AttachmentHashes, strings.ToLower(strings.TrimSpace(h)))
	}
}

// withAlert returns a copy of ev as a security-alert with its own id and reason, for a row that gives a
// second event (a click or mail record that also carries a detection).
func withAlert(ev schema.Event, reason string) schema.Event {
	alert := ev
	alert.ID = ev.ID + secondEventSuffix + schema.EventSecurityAlert
	alert.EventType = schema.EventSecurityAlert
	alert.Outcome, alert.FailureReason = "", ""
	alert.Fields = map[string]any{}
	for k, v := range ev.Fields {
		alert.Fields[k] = v
	}
	if reason != "" {
		alert.Fields[reasonField] = reason
	}
	return alert
}

// setReason records why Mimecast flagged the message.
func setReason(ev *schema.Event, reason string) {
	if reason == "" {
		return
	}
	if ev.Fields == nil {
		ev.Fields = map[string]any{}
	}
	ev.Fields[reasonField] = reason
}

// one wraps a single event for the registry form.
func one(ev schema.Event, err error) ([]schema.Event, error) {
	if err != nil {
		return nil, err
	}
	return []schema.Event{ev}, nil
}
