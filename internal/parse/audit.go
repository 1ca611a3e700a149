// Package parse reads the free-text and raw-line formats Mimecast produces: the audit eventInfo text and the
// legacy SIEM key=value lines. Every function here is pure: no I/O, no clock, no shared state.
package parse

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Audit eventInfo layouts recognised by ParseAuditInfo (AuditInfo.Layout).
const (
	// LayoutFields is the common layout: a leading phrase, then ", Key: value" pairs
	// ("Successful authentication for x@y <Name>, Date: …, Time: …, IP: …, Application: …").
	LayoutFields = "fields"
	// LayoutSpaced is the "Action Performed - … by x@y<Name> Date: … Time: … IP: … Application: …" layout, whose
	// trailing keys are separated by spaces only.
	LayoutSpaced = "spaced"
	// LayoutBracket is a leading "[Key :value,Key :value]" list (page data exports).
	LayoutBracket = "bracket"
	// LayoutText is plain text with no recognised key (e.g. "No changes found.").
	LayoutText = "text"
	// LayoutEmpty is an empty eventInfo.
	LayoutEmpty = "empty"
)

// Field is one "Key: value" pair found in eventInfo, in order of appearance, key and value trimmed.
type Field struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AuditInfo is what ParseAuditInfo extracts from an audit record's eventInfo text.
type AuditInfo struct {
	// Raw is the input, unchanged.
	Raw string `json:"raw"`
	// Layout names the recognised layout (LayoutFields, LayoutSpaced, …).
	Layout string `json:"layout"`
	// Action is the leading action phrase ("Successful authentication", "Viewed Message",
	// "Threat intel multiple feeds download").
	Action string `json:"action,omitempty"`
	// Target is what the action names as its subject or object: the user in "… authentication for x@y <Name>",
	// the file in "… download - name.zip", the incident in "… Created - TR-…", the address of a failed-login
	// Address dump.
	Target string `json:"target,omitempty"`
	// TargetName is the display name after Target ("<John Doe>"), when given and different from Target.
	TargetName string `json:"target_name,omitempty"`
	// Actor is the user in a trailing "by x@y<Name>", or "Requested By" of an export.
	Actor string `json:"actor,omitempty"`
	// ActorName is the display name after Actor, when given and different from Actor.
	ActorName string `json:"actor_name,omitempty"`
	// Detail is leading text that is neither the action nor a field ("Restored data from a to b").
	Detail string `json:"detail,omitempty"`
	// IP is the "IP:" (or "IP Address:") value, normalised; empty when absent or not an IP address.
	IP string `json:"ip,omitempty"`
	// RemoteIP is the "Remote IP is …" / "remote IP :" value, normalised; empty when absent or "null".
	RemoteIP    string `json:"remote_ip,omitempty"`
	Application string `json:"application,omitempty"`
	Method      string `json:"method,omitempty"`
	TwoFA       string `json:"2fa,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// LocalTime is the embedded local time as written ("2021-10-11 18:17:30 BST").
	LocalTime string `json:"local_time,omitempty"`
	// Time is LocalTime converted to UTC; zero when absent or unreadable (see Issues).
	Time time.Time `json:"time,omitzero"`
	// Fields lists every key/value pair found, including the ones promoted above.
	Fields []Field `json:"fields,omitempty"`
	// Issues says what could not be read (unknown zone, invalid IP, no recognised shape, …). Empty means the
	// text was read completely.
	Issues []string `json:"issues,omitempty"`
}

// Get returns the value of the first field whose key equals key, ignoring case.
func (a AuditInfo) Get(key string) (string, bool) {
	for _, f := range a.Fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value, true
		}
	}
	return "", false
}

// SourceIP returns IP, or RemoteIP when IP is empty.
func (a AuditInfo) SourceIP() string {
	if a.IP != "" {
		return a.IP
	}
	return a.RemoteIP
}

// objectKeys are the fields that name the thing acted on, most specific first.
var objectKeys = []string{"Review Set", "Case", "Subject", "File name", "Download filename (HTML Report recovery id)", "Name", "Search Criteria", "search criteria"}

// Object returns the thing the action was taken on, first found of: Target; the fields Review Set, Case,
// Subject, File name, Download filename, Name, Search Criteria; Detail; a quoted name in the action
// (`… with name "X" …`, else the last "…" in it); the rest of an action that starts with a past-tense verb
// ("Deleted New Folder" → "New Folder").
func (a AuditInfo) Object() string {
	if a.Target != "" {
		return a.Target
	}
	for _, k := range objectKeys {
		if v, ok := a.Get(k); ok && v != "" {
			return v
		}
	}
	if a.Detail != "" {
		return a.Detail
	}
	if m := namedRe.FindStringSubmatch(a.Action); m != nil {
		return m[1]
	}
	if q := quotedRe.FindAllStringSubmatch(a.Action, -1); len(q) > 0 {
		return q[len(q)-1][1]
	}
	if verb, rest, ok := strings.Cut(a.Action, " "); ok && len(verb) > 3 && strings.HasSuffix(verb, "ed") {
		return strings.TrimSpace(rest)
	}
	return ""
}

var (
	// keyRe matches "Key: value", "Key :value" and "Key : value". Keys are short, start with a letter or digit
	// and hold only letters, digits, spaces and ()/_.'- (so "x@y <Name>" or a URL is never a key).
	keyRe = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9 ()/_.'-]{0,47}?)\s*:(.*)$`)
	// remoteIPRe matches "Remote IP is <value>".
	remoteIPRe = regexp.MustCompile(`^\s*(?i:remote ip is)\s*(.*)$`)
	// spacedKeyRe finds the known trailing keys when only whitespace separates them.
	spacedKeyRe = regexp.MustCompile(`\s(?i:remote ip|date|time|ip|application|method|2fa|reason)\s?:`)
	// byActorRe matches a trailing "by x@y", "by x@y<Name>" or "by x@y <Name>".
	byActorRe = regexp.MustCompile(`^(.*?)\s*\bby\s+([^\s<>@,]+@[^\s<>,]+?)\s*(?:<([^<>]*)>)?\s*$`)
	// forUserRe matches "<action> for [user: ]x@y [<Name>] [rest]".
	forUserRe = regexp.MustCompile(`^(.*?)\s+for\s+(?:user:\s*)?([^\s<>@,]+@[^\s<>,]+?)(?:\s*<([^<>]*)>)?(?:\s+(.*))?$`)
	// userSubjectRe matches "User x@y <verb phrase>".
	userSubjectRe = regexp.MustCompile(`^User\s+([^\s<>@,]+@[^\s<>,]+)\s+(.+)$`)
	// addressDumpRe finds the address inside a Java Address dump "…Address@4a3b[…,emailAddress=x@y,…]".
	addressDumpRe = regexp.MustCompile(`\bemailAddress=([^,\]\s]+)`)
	// namedRe finds `name "X"` in an action phrase; quotedRe finds any double-quoted text.
	namedRe  = regexp.MustCompile(`\bname\s+"([^"]+)"`)
	quotedRe = regexp.MustCompile(`"([^"]+)"`)
	// clockRe reads "HH:MM[:SS][ zone]".
	clockRe = regexp.MustCompile(`^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(.*)$`)
	// javaDateRe reads Java's Date.toString: "Tue Oct 12 03:27:18 BST 2021".
	javaDateRe = regexp.MustCompile(`^[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{2}:\d{2}:\d{2}) (\S+) (\d{4})$`)
)

