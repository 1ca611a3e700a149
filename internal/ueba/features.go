package ueba

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Context answers what the events do not carry: where an address is, which peer group a user belongs to, and
// whether a value is on one of the context lists (TOR exit nodes, public mail domains, executives, …). The app
// backs it with internal/geoip and internal/lists; tests with TestContext.
type Context interface {
	// Country returns the ISO 3166 alpha-2 country of an IP address, or "" when unknown.
	Country(ip string) string
	// PeerGroup returns the user's peer group, or "".
	PeerGroup(user string) string
	// InList reports whether value is on the named list (each list knows how to match its kind of value).
	InList(list, value string) bool
	// Keyword returns the first keyword of the named keyword list found in text.
	Keyword(list, text string) (string, bool)
}

// ev is one event being analysed, with what the engine derived for it.
type ev struct {
	*schema.Event
	user    string
	peer    string
	country string
	ctx     Context
	sess    *sess
	// scope is the scope key the model rule being evaluated judges ({{scope}} in reasons).
	scope string
}

type featureFunc func(e *ev) []string
type numberFunc func(e *ev) (float64, bool)

// one returns a feature of at most one value.
func one(f func(e *ev) string) featureFunc {
	return func(e *ev) []string {
		if v := f(e); v != "" {
			return []string{v}
		}
		return nil
	}
}

// features are the categorical features and scopes a model or rule may name.
var features = map[string]featureFunc{
	"user":                  one(func(e *ev) string { return e.user }),
	"peer_group":            one(func(e *ev) string { return e.peer }),
	"org":                   one(func(e *ev) string { return e.Tenant }),
	"event_type":            one(func(e *ev) string { return e.EventType }),
	"app":                   one(func(e *ev) string { return strings.ToLower(e.App) }),
	"activity":              one(func(e *ev) string { return e.Activity }),
	"object":                one(func(e *ev) string { return e.Object }),
	"src_ip":                one(func(e *ev) string { return e.SrcIP }),
	"country":               one(func(e *ev) string { return e.country }),
	"zone":                  one(networkZone),
	"user_agent":            one(func(e *ev) string { return fieldString(e.Event, "user_agent", "userAgent", "User Agent") }),
	"client_id":             one(func(e *ev) string { return fieldString(e.Event, "client_id", "clientId", "Client ID", "applicationId") }),
	"mime":                  one(func(e *ev) string { return strings.ToLower(fieldString(e.Event, "mime", "mimeType", "fileMime")) }),
	"src_host":              one(func(e *ev) string { return strings.ToLower(fieldString(e.Event, "src_host", "srcHost", "hostname")) }),
	"subject":               one(func(e *ev) string { return normalizeSubject(e.Subject) }),
	"sender":                one(func(e *ev) string { return strings.ToLower(e.Sender) }),
	"dest_country":          one(destCountry),
	"recipients":            func(e *ev) []string { return lowerAll(e.Recipients) },
	"external_recipients":   func(e *ev) []string { return external(e, lowerAll(e.Recipients), domainOf) },
	"external_domains":      func(e *ev) []string { return external(e, lowerAll(e.RecipientDomains), identity) },
	"attachment_names":      func(e *ev) []string { return lowerAll(e.AttachmentNames) },
	"attachment_extensions": func(e *ev) []string { return extensions(e.AttachmentExtensions) },
	"time_of_week":          one(func(e *ev) string { return towLabel(towHour(e.Time)) }),
	"personal_recipient":    one(personalRecipient),
	"object_address":        one(objectAddress),
}

// numbers are the numeric features.
var numbers = map[string]numberFunc{
	"bytes": func(e *ev) (float64, bool) { return float64(e.Bytes), e.Bytes > 0 },
	"attachments": func(e *ev) (float64, bool) {
		return float64(len(e.AttachmentNames)), true
	},
	"recipient_count": func(e *ev) (float64, bool) { return float64(len(e.Recipients)), len(e.Recipients) > 0 },
	"external_bytes": func(e *ev) (float64, bool) {
		if len(external(e, lowerAll(e.RecipientDomains), identity)) == 0 {
			return 0, false
		}
		return float64(e.Bytes), e.Bytes > 0
	},
}

