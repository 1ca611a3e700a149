package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// fieldMap is one API record decoded one level deep: field name → raw JSON value.
type fieldMap map[string]json.RawMessage

// recordTable describes a table whose columns are filled from the record fields of the same name, after an
// optional prepare step that renames, derives or flattens fields. It builds the Table value.
type recordTable struct {
	name string
	// cols are the table's columns after tenant and TimeGenerated.
	cols []Column
	// source maps a column to the record field it is read from when the names differ.
	source map[string]string
	// required record fields must be present, non-null and non-empty.
	required []string
	// anyOf: when set, at least one of these record fields must be present and non-empty.
	anyOf []string
	// key lists the key columns after tenant. A key column whose value is absent is stored as "" (never NULL), so
	// that a unique index treats two absent values as equal.
	key       []string
	eventTime string
	// prepare adjusts the record before columns are read; an error becomes the DecodeError reason.
	prepare func(m fieldMap) error
}

// table builds the Table value.
func (s *recordTable) table() Table {
	return Table{
		Name:      s.name,
		Columns:   append(append([]Column{}, commonColumns...), s.cols...),
		Key:       append([]string{"tenant"}, s.key...),
		EventTime: s.eventTime,
		Decode:    s.decode,
	}
}

func (s *recordTable) fail(format string, args ...any) error {
	return &DecodeError{Table: s.name, Reason: fmt.Sprintf(format, args...)}
}

func (s *recordTable) decode(tenant string, raw json.RawMessage, ingested time.Time) (Row, error) {
	m, err := parseFields(raw)
	if err != nil {
		return nil, s.fail("invalid JSON: %s", err.Error())
	}
	if s.prepare != nil {
		if err := s.prepare(m); err != nil {
			return nil, s.fail("%s", err.Error())
		}
	}
	for _, f := range s.required {
		if isEmpty(m[f]) {
			return nil, s.fail("missing %s", f)
		}
	}
	if len(s.anyOf) > 0 {
		found := false
		for _, f := range s.anyOf {
			if !isEmpty(m[f]) {
				found = true
				break
			}
		}
		if !found {
			return nil, s.fail("missing all of %s", strings.Join(s.anyOf, ", "))
		}
	}
	row := make(Row, 0, 2+len(s.cols))
	row = append(row, tenant, ingested.UTC())
	for _, c := range s.cols {
		field := c.Name
		if f, ok := s.source[c.Name]; ok {
			field = f
		}
		v, err := convert(c.Type, m[field])
		if err != nil {
			return nil, s.fail("%s: %s", field, err.Error())
		}
		if v == nil && c.Type == String && contains(s.key, c.Name) {
			v = ""
		}
		row = append(row, v)
	}
	return row, nil
}

// parseFields decodes raw into a field map; anything but a JSON object is an error.
func parseFields(raw json.RawMessage) (fieldMap, error) {
	if m, ok := scanFields(raw); ok {
		return m, nil
	}
	var m fieldMap
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("record is not a JSON object")
	}
	return m, nil
}

// scanFields is parseFields for the common record: a valid JSON object whose keys are plain ASCII without
// escapes. It splits the object in one pass and returns the same map json.Unmarshal would (values are copies of
// the raw text, a repeated key keeps its last value); ok is false for anything else, which parseFields then
// leaves to json.Unmarshal.
func scanFields(raw []byte) (m fieldMap, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' || !json.Valid(raw) {
		return nil, false
	}
	data := bytes.Clone(raw)
	m = make(fieldMap, 64)
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return m, true
	}
	for i < len(data) {
		if data[i] != '"' {
			return nil, false
		}
		start := i + 1
		end := start
		for end < len(data) && data[end] != '"' {
			if c := data[end]; c == '\\' || c >= utf8RuneSelf {
				return nil, false
			}
			end++
		}
		if end >= len(data) {
			return nil, false
		}
		key := string(data[start:end])
		i = skipSpace(data, end+1)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipSpace(data, i+1)
		vend := skipValue(data, i)
		if vend <= i {
			return nil, false
		}
		m[key] = json.RawMessage(data[i:vend:vend])
		i = skipSpace(data, vend)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return m, true
		default:
			return nil, false
		}
	}
	return nil, false
}

const utf8RuneSelf = 0x80

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i], which is known to be valid JSON.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the end of the JSON string starting at b[i] (just past its closing quote).
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// plainString returns the content of v when v is a JSON string without escapes and of ASCII text only, which
// json.Unmarshal would return unchanged.
func plainString(v json.RawMessage) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8RuneSelf {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}

// isNull reports whether v is absent or JSON null.
func isNull(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// isEmpty reports whether v is absent, null or the empty string.
func isEmpty(v json.RawMessage) bool {
	if isNull(v) {
		return true
	}
	if s, ok := plainString(v); ok {
		return strings.TrimSpace(s) == ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strings.TrimSpace(s) == ""
	}
	return false
}

// stringOf returns v as a string: a JSON string unquoted, anything else as compact JSON text, absent/null as "".
func stringOf(v json.RawMessage) string {
	if isNull(v) {
		return ""
	}
	if s, ok := plainString(v); ok {
		return s
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(bytes.TrimSpace(v))
	}
	return buf.String()
}

// convert turns one raw JSON value into a row value of the given column type; absent and null become nil.
func convert(t ColumnType, v json.RawMessage) (any, error) {
	if isNull(v) {
		return nil, nil
	}
	switch t {
	case String:
		return stringOf(v), nil
	case Real:
		return realOf(v)
	case Bool:
		return boolOf(v)
	case DateTime:
		s, ok := plainString(v)
		if !ok {
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("time is not a string: %s", stringOf(v))
			}
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return ParseTime(s)
	case Dynamic:
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return nil, fmt.Errorf("invalid JSON value: %w", err)
		}
		return json.RawMessage(buf.Bytes()), nil
	}
	return nil, fmt.Errorf("unknown column type %q", t)
}

// realOf reads a JSON number, or a string holding one (Mimecast sends most numbers as strings).
func realOf(v json.RawMessage) (any, error) {
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f, nil
		}
	} else if s, ok := plainString(v); ok {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	}
	var f float64
	if json.Unmarshal(v, &f) == nil {
		return f, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	}
	return nil, fmt.Errorf("not a number: %s", stringOf(v))
}

// boolOf reads a JSON boolean, or the strings "true"/"false" in any case.
func boolOf(v json.RawMessage) (any, error) {
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "":
			return nil, nil
		}
	}
	return nil, fmt.Errorf("not a boolean: %s", stringOf(v))
}

// setString stores s in m[key] as a JSON string.
func setString(m fieldMap, key, s string) {
	b, _ := json.Marshal(s)
	m[key] = b
}

// rename moves m[from] to m[to] when to is not already set.
func rename(m fieldMap, from, to string) {
	if v, ok := m[from]; ok {
		if _, exists := m[to]; !exists {
			m[to] = v
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cols builds columns of one type.
func cols(t ColumnType, names ...string) []Column {
	out := make([]Column, len(names))
	for i, n := range names {
		out[i] = Column{n, t}
	}
	return out
}