// ParseAuditInfo reads an audit record's eventInfo text. It never fails: what it cannot read stays in Raw and is
// described in Issues.
//
// Fields are separated by ", " (or a newline), but a value may itself contain commas: a piece after a comma
// that does not start with "Key:" belongs to the previous value, and commas inside (…), […], {…}, <…> and "…"
// never separate (so "<Doe, John>", JSON search criteria and "Foo, Inc." application names survive).
func ParseAuditInfo(s string) AuditInfo {
	info := AuditInfo{Raw: s}
	text := strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if text == "" {
		info.Layout = LayoutEmpty
		info.Issues = append(info.Issues, "empty eventInfo")
		return info
	}

	parts := splitFields(text)
	head := strings.TrimSpace(parts[0])
	// The last part may carry several known keys separated by spaces only.
	last := len(parts) - 1
	if sub := splitSpacedKeys(parts[last]); len(sub) > 1 {
		if last == 0 {
			info.Layout = LayoutSpaced
			head = strings.TrimSpace(sub[0])
			parts = sub
		} else {
			parts = append(parts[:last], sub...)
		}
	}
	recognised := info.parseHead(head)
	for _, p := range parts[1:] {
		if f, ok := parseField(p); ok {
			info.Fields = append(info.Fields, f)
		}
	}
	info.promote()
	info.readTime()
	if info.Layout == "" {
		info.Layout = LayoutFields
		if len(info.Fields) == 0 {
			info.Layout = LayoutText
		}
	}
	if !recognised && len(info.Fields) == 0 {
		info.Issues = append(info.Issues, "no recognised fields")
	}
	return info
}

