package parse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Exabeam's CEF parsers for Mimecast (exabeam-content Appendix A), as CEFLine.Parser: the shape a line is read as.
const (
	CEFDLPEmail           = "cef-mimecast-dlp-email"
	CEFDLPEmailAttachment = "cef-mimecast-dlp-email-attachment"
	CEFMessageView        = "cef-mimecast-message-view"
	CEFEmailAlert         = "cef-mimecast-email-alert"
	CEFEmailAlert1        = "cef-mimecast-email-alert-1"
	CEFEmailAlert2        = "cef-mimecast-email-alert-2"
	CEFEmailAlert3        = "cef-mimecast-email-alert-3"
	CEFFailedAppLogin     = "cef-mimecast-failed-app-login"
	CEFSecurityAlert      = "cef-mimecast-security-alert"
	CEFSkyformationLogin  = "cef-skyformation-mimecast-login"
	CEFWebActivity        = "cef-mimecast-web-activity"
)

// CEFLine is one CEF line: the header, the extension, the Mimecast record a SkyFormation connector embeds as JSON,
// and the event read from them.
type CEFLine struct {
	// Raw is the line, unchanged.
	Raw string `json:"raw"`
	// Prefix is the text before "CEF:" (syslog header, SkyFormation time and host), trimmed.
	Prefix string `json:"prefix,omitempty"`
	// Version is the CEF version number.
	Version       int    `json:"version"`
	Vendor        string `json:"vendor"`
	Product       string `json:"product"`
	DeviceVersion string `json:"device_version"`
	ClassID       string `json:"class_id"`
	Name          string `json:"name"`
	Severity      string `json:"severity"`
	// Extension lists the extension's key=value pairs in order, values unescaped.
	Extension []Field `json:"extension,omitempty"`
	// Record is the embedded Mimecast record (the first JSON object in the extension, keys merged with later
	// objects' new keys), values as text.
	Record map[string]string `json:"record,omitempty"`
	// Parser is the Exabeam CEF parser whose shape the line has; "" when none.
	Parser string `json:"parser,omitempty"`
	// Fields are the values under Exabeam's field names.
	Fields map[string]string `json:"fields,omitempty"`
	// Event is the normalized event (Table "raw", ID "raw/<hash>", no tenant); zero when Parser is "".
	Event schema.Event `json:"event"`
	// Issues lists what could not be read.
	Issues []string `json:"issues,omitempty"`
}

// Ext returns the value of an extension key (exact match first, then ignoring case).
func (c CEFLine) Ext(key string) (string, bool) {
	for _, f := range c.Extension {
		if f.Key == key {
			return f.Value, true
		}
	}
	for _, f := range c.Extension {
		if strings.EqualFold(f.Key, key) {
			return f.Value, true
		}
	}
	return "", false
}

// rec returns a record value by key, exact first, then ignoring case; "" when absent.
func (c CEFLine) rec(keys ...string) string {
	for _, k := range keys {
		if v, ok := c.Record[k]; ok && v != "" {
			return v
		}
	}
	for _, k := range keys {
		for name, v := range c.Record {
			if strings.EqualFold(name, k) && v != "" {
				return v
			}
		}
	}
	return ""
}

func (c CEFLine) ext(key string) string { v, _ := c.Ext(key); return strings.TrimSpace(v) }

