package parse

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Exabeam's Mimecast parsers for Splunk-forwarded lines (exabeam-content §1), as ExabeamLine.Parser.
const (
	// ExabeamAppActivity is s-mimecast-app-activity → app-activity.
	ExabeamAppActivity = "s-mimecast-app-activity"
	// ExabeamAppLogin is s-mimecast-app-login → app-login or failed-app-login.
	ExabeamAppLogin = "s-mimecast-app-login"
	// ExabeamDLPEmail is s-mimecast-dlp-email → dlp-email-alert-in, -in-failed, -out, -out-failed.
	ExabeamDLPEmail = "s-mimecast-dlp-email"
)

// RawTable is the Event.Table of events read from raw lines that belong to no stored table.
const RawTable = "raw"

// exabeamConditions are the literal substrings each Exabeam parser requires (all of them).
var exabeamConditions = map[string][]string{
	ExabeamAppActivity: {" Application:", "|auditType=", "Action Performed - ", "|mcType=auditLog|"},
	ExabeamAppLogin:    {" Application:", "|action=", "|auditType=", "|mcType=auditLog|"},
	ExabeamDLPEmail:    {"|Dir=", "|Sender=", "|Rcpt="},
}

// MatchesExabeam reports whether line holds every required substring of the named Exabeam parser.
func MatchesExabeam(parser, line string) bool {
	conds, ok := exabeamConditions[parser]
	if !ok {
		return false
	}
	for _, c := range conds {
		if !strings.Contains(line, c) {
			return false
		}
	}
	return true
}

// LineError is a line that cannot give an event. Reason is a short, stable label to count rejections by;
// Detail says more about this line.
type LineError struct {
	Reason string
	Detail string
}

func (e *LineError) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

// Rejection reasons of LineError.
const (
	ReasonNotExabeam   = "not an exabeam mimecast line"
	ReasonNoTime       = "no event time"
	ReasonBadTime      = "unreadable event time"
	ReasonNotCEF       = "not a cef line"
	ReasonCEFUnmatched = "cef line of no mimecast shape"
)

// ExabeamLine is what ParseExabeamLine read from one Splunk-forwarded Mimecast line.
type ExabeamLine struct {
	// Raw is the line, unchanged.
	Raw string `json:"raw"`
	// Parser is the Exabeam parser the line is read as (ExabeamAppActivity, …).
	Parser string `json:"parser"`
	// Conditions reports whether the line holds all of Parser's required substrings; a line read as an audit
	// line without them (e.g. no "Application:") is still read, which Exabeam would drop.
	Conditions bool `json:"conditions"`
	// Fields are the values under Exabeam's field names (host, app, time, user, …), only those found.
	Fields map[string]string `json:"fields"`
	// Event is the normalized event (Table "raw", ID "raw/<hash of the line>", no tenant).
	Event schema.Event `json:"event"`
	// Issues lists what could not be read; the event is still produced.
	Issues []string `json:"issues,omitempty"`
}