// splitFields splits text at top-level commas and newlines, then joins back every piece that does not start a
// new field. The first element is the leading phrase.
func splitFields(text string) []string {
	inside := insideGroups(text)
	var pieces []string
	var seps []byte
	start := 0
	for i := 0; i < len(text); i++ {
		if inside[i] || (text[i] != ',' && text[i] != '\n') {
			continue
		}
		pieces = append(pieces, text[start:i])
		seps = append(seps, text[i])
		start = i + 1
	}
	pieces = append(pieces, text[start:])

	parts := []string{pieces[0]}
	pending := "" // empty pieces (",," or a trailing comma): dropped before a field, kept inside a value
	for i, p := range pieces[1:] {
		t := strings.TrimSpace(p)
		switch {
		case t == "":
			pending += string(seps[i]) + p
		case isFieldStart(t):
			parts = append(parts, p)
			pending = ""
		default:
			parts[len(parts)-1] += pending + string(seps[i]) + p
			pending = ""
		}
	}
	return parts
}

// isFieldStart reports whether a piece after a separator opens a new field.
func isFieldStart(t string) bool {
	return keyRe.MatchString(t) || remoteIPRe.MatchString(t)
}

// splitSpacedKeys splits s before each known key ("Date:", "IP:", …) preceded only by whitespace, ignoring
// matches inside groups. It returns s alone when there is none.
func splitSpacedKeys(s string) []string {
	locs := spacedKeyRe.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return []string{s}
	}
	inside := insideGroups(s)
	var out []string
	start := 0
	for _, l := range locs {
		if inside[l[0]] {
			continue
		}
		out = append(out, s[start:l[0]])
		start = l[0] + 1
	}
	return append(out, s[start:])
}

// parseField reads one "Key: value" or "Remote IP is value" part.
func parseField(p string) (Field, bool) {
	if m := remoteIPRe.FindStringSubmatch(p); m != nil {
		return Field{Key: "Remote IP", Value: strings.TrimSpace(m[1])}, true
	}
	m := keyRe.FindStringSubmatch(p)
	if m == nil {
		return Field{}, false
	}
	v := strings.TrimSpace(m[2])
	// "IP: : 1.2.3.4" — a doubled separator.
	for v == ":" || strings.HasPrefix(v, ": ") {
		v = strings.TrimSpace(v[1:])
	}
	return Field{Key: strings.TrimSpace(m[1]), Value: v}, true
}