func identity(s string) string { return s }

// fileExtension is the extension of a file name, lower-cased, without its dot ("" when it has none).
func fileExtension(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return strings.ToLower(name[i+1:])
	}
	return ""
}

// featureByName resolves a categorical feature: a known name or "fields.<column>".
func featureByName(name string) (featureFunc, error) {
	if f, ok := features[name]; ok {
		return f, nil
	}
	if col, ok := strings.CutPrefix(name, "fields."); ok && col != "" {
		return one(func(e *ev) string { return fieldString(e.Event, col) }), nil
	}
	return nil, fmt.Errorf("unknown feature %q (known: %s, fields.<column>)", name, strings.Join(slices.Sorted(maps.Keys(features)), ", "))
}

// fieldString returns the first non-empty source column among names.
func fieldString(e *schema.Event, names ...string) string {
	for _, n := range names {
		if v, ok := e.Fields[n]; ok {
			if s := strings.TrimSpace(fmt.Sprint(v)); s != "" && s != "<nil>" {
				return s
			}
		}
	}
	return ""
}

// networkZone names where a login came from: "internal" for private and loopback addresses, else its country,
// else "external".
func networkZone(e *ev) string {
	a, err := netip.ParseAddr(e.SrcIP)
	if err != nil {
		return ""
	}
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return "internal"
	}
	if e.country != "" {
		return e.country
	}
	return "external"
}

// normalizeSubject drops reply and forward prefixes and folds case, so "FW: Q3 plan" matches "Q3 plan".
func normalizeSubject(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	for {
		trimmed := s
		for _, p := range []string{"re:", "fw:", "fwd:", "aw:", "wg:"} {
			trimmed = strings.TrimSpace(strings.TrimPrefix(trimmed, p))
		}
		if trimmed == s {
			return s
		}
		s = trimmed
	}
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func extensions(in []string) []string {
	out := lowerAll(in)
	for i, s := range out {
		out[i] = strings.TrimPrefix(s, ".")
	}
	return out
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// external keeps the values whose domain differs from the user's own mail domain.
func external(e *ev, vals []string, domain func(string) string) []string {
	own := strings.ToLower(e.EmailDomain)
	if own == "" {
		own = domainOf(e.user)
	}
	out := vals[:0]
	for _, v := range vals {
		if d := domain(v); d != "" && d != own {
			out = append(out, v)
		}
	}
	return out
}

// objectAddress is the last e-mail address an audit record's object names, lower-cased: the forwarding address
// of "Change Email Forwarding: a@x to b@y", or the address of a raw line that names only it.
func objectAddress(e *ev) string {
	if a := addresses(e.Object); len(a) > 0 {
		return a[len(a)-1]
	}
	return ""
}

// destCountry is the country of the server a message was delivered to (GeoIP of the delivery's destination IP).
func destCountry(e *ev) string {
	return e.ctx.Country(fieldString(e.Event, "destinationIp", "Destination IP", "dest_ip"))
}

// towHour is the hour of the week, 0 = Monday 00:00 UTC … 167 = Sunday 23:00 UTC.
func towHour(t time.Time) int {
	t = t.UTC()
	wd := (int(t.Weekday()) + 6) % 7
	return wd*24 + t.Hour()
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// towLabel writes an hour of the week as "mon-09".
func towLabel(h int) string { return fmt.Sprintf("%s-%02d", weekdays[h/24], h%24) }

// parseTowLabel reads "mon-09" back.
func parseTowLabel(s string) (int, bool) {
	day, hour, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	for i, d := range weekdays {
		if d == day {
			var h int
			if _, err := fmt.Sscanf(hour, "%d", &h); err != nil || h < 0 || h > 23 {
				return 0, false
			}
			return i*24 + h, true
		}
	}
	return 0, false
}