var (
	exabeamHost  = regexp.MustCompile(`exabeam_host=([\w.\-]+)`)
	exabeamIndex = regexp.MustCompile(`exabeam_index=([^\s|]+)`)
	// auditBodyStart finds where the key=value body of a Splunk line begins after its prefix.
	auditBodyStart = regexp.MustCompile(`(?:^|\s)(date|datetime)=`)
	// pipeKeyAt matches "key=" at the start of the remaining text of an audit line.
	pipeKeyAt = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]{0,63})=`)
	// spaceAfterHour is the "T10: 15:30" typo a later Exabeam revision tolerates.
	spaceAfterHour = regexp.MustCompile(`(T\d\d:)\s+`)
)

// ParseExabeamLine reads one line in the layouts Exabeam's s-mimecast-app-activity, s-mimecast-app-login and
// s-mimecast-dlp-email parsers expect (Splunk-forwarded audit and SIEM lines), extracts every field those parsers
// extract — with their documented quirks fixed (see README.md) — and builds the normalized event. A line that is
// neither an audit line (mcType=auditLog / auditType=) nor a SIEM line with Dir, Sender and Rcpt, or that has no
// readable time, is a *LineError.
func ParseExabeamLine(line string) (ExabeamLine, error) {
	l := ExabeamLine{Raw: line, Fields: map[string]string{}}
	s := strings.TrimRight(line, "\r\n")
	if m := exabeamHost.FindStringSubmatch(s); m != nil {
		l.Fields["host"] = m[1]
	}
	if m := exabeamIndex.FindStringSubmatch(s); m != nil {
		l.Fields["exabeam_index"] = m[1]
	}
	body := s
	if loc := auditBodyStart.FindStringSubmatchIndex(s); loc != nil {
		body = s[loc[2]:]
	}
	isAudit := strings.Contains(s, "mcType=auditLog") || strings.Contains(s, "auditType=")
	var err error
	switch {
	case isAudit:
		err = l.readAudit(body)
	case strings.Contains(s, "Dir=") && strings.Contains(s, "Sender=") && strings.Contains(s, "Rcpt="):
		err = l.readDLP(body)
	default:
		return l, &LineError{Reason: ReasonNotExabeam, Detail: "neither an audit line (mcType=auditLog) nor a SIEM line with Dir, Sender and Rcpt"}
	}
	if err != nil {
		return l, err
	}
	l.Conditions = MatchesExabeam(l.Parser, s)
	if !l.Conditions {
		l.Issues = append(l.Issues, "line lacks some of "+l.Parser+"'s required substrings (Exabeam would not read it)")
	}
	if h := l.Fields["host"]; h != "" {
		l.Event.Fields["host"] = h
	}
	l.Event.ID = RawEventID(line)
	l.Event.Table = RawTable
	return l, nil
}

// RawEventID is the id of an event read from a raw line: "raw/" and 32 hex digits of the line's SHA-256, so the
// same line always gives the same id.
func RawEventID(line string) string {
	sum := sha256.Sum256([]byte(strings.TrimRight(line, "\r\n")))
	return "raw/" + hex.EncodeToString(sum[:16])
}

// splitPipeKV reads "key=value|key=value…": a value runs to the next "|" followed by "key=" (or the end); a value
// starting with a double quote runs to the quote that is followed by "|key=" or the end, and is unquoted.
func splitPipeKV(s string) []Field {
	var out []Field
	pos := 0
	for pos < len(s) {
		m := pipeKeyAt.FindStringSubmatch(s[pos:])
		if m == nil {
			// text without a key: skip to the next field
			end := nextPipeField(s, pos)
			pos = end + 1
			continue
		}
		vStart := pos + len(m[0])
		var value string
		end := -1
		if vStart < len(s) && s[vStart] == '"' {
			for j := vStart + 1; j < len(s); j++ {
				if s[j] == '"' && (j+1 == len(s) || strings.TrimSpace(s[j+1:]) == "" || (s[j+1] == '|' && pipeKeyAt.MatchString(s[j+2:]))) {
					value, end = s[vStart+1:j], j+1
					break
				}
			}
		}
		if end < 0 {
			end = nextPipeField(s, vStart)
			value = s[vStart:end]
			if strings.HasPrefix(value, `"`) {
				// an opening quote never closed (Sumo Logic's collector writes eventInfo="… without one)
				value = strings.TrimSpace(value[1:])
			}
		}
		out = append(out, Field{Key: m[1], Value: value})
		pos = end
		if pos < len(s) && s[pos] == '|' {
			pos++
		}
	}
	return out
}

func nextPipeField(s string, i int) int {
	for j := i; j < len(s); j++ {
		if s[j] == '|' && (j+1 == len(s) || pipeKeyAt.MatchString(s[j+1:])) {
			return j
		}
	}
	return len(s)
}