// parseHead reads the leading phrase. It reports whether the phrase had a recognised structure; a field found
// in the phrase itself ("Viewed Message - Source: Search") becomes the first field.
func (a *AuditInfo) parseHead(head string) bool {
	if head == "" {
		return false
	}
	if strings.HasPrefix(head, "[") && strings.HasSuffix(head, "]") && len(head) >= 2 {
		if allInside(insideGroups(head)[1 : len(head)-1]) {
			a.parseBracket(head[1 : len(head)-1])
			return true
		}
	}
	if fld, ok := parseField(head); ok && knownKey(fld.Key) {
		a.Fields = append(a.Fields, fld)
		return true
	}
	recognised := false
	if rest, ok := strings.CutPrefix(head, "Action Performed - "); ok {
		head = strings.TrimSpace(rest)
		recognised = true
	}
	if m := byActorRe.FindStringSubmatch(head); m != nil {
		a.Actor, a.ActorName = m[2], displayName(m[3], m[2])
		head = strings.TrimSpace(m[1])
		recognised = true
	}
	inside := insideGroups(head)
	if i := indexTop(head, " - ", inside); i >= 0 {
		a.Action = strings.TrimSpace(head[:i])
		rest := strings.TrimSpace(head[i+3:])
		if fld, ok := parseField(rest); ok && rest != "" {
			a.Fields = append(a.Fields, fld)
		} else {
			a.Target = rest
		}
		return true
	}
	if m := forUserRe.FindStringSubmatch(head); m != nil {
		a.Action, a.Target, a.TargetName = strings.TrimSpace(m[1]), m[2], displayName(m[3], m[2])
		a.Detail = strings.TrimSpace(m[4])
		return true
	}
	if m := userSubjectRe.FindStringSubmatch(head); m != nil {
		a.Target, a.Action = m[1], strings.TrimSpace(m[2])
		return true
	}
	if i := indexTop(head, ". ", inside); i >= 0 {
		a.Action = strings.TrimSpace(head[:i])
		rest := strings.TrimSpace(head[i+2:])
		if fld, ok := parseField(rest); ok {
			a.Fields = append(a.Fields, fld)
		} else {
			a.Detail = rest
		}
		return true
	}
	if fld, ok := parseField(head); ok && fld.Value != "" {
		a.Action, a.Target = fld.Key, fld.Value
		return true
	}
	a.Action = strings.TrimSuffix(head, ".")
	return recognised
}

// parseBracket reads the "[Export type : Download,Name :x,…]" list of a page data export.
func (a *AuditInfo) parseBracket(inner string) {
	a.Layout = LayoutBracket
	parts := splitFields(inner)
	for _, p := range parts {
		if fld, ok := parseField(p); ok {
			a.Fields = append(a.Fields, fld)
		}
	}
	if v, ok := a.Get("Export type"); ok && v != "" {
		a.Action = "Export " + v
	}
	if v, ok := a.Get("File name"); ok {
		a.Target = v
	} else if v, ok := a.Get("Name"); ok {
		a.Target = v
	}
	if v, ok := a.Get("Requested By"); ok {
		a.Actor = v
	}
}

func allInside(ins []bool) bool {
	for _, b := range ins {
		if !b {
			return false
		}
	}
	return true
}

// indexTop returns the first index of sep in s outside any group, or -1.
func indexTop(s, sep string, inside []bool) int {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], sep)
		if i < 0 {
			return -1
		}
		if !inside[off+i] {
			return off + i
		}
		off += i + 1
	}
	return -1
}

func displayName(name, addr string) string {
	name = strings.TrimSpace(name)
	if strings.EqualFold(name, addr) {
		return ""
	}
	return name
}

// promote copies the well-known fields into their typed places and checks the IP addresses.
func (a *AuditInfo) promote() {
	for _, f := range a.Fields {
		switch strings.ToLower(f.Key) {
		case "ip", "ip address":
			if a.IP == "" {
				a.IP = a.checkIP(f.Value)
			}
		case "remote ip":
			if a.RemoteIP == "" {
				a.RemoteIP = a.checkIP(f.Value)
			}
		case "application":
			setOnce(&a.Application, f.Value)
		case "method":
			setOnce(&a.Method, f.Value)
		case "2fa":
			setOnce(&a.TwoFA, f.Value)
		case "reason":
			setOnce(&a.Reason, f.Value)
		case "emailaddress":
			if m := addressDumpRe.FindStringSubmatch(f.Value); m != nil && a.Target == "" {
				a.Target = m[1]
			}
		}
	}
}