var (
	// cefExtKey matches " key=" (also "key =", a SkyFormation spelling) where an extension pair begins.
	cefExtKey = regexp.MustCompile(`^([A-Za-z0-9_.\[\]-]{1,63}) ?=`)
	// skyTime is the forward time a SkyFormation connector writes before "<host> Skyformation".
	skyTime = regexp.MustCompile(`(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\s+[\w\-.]+\s+Skyformation`)
	// prefixTime is any ISO time in the prefix.
	prefixTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)`)
)

// ParseCEF reads one CEF line: the prefix before "CEF:", the seven header fields ("\|" and "\\" escapes), the
// extension (key=value pairs separated by spaces; a value runs to the next " key="; "\=", "\\", "\n", "\r"
// escapes; a value that starts with a JSON object is read as one value whatever it contains), and the embedded
// Mimecast record. It then reads the line as the first of Exabeam's Mimecast CEF parser shapes it fits and builds
// the event. A line without a complete CEF header is a *LineError (ReasonNotCEF); a CEF line of no Mimecast shape
// is returned with a *LineError (ReasonCEFUnmatched); so is one whose shape fits but that has no readable time.
func ParseCEF(line string) (CEFLine, error) {
	c := CEFLine{Raw: line}
	s := strings.TrimRight(line, "\r\n")
	loc := cefStart.FindStringIndex(s)
	if loc == nil {
		return c, &LineError{Reason: ReasonNotCEF, Detail: "no CEF:<version>| header"}
	}
	c.Prefix = strings.TrimSpace(s[:loc[0]])
	rest := s[loc[0]+len("CEF:"):]
	var header []string
	var b strings.Builder
	i := 0
	for i < len(rest) && len(header) < 7 {
		ch := rest[i]
		switch {
		case ch == '\\' && i+1 < len(rest) && (rest[i+1] == '|' || rest[i+1] == '\\'):
			b.WriteByte(rest[i+1])
			i += 2
		case ch == '|':
			header = append(header, b.String())
			b.Reset()
			i++
		default:
			b.WriteByte(ch)
			i++
		}
	}
	if len(header) < 7 {
		return c, &LineError{Reason: ReasonNotCEF, Detail: fmt.Sprintf("CEF header has %d of 7 fields", len(header))}
	}
	v, err := strconv.Atoi(strings.TrimSpace(header[0]))
	if err != nil {
		return c, &LineError{Reason: ReasonNotCEF, Detail: fmt.Sprintf("CEF version %q is not a number", header[0])}
	}
	c.Version = v
	c.Vendor, c.Product, c.DeviceVersion, c.ClassID, c.Name, c.Severity = header[1], header[2], header[3], header[4], header[5], header[6]
	c.Extension, c.Record = parseCEFExtension(rest[i:])
	return c.read()
}

// parseCEFExtension splits a CEF extension into pairs and collects the JSON objects found at value starts.
func parseCEFExtension(s string) ([]Field, map[string]string) {
	var out []Field
	var record map[string]string
	pos := 0
	for pos < len(s) {
		for pos < len(s) && s[pos] == ' ' {
			pos++
		}
		m := cefExtKey.FindStringSubmatch(s[pos:])
		if m == nil {
			// leading text without a key: skip to the next key
			next := nextCEFKey(s, pos)
			pos = next
			continue
		}
		key := m[1]
		vStart := pos + len(m[0])
		if obj, n := jsonObjectAt(s[vStart:]); n > 0 {
			out = append(out, Field{Key: key, Value: strings.TrimSpace(s[vStart : vStart+n])})
			record = mergeRecord(record, obj)
			pos = vStart + n
			continue
		}
		end := nextCEFKey(s, vStart)
		value := strings.TrimRight(s[vStart:end], " ")
		out = append(out, Field{Key: key, Value: cefUnescape(value)})
		// a JSON object later inside a plain value (msg=Audit {"user":…}) is a record too
		if j := strings.IndexByte(value, '{'); j >= 0 {
			if obj, n := jsonObjectAt(cefUnescape(value[j:])); n > 0 {
				record = mergeRecord(record, obj)
			}
		}
		pos = end
	}
	return out, record
}

// nextCEFKey returns the index of the space before the next " key=" after i, or len(s). A backslash-escaped
// "=" never ends a key.
func nextCEFKey(s string, i int) int {
	for j := i; j < len(s); j++ {
		if s[j] != ' ' {
			continue
		}
		if m := cefExtKey.FindStringSubmatch(s[j+1:]); m != nil {
			eq := j + 1 + len(m[0]) - 1
			if eq > 0 && s[eq-1] != '\\' {
				return j
			}
		}
	}
	return len(s)
}

// cefUnescape undoes CEF extension escaping: \= \\ \n \r.
func cefUnescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			switch v[i+1] {
			case '=', '\\', '|':
				b.WriteByte(v[i+1])
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// jsonObjectAt decodes a JSON object at the start of s (leading spaces allowed) and returns it with the number of
// bytes it spans; n is 0 when s does not start with one. CEF-escaped "\=" inside is accepted.
func jsonObjectAt(s string) (map[string]json.RawMessage, int) {
	t := strings.TrimLeft(s, " ")
	lead := len(s) - len(t)
	if !strings.HasPrefix(t, "{") {
		return nil, 0
	}
	for _, candidate := range []string{t, strings.ReplaceAll(t, `\=`, "=")} {
		dec := json.NewDecoder(strings.NewReader(candidate))
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil || obj == nil {
			continue
		}
		n := int(dec.InputOffset())
		if candidate != t {
			// map the offset in the unescaped text back to the original
			n = originalOffset(t, n)
		}
		return obj, lead + n
	}
	return nil, 0
}

// originalOffset maps an offset in s with every `\=` replaced by "=" back to an offset in s.
func originalOffset(s string, n int) int {
	i, k := 0, 0
	for i < len(s) && k < n {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '=' {
			i += 2
		} else {
			i++
		}
		k++
	}
	return i
}

func mergeRecord(rec map[string]string, obj map[string]json.RawMessage) map[string]string {
	if rec == nil {
		rec = map[string]string{}
	}
	for k, v := range obj {
		if _, ok := rec[k]; ok {
			continue
		}
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				s = buf.String()
			} else {
				s = string(v)
			}
		}
		rec[k] = s
	}
	return rec
}

// read picks the Exabeam shape and builds the event.
func (c CEFLine) read() (CEFLine, error) {
	c.Fields = map[string]string{}
	s := c.Raw
	if m := exabeamHostCEF.FindStringSubmatch(s); m != nil {
		c.Fields["host"] = m[2]
	}
	dproc := c.ext("dproc")
	service := c.ext("destinationServiceName")
	has := func(k string) bool { return c.rec(k) != "" || hasKey(c.Record, k) }
	switch {
	case strings.Contains(s, "Logon Authentication Failed"):
		c.Parser = CEFFailedAppLogin
	case strings.EqualFold(c.ClassID, "login-success") || (has("auditType") && strings.Contains(strings.ToLower(c.rec("auditType")), "logged on")):
		c.Parser = CEFSkyformationLogin
	case dproc == "Archive Message View Logs" || (has("viewer") && has("contentViewed")):
		c.Parser = CEFMessageView
	case dproc == "TTP URL Logs" || (has("userEmailAddress") && has("url")):
		if has("action") && !has("fromUserEmailAddress") {
			c.Parser = CEFWebActivity
		} else {
			c.Parser = CEFEmailAlert
		}
	case dproc == "Attachment Protection" || (has("fileHash") && has("recipientAddress")):
		c.Parser = CEFSecurityAlert
	case has("AttNames") && has("aCode"):
		c.Parser = CEFDLPEmailAttachment
	case c.ext("dtz") == "default-tenant" && c.ext("request") != "":
		c.Parser = CEFEmailAlert3
	case has("msgid") && has("reason") && has("urlCategory"):
		c.Parser = CEFEmailAlert2
	case dproc == "SIEM Logs" || has("acc"):
		if has("Dir") && has("Sender") && has("Rcpt") && strings.Contains(c.Product, "SkyFormation") {
			c.Parser = CEFDLPEmail
		} else {
			c.Parser = CEFEmailAlert1
		}
	case has("Dir") || has("Rcpt") || has("Sender"):
		c.Parser = CEFDLPEmail
	default:
		return c, &LineError{Reason: ReasonCEFUnmatched, Detail: fmt.Sprintf("vendor %q product %q dproc %q", c.Vendor, c.Product, dproc)}
	}
	t, err := c.eventTime()
	if err != nil {
		return c, err
	}
	var ev schema.Event
	switch c.Parser {
	case CEFFailedAppLogin, CEFSkyformationLogin:
		ev = c.loginEvent(t)
	case CEFMessageView:
		ev = c.messageViewEvent(t)
	case CEFEmailAlert, CEFWebActivity:
		ev = c.urlEvent(t)
	default:
		ev = c.mailEvent(t)
	}
	if ev.Fields == nil {
		ev.Fields = map[string]any{}
	}
	for k, v := range map[string]string{"cef_vendor": c.Vendor, "cef_product": c.Product, "cef_class_id": c.ClassID,
		"cef_name": c.Name, "cef_severity": c.Severity, "dproc": dproc, "destinationServiceName": service, "host": c.Fields["host"]} {
		if v != "" {
			ev.Fields[k] = v
		}
	}
	setIf(c.Fields, "dproc", dproc)
	setIf(c.Fields, "event_subtype", service)
	ev.ID = RawEventID(c.Raw)
	ev.Table = RawTable
	ev.Time = t
	c.Event = ev
	return c, nil
}

var exabeamHostCEF = regexp.MustCompile(`exabeam_host=([^=\s]+@\s*)?(\S+)`)

func hasKey(m map[string]string, k string) bool {
	for name := range m {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// eventTime: the record's own time (datetime, eventTime, date), then the extension's rt/end/start, then the
// forward time in the prefix.
func (c CEFLine) eventTime() (time.Time, error) {
	var tried []string
	for _, v := range []string{c.rec("datetime"), c.rec("eventTime"), c.rec("date")} {
		if v == "" {
			continue
		}
		if t, err := anyTime(v); err == nil {
			c.Fields["time"] = v
			return t, nil
		}
		tried = append(tried, v)
	}
	for _, k := range []string{"rt", "end", "start"} {
		v := c.ext(k)
		if v == "" {
			continue
		}
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			c.Fields["time"] = v
			return time.UnixMilli(ms).UTC(), nil
		}
		for _, layout := range []string{"Jan 02 2006 15:04:05", "Jan 02 2006 15:04:05.000", "Jan 02 2006 15:04:05 MST"} {
			if t, err := time.Parse(layout, v); err == nil {
				c.Fields["time"] = v
				return t.UTC(), nil
			}
		}
		if t, err := schema.ParseTime(v); err == nil {
			c.Fields["time"] = v
			return t, nil
		}
		tried = append(tried, v)
	}
	m := skyTime.FindStringSubmatch(c.Prefix)
	v := ""
	if m != nil {
		v = m[1]
	} else {
		v = prefixTime.FindString(c.Prefix)
	}
	if v != "" {
		if t, err := schema.ParseTime(v); err == nil {
			c.Fields["time"] = v
			return t, nil
		}
		tried = append(tried, v)
	}
	if len(tried) > 0 {
		return time.Time{}, &LineError{Reason: ReasonBadTime, Detail: strings.Join(tried, ", ")}
	}
	return time.Time{}, &LineError{Reason: ReasonNoTime, Detail: "no datetime, eventTime, date, rt, end, start or prefix time"}
}

// anyTime reads a Mimecast time (schema.ParseTime), or an ISO time with fractional seconds and no zone (UTC).
func anyTime(v string) (time.Time, error) {
	t, err := schema.ParseTime(v)
	if err == nil {
		return t, nil
	}
	if t, err2 := time.Parse("2006-01-02T15:04:05.999999999", strings.TrimSpace(v)); err2 == nil {
		return t.UTC(), nil
	}
	return time.Time{}, err
}

// loginEvent reads cef-mimecast-failed-app-login and cef-skyformation-mimecast-login lines.
func (c CEFLine) loginEvent(t time.Time) schema.Event {
	text := firstNonEmpty(c.rec("eventInfo"), c.ext("msg"))
	if text == "" && strings.Contains(c.Raw, "Reason:") {
		text = c.Raw[strings.Index(c.Raw, "Logon Authentication Failed"):]
	}
	info := ParseAuditInfo(text)
	ev := schema.Event{Time: t, Fields: map[string]any{}}
	user := firstNonEmpty(c.ext("ext_user"), c.rec("user"), c.ext("suser"), c.ext("duser"))
	ev.User, ev.UserEmail, ev.EmailDomain = splitAddress(user)
	setIf(c.Fields, "user_email", ev.UserEmail)
	if ev.UserEmail == "" {
		setIf(c.Fields, "user", ev.User)
	}
	ev.SrcIP = firstNonEmpty(info.SourceIP(), canonicalIP(c.ext("src")), canonicalIP(c.rec("ip", "sourceIp")))
	setIf(c.Fields, "src_ip", ev.SrcIP)
	ev.Activity = firstNonEmpty(c.rec("auditType"), c.Name)
	setIf(c.Fields, "activity", ev.Activity)
	if c.Parser == CEFFailedAppLogin {
		ev.EventType = schema.EventFailedAppLogin
		ev.Outcome = schema.OutcomeFailure
		ev.FailureReason = info.Reason
		setIf(c.Fields, "failure_reason", ev.FailureReason)
		ev.App = firstNonEmpty(info.Application, c.ext("requestClientApplication"))
	} else {
		ev.EventType = schema.EventAppLogin
		ev.Outcome = schema.OutcomeSuccess
		ev.App = firstNonEmpty(c.ext("requestClientApplication"), info.Application, c.ext("destinationServiceName"))
		setIf(c.Fields, "additional_info", c.ext("msg"))
		setIf(c.Fields, "service", c.ext("sourceServiceName"))
		setIf(c.Fields, "dtz", c.ext("dtz"))
		setIf(c.Fields, "outcome", "success")
		ua := c.rec("userAgent", "useragent")
		setIf(c.Fields, "user_agent", ua)
		browser, os := userAgentParts(ua)
		setIf(c.Fields, "browser", browser)
		setIf(c.Fields, "os", os)
		if ua != "" {
			ev.Fields["user_agent"] = ua
		}
	}
	setIf(c.Fields, "app", ev.App)
	ev.Object = info.Object()
	return ev
}

// messageViewEvent reads cef-mimecast-message-view: an archive message view is app-activity by the viewer.
func (c CEFLine) messageViewEvent(t time.Time) schema.Event {
	ev := schema.Event{Time: t, EventType: schema.EventAppActivity, Fields: map[string]any{}}
	ev.User, ev.UserEmail, ev.EmailDomain = splitAddress(c.rec("viewer"))
	ev.App = "Mimecast Email Security"
	ev.Activity = "Archive Message View Logs"
	ev.Object = c.rec("subject")
	ev.Subject = ev.Object
	set := func(k, v string) {
		setIf(c.Fields, k, v)
		if v != "" {
			ev.Fields[k] = v
		}
	}
	setIf(c.Fields, "user_email", ev.UserEmail)
	setIf(c.Fields, "app", ev.App)
	setIf(c.Fields, "activity", ev.Activity)
	setIf(c.Fields, "object", ev.Object)
	set("target", c.rec("to"))
	set("log_source", c.rec("from"))
	set("resource", c.rec("source"))
	if v, ok := c.Record["discoveryCase"]; ok {
		set("result", "discoveryCase:"+v)
	}
	set("additional_info", c.rec("contentViewed"))
	return ev
}

// urlEvent reads TTP URL lines (cef-mimecast-email-alert, cef-mimecast-web-activity): a click on a rewritten
// link is web-activity by the recipient who clicked.
func (c CEFLine) urlEvent(t time.Time) schema.Event {
	ev := schema.Event{Time: t, EventType: schema.EventWebActivity, Fields: map[string]any{}}
	ev.User, ev.UserEmail, ev.EmailDomain = splitAddress(c.rec("userEmailAddress"))
	setIf(c.Fields, "user_email", ev.UserEmail)
	if ev.UserEmail != "" {
		ev.Recipients = []string{ev.UserEmail}
		ev.RecipientDomains = []string{ev.EmailDomain}
		setIf(c.Fields, "recipient", ev.UserEmail)
	}
	ev.Action = c.rec("action")
	setIf(c.Fields, "action", ev.Action)
	if cat := c.rec("category"); cat != "" && cat != "Unknown" {
		setIf(c.Fields, "category", cat)
		ev.Fields["category"] = cat
	}
	if s := c.rec("fromUserEmailAddress"); s != "" {
		ev.Sender = strings.ToLower(s)
		_, _, ev.SenderDomain = splitAddress(ev.Sender)
		setIf(c.Fields, "sender", ev.Sender)
	}
	ev.URL = c.rec("url")
	setIf(c.Fields, "url", ev.URL)
	for k, v := range urlParts(ev.URL) {
		setIf(c.Fields, k, v)
	}
	setIf(c.Fields, "service", c.rec("ttpDefinition"))
	ev.Policy = c.rec("ttpDefinition")
	ev.Subject = strings.TrimSpace(c.rec("subject"))
	setIf(c.Fields, "subject", ev.Subject)
	ev.Direction = strings.ToLower(c.rec("route"))
	setIf(c.Fields, "direction", c.rec("route"))
	verdict := c.rec("scanResult")
	setIf(c.Fields, "url_verdict", verdict)
	if verdict != "" && !strings.EqualFold(verdict, "clean") {
		ev.FailureReason = verdict
		setIf(c.Fields, "failure_reason", verdict)
	}
	ev.SrcIP = canonicalIP(c.rec("sendingIp"))
	ev.MessageID = c.rec("messageId")
	return ev
}

// mailEvent reads the message shapes (SIEM logs, attachment protection, dlp attachment, email-alert-1/2/3) as
// dlp-email-alert events, from the embedded record's legacy SIEM or TTP keys and the CEF keys that carry the same
// values (suser sender, src IP, request outcome, requestMethod direction).
func (c CEFLine) mailEvent(t time.Time) schema.Event {
	get := func(k string) string {
		switch k {
		case "Sender":
			return firstNonEmpty(c.rec("Sender", "senderAddress"), c.ext("suser"))
		case "Rcpt":
			return c.rec("Rcpt", "Recipient", "recipientAddress")
		case "Dir":
			return firstNonEmpty(c.rec("Dir", "Route"), c.ext("requestMethod"))
		case "IP":
			return firstNonEmpty(c.rec("IP", "SourceIP", "senderIpAddress"), c.ext("src"))
		case "aCode":
			return c.rec("aCode", "id")
		case "MsgId":
			return c.rec("MsgId", "messageId")
		case "Subject":
			return strings.TrimRight(strings.TrimSpace(c.rec("Subject")), `\`)
		case "Act":
			return c.rec("Act", "action", "actions")
		}
		return c.rec(k)
	}
	ev, f := dlpEvent(get, t)
	for k, v := range f {
		c.Fields[k] = v
	}
	if _, ok := c.Fields["outcome"]; !ok {
		setIf(c.Fields, "outcome", firstNonEmpty(c.ext("request"), c.rec("actionTriggered"), c.rec("actions", "action"), c.rec("result"), c.rec("Hld")))
	}
	if id := strings.Trim(c.Fields["message_id"], "<>"); id != "" {
		c.Fields["message_id"] = id
	}
	if su := c.ext("suser"); su != "" {
		if _, email, _ := splitAddress(su); email != "" {
			c.Fields["user_email"] = email
		}
	}
	// the external party: the recipient of outbound mail, the sender of inbound mail
	external := ""
	if ev.EventType == schema.EventDLPEmailAlertOut || ev.EventType == schema.EventDLPEmailAlertOutFail {
		if len(ev.Recipients) > 0 {
			external = ev.Recipients[0]
		}
	} else {
		external = ev.Sender
	}
	if _, _, d := splitAddress(external); d != "" {
		c.Fields["external_address"] = external
		c.Fields["external_domain"] = d
	}
	if acc := c.rec("acc"); acc != "" {
		c.Fields["user"] = acc
		ev.Fields["acc"] = acc
	}
	if names := c.rec("AttNames"); names != "" {
		c.Fields["attachments"] = strings.TrimSuffix(strings.TrimPrefix(names, "["), "]")
		for _, n := range strings.Split(names, ",") {
			if n = strings.Trim(strings.TrimSpace(n), `"[]`); n != "" {
				ev.AttachmentNames = append(ev.AttachmentNames, n)
			}
		}
	}
	if fn := c.rec("fileName"); fn != "" {
		c.Fields["file_name"] = fn
		ev.AttachmentNames = appendUnique(ev.AttachmentNames, fn)
	}
	setIf(c.Fields, "file_type", c.rec("fileType"))
	if h := c.rec("fileHash", "sha256", "md5"); h != "" {
		c.Fields["md5"] = h
		ev.AttachmentHashes = []string{strings.ToLower(h)}
	}
	for _, n := range ev.AttachmentNames {
		if i := strings.LastIndexByte(n, '.'); i >= 0 && i < len(n)-1 {
			ev.AttachmentExtensions = appendUnique(ev.AttachmentExtensions, strings.ToLower(n[i+1:]))
		}
	}
	setIf(c.Fields, "attachment_count", c.rec("AttCnt"))
	setIf(c.Fields, "attachment_size", c.rec("AttSize"))
	if ua := c.ext("requestClientApplication"); ua != "" {
		c.Fields["user_agent"] = ua
	}
	if u := c.rec("url"); u != "" {
		ev.URL = u
		c.Fields["url"] = u
	}
	setIf(c.Fields, "category", c.rec("urlCategory"))
	setIf(c.Fields, "reason", c.rec("reason"))
	if d := c.rec("SenderDomain"); d != "" && d != "<>" && c.Fields["external_domain"] == "" {
		c.Fields["external_domain"] = d
	}
	return ev
}