func getField(fs []Field, key string) (string, bool) {
	for _, f := range fs {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// exabeamTime reads a Splunk line's date: yyyy-MM-dd'T'HH:mm:ssZ (and the other Mimecast styles).
func exabeamTime(v string) (time.Time, error) {
	v = spaceAfterHour.ReplaceAllString(strings.TrimSpace(v), "$1")
	if v == "" {
		return time.Time{}, &LineError{Reason: ReasonNoTime}
	}
	t, err := schema.ParseTime(v)
	if err != nil {
		return time.Time{}, &LineError{Reason: ReasonBadTime, Detail: fmt.Sprintf("%q", v)}
	}
	return t, nil
}

// loginAuditTypes are the audit types of login events (as normalize reads Audit_CL).
var loginAuditTypes = map[string]string{
	"User Logged On":              schema.OutcomeSuccess,
	"Mimecast Support Login":      schema.OutcomeSuccess,
	"Logon Authentication Failed": schema.OutcomeFailure,
	"Logon Requires Challenge":    schema.OutcomeChallenge,
}

// loginOutcome reads the Splunk CIM action value (success, failure, …); "" when it says neither.
func loginOutcome(action string) string {
	switch strings.ToLower(strings.TrimSpace(action)) {
	case "success", "succeeded", "successful", "allowed", "allow", "ok", "logon", "login":
		return schema.OutcomeSuccess
	case "failure", "failed", "fail", "failed-login", "denied", "deny", "blocked", "block", "error", "rejected":
		return schema.OutcomeFailure
	case "challenge", "pending":
		return schema.OutcomeChallenge
	}
	return ""
}

func (l *ExabeamLine) readAudit(body string) error {
	fs := splitPipeKV(body)
	date, ok := getField(fs, "date")
	if !ok {
		date, _ = getField(fs, "datetime")
	}
	t, err := exabeamTime(date)
	if err != nil {
		return err
	}
	l.Fields["time"] = strings.TrimSpace(date)
	userRaw, _ := getField(fs, "user")
	auditType, _ := getField(fs, "auditType")
	eventInfo, _ := getField(fs, "eventInfo")
	action, hasAction := getField(fs, "action")
	appKey, _ := getField(fs, "app")
	srcKey, _ := getField(fs, "src")
	info := ParseAuditInfo(eventInfo)

	user := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(userRaw), "<"), ">")
	ev := schema.Event{Time: t, Fields: map[string]any{}}
	ev.User, ev.UserEmail, ev.EmailDomain = splitAddress(user)
	setIf(l.Fields, "user", ev.User)
	setIf(l.Fields, "user_email", ev.UserEmail)
	setIf(l.Fields, "email_domain", ev.EmailDomain)

	outcome := loginOutcome(action)
	typeOutcome, loginType := loginAuditTypes[auditType]
	infoLogin := strings.HasSuffix(strings.ToLower(info.Action), "authentication")
	login := loginType || (hasAction && (outcome != "" || infoLogin)) || (infoLogin && !strings.Contains(eventInfo, "Action Performed - "))
	if login {
		l.Parser = ExabeamAppLogin
		if outcome == "" {
			outcome = typeOutcome
		}
		if outcome == "" {
			switch strings.ToLower(info.Action) {
			case "failed authentication":
				outcome = schema.OutcomeFailure
			case "intermediate authentication":
				outcome = schema.OutcomeChallenge
			default:
				outcome = schema.OutcomeSuccess
			}
		}
		ev.EventType = schema.EventAppLogin
		if outcome == schema.OutcomeFailure {
			ev.EventType = schema.EventFailedAppLogin
			ev.FailureReason = info.Reason
			if ev.FailureReason == "" && !strings.EqualFold(info.Action, "failed authentication") && !strings.EqualFold(info.Action, auditType) {
				ev.FailureReason = info.Action
			}
			setIf(l.Fields, "failure_reason", ev.FailureReason)
		}
		ev.Outcome = outcome
		setIf(l.Fields, "outcome", strings.TrimSpace(action))
		ev.Action = strings.TrimSpace(action)
		ev.App = firstNonEmpty(info.Application, strings.TrimSpace(appKey))
		ev.SrcIP = firstNonEmpty(info.SourceIP(), canonicalIP(srcKey))
		ev.Activity = auditType
		ev.Object = info.Object()
	} else {
		l.Parser = ExabeamAppActivity
		ev.EventType = schema.EventAppActivity
		ev.Activity = info.Action
		if ev.Activity == "" {
			ev.Activity = auditType
		}
		ev.Object = info.Object()
		ev.App = firstNonEmpty(info.Application, strings.TrimSpace(appKey), l.Fields["exabeam_index"])
		ev.SrcIP = firstNonEmpty(info.SourceIP(), canonicalIP(srcKey))
		ev.Action = info.Action
		if i := strings.Index(eventInfo, "Application:"); i >= 0 && (i == 0 || isSpace(eventInfo[i-1])) {
			setIf(l.Fields, "additional_info", strings.TrimSpace(eventInfo[i+len("Application:"):]))
		}
		setIf(l.Fields, "activity", ev.Activity)
		setIf(l.Fields, "object", ev.Object)
	}
	setIf(l.Fields, "app", ev.App)
	setIf(l.Fields, "src_ip", ev.SrcIP)
	ev.Fields["auditType"] = auditType
	if eventInfo != "" {
		ev.Fields["eventInfo"] = eventInfo
	}
	if idx := l.Fields["exabeam_index"]; idx != "" {
		ev.Fields["exabeam_index"] = idx
	}
	if mc, ok := getField(fs, "mcType"); ok {
		ev.Fields["mcType"] = mc
	}
	for _, is := range info.Issues {
		l.Issues = append(l.Issues, "eventInfo: "+is)
	}
	l.Event = ev
	return nil
}

