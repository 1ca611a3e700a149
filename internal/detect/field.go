package detect

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// fieldKind says how a normalized event field holds its value.
type fieldKind int

const (
	kindString fieldKind = iota
	kindList
	kindNumber
	kindTime
	kindMap
)

// field reads one normalized event field by its snake_case JSON name.
type field struct {
	name string
	kind fieldKind
	str  func(*schema.Event) string
	list func(*schema.Event) []string
	num  func(*schema.Event) int64
	// key is the Fields map key for kindMap ("fields.<key>").
	key string
}

// eventFields lists the normalized event fields rules may name, by their JSON names.
var eventFields = map[string]*field{
	"id":             {kind: kindString, str: func(e *schema.Event) string { return e.ID }},
	"tenant":         {kind: kindString, str: func(e *schema.Event) string { return e.Tenant }},
	"table":          {kind: kindString, str: func(e *schema.Event) string { return e.Table }},
	"event_type":     {kind: kindString, str: func(e *schema.Event) string { return e.EventType }},
	"user":           {kind: kindString, str: func(e *schema.Event) string { return e.User }},
	"user_email":     {kind: kindString, str: func(e *schema.Event) string { return e.UserEmail }},
	"email_domain":   {kind: kindString, str: func(e *schema.Event) string { return e.EmailDomain }},
	"src_ip":         {kind: kindString, str: func(e *schema.Event) string { return e.SrcIP }},
	"src_country":    {kind: kindString, str: func(e *schema.Event) string { return e.SrcCountry }},
	"app":            {kind: kindString, str: func(e *schema.Event) string { return e.App }},
	"activity":       {kind: kindString, str: func(e *schema.Event) string { return e.Activity }},
	"object":         {kind: kindString, str: func(e *schema.Event) string { return e.Object }},
	"outcome":        {kind: kindString, str: func(e *schema.Event) string { return e.Outcome }},
	"failure_reason": {kind: kindString, str: func(e *schema.Event) string { return e.FailureReason }},
	"sender":         {kind: kindString, str: func(e *schema.Event) string { return e.Sender }},
	"sender_domain":  {kind: kindString, str: func(e *schema.Event) string { return e.SenderDomain }},
	"direction":      {kind: kindString, str: func(e *schema.Event) string { return e.Direction }},
	"subject":        {kind: kindString, str: func(e *schema.Event) string { return e.Subject }},
	"url":            {kind: kindString, str: func(e *schema.Event) string { return e.URL }},
	"message_id":     {kind: kindString, str: func(e *schema.Event) string { return e.MessageID }},
	"alert_id":       {kind: kindString, str: func(e *schema.Event) string { return e.AlertID }},
	"policy":         {kind: kindString, str: func(e *schema.Event) string { return e.Policy }},
	"action":         {kind: kindString, str: func(e *schema.Event) string { return e.Action }},

	"recipients":            {kind: kindList, list: func(e *schema.Event) []string { return e.Recipients }},
	"recipient_domains":     {kind: kindList, list: func(e *schema.Event) []string { return e.RecipientDomains }},
	"attachment_names":      {kind: kindList, list: func(e *schema.Event) []string { return e.AttachmentNames }},
	"attachment_extensions": {kind: kindList, list: func(e *schema.Event) []string { return e.AttachmentExtensions }},
	"attachment_hashes":     {kind: kindList, list: func(e *schema.Event) []string { return e.AttachmentHashes }},

	"bytes": {kind: kindNumber, num: func(e *schema.Event) int64 { return e.Bytes }},
	"time":  {kind: kindTime},
}

// lookupField resolves a field name used in a rule.
func lookupField(name string) (*field, error) {
	if f, ok := eventFields[name]; ok {
		c := *f
		c.name = name
		return &c, nil
	}
	if k, ok := strings.CutPrefix(name, "fields."); ok && k != "" {
		return &field{name: name, kind: kindMap, key: k}, nil
	}
	return nil, fmt.Errorf("unknown field %q", name)
}

// values appends the non-empty string values of the field in e to buf and returns it.
func (f *field) values(e *schema.Event, buf []string) []string {
	switch f.kind {
	case kindString:
		if s := f.str(e); s != "" {
			buf = append(buf, s)
		}
	case kindList:
		for _, s := range f.list(e) {
			if s != "" {
				buf = append(buf, s)
			}
		}
	case kindNumber:
		if n := f.num(e); n != 0 {
			buf = append(buf, strconv.FormatInt(n, 10))
		}
	case kindTime:
		if !e.Time.IsZero() {
			buf = append(buf, e.Time.UTC().Format(time.RFC3339Nano))
		}
	case kindMap:
		buf = appendAny(buf, e.Fields[f.key])
	}
	return buf
}

// numbers appends the numeric values of the field in e to buf; strings that do not parse as numbers are skipped.
func (f *field) numbers(e *schema.Event, buf []float64) []float64 {
	switch f.kind {
	case kindNumber:
		return append(buf, float64(f.num(e)))
	case kindTime:
		if !e.Time.IsZero() {
			return append(buf, float64(e.Time.Unix()))
		}
		return buf
	case kindMap:
		return appendAnyNumber(buf, e.Fields[f.key])
	}
	var sbuf [4]string
	for _, s := range f.values(e, sbuf[:0]) {
		if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			buf = append(buf, v)
		}
	}
	return buf
}

func appendAny(buf []string, v any) []string {
	switch x := v.(type) {
	case nil:
	case string:
		if x != "" {
			buf = append(buf, x)
		}
	case bool:
		buf = append(buf, strconv.FormatBool(x))
	case float64:
		buf = append(buf, strconv.FormatFloat(x, 'f', -1, 64))
	case int:
		buf = append(buf, strconv.Itoa(x))
	case int64:
		buf = append(buf, strconv.FormatInt(x, 10))
	case json.Number:
		buf = append(buf, x.String())
	case []string:
		for _, s := range x {
			if s != "" {
				buf = append(buf, s)
			}
		}
	case []any:
		for _, el := range x {
			buf = appendAny(buf, el)
		}
	default:
		if b, err := json.Marshal(x); err == nil {
			buf = append(buf, string(b))
		}
	}
	return buf
}

func appendAnyNumber(buf []float64, v any) []float64 {
	switch x := v.(type) {
	case float64:
		return append(buf, x)
	case int:
		return append(buf, float64(x))
	case int64:
		return append(buf, float64(x))
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return append(buf, f)
		}
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return append(buf, f)
		}
	case []any:
		for _, el := range x {
			buf = appendAnyNumber(buf, el)
		}
	}
	return buf
}