// userAgentParts reads the browser and OS the way cef-skyformation-mimecast-login does.
func userAgentParts(ua string) (browser, os string) {
	if ua == "" {
		return "", ""
	}
	for _, o := range []string{"iOS", "Android", "BlackBerry", "Windows Phone", "Windows", "X11", "Linux", "Macintosh", "Darwin"} {
		if strings.Contains(ua, o) {
			os = o
			break
		}
	}
	for _, b := range []string{"Edg", "OPR", "Firefox", "Chrome", "Safari", "MSIE", "Trident"} {
		if strings.Contains(ua, b+"/") || strings.Contains(ua, b+" ") {
			browser = b
			break
		}
	}
	if browser == "" {
		if i := strings.IndexByte(ua, '/'); i > 0 {
			browser = ua[:i]
		}
	}
	return browser, os
}

// urlParts splits a URL into Exabeam's web fields (full_url, protocol, web_domain or dest_ip, dest_port,
// uri_path, uri_query, top_domain).
func urlParts(raw string) map[string]string {
	out := map[string]string{}
	if raw == "" || raw == "-" {
		return out
	}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	out["full_url"] = raw
	out["protocol"] = u.Scheme
	host := u.Hostname()
	if ip := canonicalIP(host); ip != "" {
		out["dest_ip"] = ip
	} else if host != "" {
		out["web_domain"] = strings.ToLower(host)
		labels := strings.Split(strings.ToLower(host), ".")
		if len(labels) >= 2 {
			out["top_domain"] = strings.Join(labels[len(labels)-2:], ".")
		}
	}
	out["dest_port"] = u.Port()
	out["uri_path"] = u.EscapedPath()
	if u.RawQuery != "" {
		out["uri_query"] = "?" + u.RawQuery
	}
	for k, v := range out {
		if v == "" {
			delete(out, k)
		}
	}
	return out
}