func (l *ExabeamLine) readDLP(body string) error {
	rec := ParseSIEMLine(body)
	if rec.LocalTime == "" {
		return &LineError{Reason: ReasonNoTime, Detail: "no datetime"}
	}
	t, err := exabeamTime(rec.LocalTime)
	if err != nil {
		return err
	}
	l.Parser = ExabeamDLPEmail
	l.Fields["time"] = rec.LocalTime
	ev, fields := dlpEvent(func(k string) string { v, _ := rec.Get(k); return strings.TrimSpace(v) }, t)
	for k, v := range fields {
		l.Fields[k] = v
	}
	l.Issues = append(l.Issues, rec.Issues...)
	l.Event = ev
	return nil
}

// dlpEvent builds a dlp-email-alert event from legacy SIEM keys (get returns "" for an absent key) and returns
// the Exabeam fields found. Direction: Inbound and Internal give -in, Outbound and External -out (Exabeam's
// builder is not published; an absent direction counts as inbound). Failed: Act Rej/Bnc, Delivered=false, or any
// of Err, Error, RejInfo, RejType, RejCode.
func dlpEvent(get func(string) string, t time.Time) (schema.Event, map[string]string) {
	f := map[string]string{}
	ev := schema.Event{Time: t, Fields: map[string]any{}}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("alert_id", get("aCode"))
	set("direction", firstNonEmpty(get("Dir"), get("Route")))
	set("action", firstNonEmpty(get("Act"), get("Delivered"), get("Action")))
	set("outcome_type", get("RejType"))
	set("outcome", firstNonEmpty(get("Err"), get("Error"), get("RejInfo")))
	sender := firstNonEmpty(nullSender(get("Sender")), nullSender(get("headerFrom")))
	if sender != "" {
		ev.Sender = strings.ToLower(sender)
		_, _, ev.SenderDomain = splitAddress(ev.Sender)
		set("sender", ev.Sender)
		set("external_domain_sender", ev.SenderDomain)
	}
	rcpt := nullSender(firstNonEmpty(get("Rcpt"), get("Recipient")))
	for _, r := range strings.FieldsFunc(rcpt, func(c rune) bool { return c == ',' || c == ';' || c == ' ' }) {
		r = strings.ToLower(strings.Trim(r, "<>\""))
		if r == "" {
			continue
		}
		ev.Recipients = append(ev.Recipients, r)
		if _, _, d := splitAddress(r); d != "" {
			ev.RecipientDomains = appendUnique(ev.RecipientDomains, d)
		}
	}
	set("recipients", rcpt)
	if len(ev.Recipients) > 0 {
		set("recipient", ev.Recipients[0])
		if _, _, d := splitAddress(ev.Recipients[0]); d != "" {
			set("external_domain_recipient", d)
		}
	}
	ev.Subject = get("Subject")
	set("subject", ev.Subject)
	if n, err := strconv.ParseInt(firstNonEmpty(get("Snt"), get("MsgSize"), get("Size")), 10, 64); err == nil {
		ev.Bytes = n
		set("bytes", strconv.FormatInt(n, 10))
	}
	set("spam_score", get("SpamScore"))
	ip := canonicalIP(firstNonEmpty(get("IP"), get("SourceIP")))
	set("src_ip", ip)
	ev.SrcIP = ip
	ev.MessageID = get("MsgId")
	set("message_id", ev.MessageID)
	ev.AlertID = f["alert_id"]
	ev.Action = f["action"]
	ev.Direction = strings.ToLower(f["direction"])

	act := strings.ToLower(get("Act"))
	failed := act == "rej" || act == "bnc" || strings.EqualFold(get("Delivered"), "false") ||
		get("Err") != "" || get("Error") != "" || get("RejInfo") != "" || get("RejType") != "" || get("RejCode") != ""
	out := ev.Direction == "outbound" || ev.Direction == "external"
	switch {
	case out && failed:
		ev.EventType = schema.EventDLPEmailAlertOutFail
	case out:
		ev.EventType = schema.EventDLPEmailAlertOut
	case failed:
		ev.EventType = schema.EventDLPEmailAlertInFail
	default:
		ev.EventType = schema.EventDLPEmailAlertIn
	}
	if failed {
		ev.Outcome = schema.OutcomeFailure
		ev.FailureReason = firstNonEmpty(f["outcome"], f["outcome_type"], get("RejCode"))
	} else {
		ev.Outcome = schema.OutcomeSuccess
	}
	// the acting user: the sender of outbound mail, the (first) recipient of inbound mail
	if out {
		ev.User, ev.UserEmail, ev.EmailDomain = splitAddress(ev.Sender)
	} else if len(ev.Recipients) > 0 {
		ev.User, ev.UserEmail, ev.EmailDomain = splitAddress(ev.Recipients[0])
	}
	for _, k := range []string{"acc", "RejType", "RejCode", "SpamScore", "Route", "Hld", "AttNames", "AttCnt"} {
		if v := get(k); v != "" {
			ev.Fields[k] = v
		}
	}
	return ev, f
}

// splitAddress returns user, email and domain: an address (one "@" with text on both sides, no spaces or <>) is
// lower-cased and is also the email; anything else is the user alone.
func splitAddress(u string) (user, email, domain string) {
	u = strings.TrimSpace(u)
	local, dom, ok := strings.Cut(u, "@")
	if !ok || local == "" || dom == "" || strings.ContainsAny(dom, "@ <>\t") || strings.ContainsAny(local, " <>\t") {
		return u, "", ""
	}
	u = strings.ToLower(u)
	return u, u, strings.ToLower(dom)
}

// nullSender maps the null reverse path "<>" to "".
func nullSender(s string) string {
	if strings.TrimSpace(s) == "<>" {
		return ""
	}
	return strings.TrimSpace(s)
}

// canonicalIP returns s as a canonical IP address (IPv4-mapped unmapped), or "" when it is not one.
func canonicalIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return ""
	}
	return a.Unmap().String()
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