// knownKey reports whether k is one of the trailing keys every layout shares.
func knownKey(k string) bool {
	switch strings.ToLower(k) {
	case "date", "time", "ip", "remote ip", "application", "method", "2fa", "reason":
		return true
	}
	return false
}

func setOnce(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// checkIP normalises an IP value; "null", "unknown" and empty give "", anything else unreadable is an issue.
func (a *AuditInfo) checkIP(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, " ,;"); i >= 0 {
		v = v[:i]
	}
	switch strings.ToLower(v) {
	case "", "null", "unknown", "-", "n/a":
		return ""
	}
	addr, err := netip.ParseAddr(v)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(v)
		if err2 != nil {
			a.Issues = append(a.Issues, fmt.Sprintf("invalid IP %q", v))
			return ""
		}
		addr = ap.Addr()
	}
	return addr.WithZone("").Unmap().String()
}

// readTime converts "Date: YYYY-MM-DD" + "Time: HH:MM:SS <zone>" (or an export's Java-style "Export time") to UTC.
func (a *AuditInfo) readTime() {
	date, hasDate := a.Get("Date")
	clock, hasTime := a.Get("Time")
	if !hasDate && !hasTime {
		if v, ok := a.Get("Export time"); ok {
			a.readJavaDate(v)
		}
		return
	}
	if strings.TrimSpace(date) == "" && strings.TrimSpace(clock) == "" {
		a.Issues = append(a.Issues, "empty date and time")
		return
	}
	if !hasDate || !hasTime {
		a.Issues = append(a.Issues, "date and time must both be present")
		return
	}
	a.LocalTime = date + " " + clock
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		a.Issues = append(a.Issues, fmt.Sprintf("unreadable date %q", date))
		return
	}
	m := clockRe.FindStringSubmatch(clock)
	if m == nil {
		a.Issues = append(a.Issues, fmt.Sprintf("unreadable time %q", clock))
		return
	}
	a.finishTime(d, m[1], m[2], m[3], m[4])
}

func (a *AuditInfo) readJavaDate(v string) {
	m := javaDateRe.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		a.Issues = append(a.Issues, fmt.Sprintf("unreadable export time %q", v))
		return
	}
	d, err := time.Parse("Jan 2 2006", m[1]+" "+m[2]+" "+m[5])
	if err != nil {
		a.Issues = append(a.Issues, fmt.Sprintf("unreadable export time %q", v))
		return
	}
	a.LocalTime = d.Format("2006-01-02") + " " + m[3] + " " + m[4]
	c := clockRe.FindStringSubmatch(m[3])
	a.finishTime(d, c[1], c[2], c[3], m[4])
}

func (a *AuditInfo) finishTime(d time.Time, hh, mm, ss, zone string) {
	h, mi, se := atoi2(hh), atoi2(mm), 0
	if ss != "" {
		se = atoi2(ss)
	}
	if h > 23 || mi > 59 || se > 60 {
		a.Issues = append(a.Issues, fmt.Sprintf("time out of range %s:%s:%s", hh, mm, ss))
		return
	}
	offset := 0
	if strings.TrimSpace(zone) == "" {
		a.Issues = append(a.Issues, "no time zone; taken as UTC")
	} else {
		z, err := parseZone(zone)
		if err != nil {
			a.Issues = append(a.Issues, err.Error())
			return
		}
		offset = z.offset
		if z.note != "" {
			a.Issues = append(a.Issues, z.note)
		}
	}
	local := time.Date(d.Year(), d.Month(), d.Day(), h, mi, se, 0, time.UTC)
	a.Time = local.Add(-time.Duration(offset) * time.Second)
	if strings.EqualFold(strings.TrimSpace(zone), "BST") && !ukSummerTime(a.Time) {
		a.Issues = append(a.Issues, "BST on a date outside UK summer time")
	}
}

// atoi2 converts a string of at most two ASCII digits (guaranteed by the regexps).
func atoi2(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
