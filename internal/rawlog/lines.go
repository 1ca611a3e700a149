package rawlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/castwatch/castwatch/internal/normalize"
	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/schema"
)

// maxJSONDepth bounds how deep envelopes, bundles and wrappers are unwrapped.
const maxJSONDepth = 4

// line reads one non-oversize line.
func (r *runner) line(source string, lineNo int, text []byte) error {
	if len(bytes.TrimSpace(text)) == 0 {
		r.stats.Blank++
		return nil
	}
	format := r.opts.Format
	if format == parse.FormatAuto {
		format = parse.DetectFormat(text)
	}
	r.stats.Formats[format]++
	base := Item{Source: source, Line: lineNo, Format: format}
	switch format {
	case parse.FormatJSON:
		return r.jsonLine(base, text)
	case parse.FormatSIEMKV:
		return r.siemLine(base, text)
	case parse.FormatAuditKV:
		l, err := parse.ParseExabeamLine(string(text))
		if err != nil {
			return r.rejectErr(base, err, text)
		}
		return r.emitItem(r.rawEvent(base, l.Event))
	case parse.FormatCEF:
		c, err := parse.ParseCEF(string(text))
		if err != nil {
			return r.rejectErr(base, err, text)
		}
		return r.emitItem(r.rawEvent(base, c.Event))
	}
	return r.rejectAt(base, ReasonUnknownFormat, "", text)
}

// rawEvent completes an event read from a raw line that belongs to no table: tenant, and the id prefixed by it.
func (r *runner) rawEvent(base Item, ev schema.Event) Item {
	ev.Tenant = r.opts.Tenant
	if r.opts.Tenant != "" {
		ev.ID = r.opts.Tenant + "/" + ev.ID
	}
	base.Events = []schema.Event{ev}
	return base
}

func (r *runner) rejectAt(base Item, reason, detail string, raw []byte) error {
	base.Rejection = &Rejection{Source: base.Source, Line: base.Line, Reason: reason, Detail: detail,
		Raw: truncate(raw, r.opts.MaxRawBytes)}
	return r.emitItem(base)
}

// rejectErr rejects with a parser's LineError reason, or the error text.
func (r *runner) rejectErr(base Item, err error, raw []byte) error {
	var le *parse.LineError
	if errors.As(err, &le) {
		return r.rejectAt(base, le.Reason, le.Detail, raw)
	}
	return r.rejectAt(base, err.Error(), "", raw)
}

// siemLine reads a legacy SIEM key_value line (possibly several concatenated records) into Seg_Cg_CL rows.
func (r *runner) siemLine(base Item, text []byte) error {
	for i, rec := range parse.SplitSIEMRecords(string(text)) {
		it := base
		it.Index = i
		sr := parse.ParseSIEMLine(rec)
		if len(sr.Fields) == 0 {
			if err := r.rejectAt(it, ReasonSIEMNoFields, "", []byte(rec)); err != nil {
				return err
			}
			continue
		}
		raw, err := parse.SIEMv1Record(sr, r.opts.Tenant)
		if err != nil {
			if err := r.rejectErr(it, err, []byte(rec)); err != nil {
				return err
			}
			continue
		}
		if err := r.record(it, &schema.SegCg, raw, []byte(rec)); err != nil {
			return err
		}
	}
	return nil
}

// jsonLine reads one JSON line: a record, an envelope or bundle holding records, or several records joined by
// commas ({…},{…}) or in an array.
func (r *runner) jsonLine(base Item, text []byte) error {
	var v json.RawMessage
	if err := json.Unmarshal(text, &v); err != nil {
		joined := append(append([]byte{'['}, text...), ']')
		if json.Unmarshal(joined, &v) != nil {
			return r.rejectAt(base, ReasonInvalidJSON, err.Error(), text)
		}
	}
	idx := 0
	return r.jsonValue(base, v, text, 0, &idx)
}

// jsonValue expands v into records and reads each.
func (r *runner) jsonValue(base Item, v json.RawMessage, line []byte, depth int, idx *int) error {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return r.rejectAt(base, ReasonInvalidJSON, err.Error(), line)
		}
		if len(list) == 0 {
			return r.skip(base, "empty json array")
		}
		for _, e := range list {
			if err := r.jsonValue(base, e, line, depth+1, idx); err != nil {
				return err
			}
		}
		return nil
	}
	it := base
	it.Index = *idx
	*idx++
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
		return r.rejectAt(it, ReasonNotObject, "", v)
	}
	if depth > maxJSONDepth {
		return r.rejectAt(it, ReasonInvalidJSON, "records nested too deep", v)
	}
	if inner, ok := elasticWrapper(obj); ok {
		*idx--
		for _, m := range inner {
			if err := r.jsonValue(base, m, line, depth+1, idx); err != nil {
				return err
			}
		}
		return nil
	}
	shape := parse.ClassifyJSON(obj)
	switch shape.Kind {
	case parse.JSONEnvelope:
		*idx--
		return r.envelope(base, obj, line, depth, idx)
	case parse.JSONBundle:
		*idx--
		var objects []json.RawMessage
		if err := json.Unmarshal(obj["objects"], &objects); err != nil {
			return r.rejectAt(it, ReasonInvalidJSON, "bundle objects: "+err.Error(), v)
		}
		if len(objects) == 0 {
			return r.skip(it, "empty stix bundle")
		}
		for _, o := range objects {
			if err := r.jsonValue(base, o, line, depth+1, idx); err != nil {
				return err
			}
		}
		return nil
	case parse.JSONSTIXObject:
		r.feedOf(base.Source, obj, v)
		return r.skip(it, "stix object is not an indicator")
	case parse.JSONSIEMv1:
		raw, err := parse.SIEMv1Record(parse.SIEMv1FromJSON(obj), r.opts.Tenant)
		if err != nil {
			return r.rejectErr(it, err, v)
		}
		return r.record(it, &schema.SegCg, raw, v)
	case parse.JSONRecord:
		t := schema.TableByName(shape.Table)
		if t == nil {
			return r.rejectAt(it, ReasonNoTable, shape.Table, v)
		}
		if t == &schema.ThreatIntel {
			v = r.feedOf(base.Source, obj, v)
		}
		return r.record(it, t, v, v)
	}
	return r.rejectAt(it, ReasonNoTable, "", v)
}

// envelope reads the records of an API envelope: data[] (or the record list inside data[0]); fail entries reject
// the envelope; an empty page is skipped.
func (r *runner) envelope(base Item, obj map[string]json.RawMessage, line []byte, depth int, idx *int) error {
	var fail []json.RawMessage
	_ = json.Unmarshal(obj["fail"], &fail)
	if len(fail) > 0 {
		it := base
		it.Index = *idx
		*idx++
		return r.rejectAt(it, ReasonAPIFailure, string(fail[0]), line)
	}
	var data []json.RawMessage
	if err := json.Unmarshal(obj["data"], &data); err != nil {
		it := base
		it.Index = *idx
		*idx++
		return r.rejectAt(it, ReasonInvalidJSON, "data: "+err.Error(), line)
	}
	if len(data) == 0 {
		it := base
		it.Index = *idx
		*idx++
		return r.skip(it, "empty page")
	}
	for _, d := range data {
		if list, ok := recordList(d); ok {
			if len(list) == 0 {
				it := base
				it.Index = *idx
				*idx++
				if err := r.skip(it, "empty page"); err != nil {
					return err
				}
				continue
			}
			for _, rec := range list {
				if err := r.jsonValue(base, rec, line, depth+1, idx); err != nil {
					return err
				}
			}
			continue
		}
		if err := r.jsonValue(base, d, line, depth+1, idx); err != nil {
			return err
		}
	}
	return nil
}

// listKeys are the keys inside data[0] that hold an endpoint's record list (schema.RecordListKey).
var listKeys = func() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range schema.Tables() {
		if k := schema.RecordListKey(t.Name); k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}()

// recordList returns the record list of a data[] element that wraps one ({"clickLogs":[…]}).
func recordList(d json.RawMessage) ([]json.RawMessage, bool) {
	var inner map[string]json.RawMessage
	if json.Unmarshal(d, &inner) != nil {
		return nil, false
	}
	for _, k := range listKeys {
		v, ok := inner[k]
		if !ok {
			continue
		}
		var list []json.RawMessage
		if json.Unmarshal(v, &list) == nil {
			return list, true
		}
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return nil, true
		}
	}
	return nil, false
}

// elasticWrapper unwraps Elastic's pipeline-test documents, {"events":[{"message":"<json>"}, …]}, so their
// recorded API records can be read as they are.
func elasticWrapper(obj map[string]json.RawMessage) ([]json.RawMessage, bool) {
	ev, ok := obj["events"]
	if !ok || len(obj) != 1 {
		return nil, false
	}
	var list []struct {
		Message *string `json:"message"`
	}
	if json.Unmarshal(ev, &list) != nil {
		return nil, false
	}
	out := make([]json.RawMessage, 0, len(list))
	for _, e := range list {
		if e.Message == nil {
			return nil, false
		}
		out = append(out, json.RawMessage(*e.Message))
	}
	return out, true
}

func (r *runner) skip(it Item, why string) error {
	it.Skip = why
	return r.emitItem(it)
}

// record decodes a record of table t and normalizes the row.
func (r *runner) record(it Item, t *schema.Table, raw json.RawMessage, text []byte) error {
	row, err := t.Decode(r.opts.Tenant, raw, r.opts.Now())
	if err != nil {
		var de *schema.DecodeError
		if errors.As(err, &de) {
			return r.rejectAt(it, "decode "+t.Name, de.Reason, text)
		}
		return r.rejectAt(it, "decode "+t.Name, err.Error(), text)
	}
	it.Table, it.Row = t, row
	if mapFn, ok := normalize.For(t.Name); ok {
		evs, err := mapFn(row)
		if err != nil {
			it.Table, it.Row = nil, nil
			return r.rejectAt(it, ReasonNormalize, err.Error(), text)
		}
		it.Events = evs
	}
	return r.emitItem(it)
}

// documentStart reports whether the first line opens a pretty-printed JSON document ("{" or "[" alone).
func (r *runner) documentStart(text []byte) bool {
	if r.opts.Format != parse.FormatAuto && r.opts.Format != parse.FormatJSON {
		return false
	}
	t := bytes.TrimSpace(bytes.TrimPrefix(text, []byte("\xef\xbb\xbf")))
	return len(t) == 1 && (t[0] == '{' || t[0] == '[')
}

// document reads a pretty-printed JSON document (an API response saved as is) whole, bounded by MaxFileBytes,
// and reads its records as those of its first line.
func (r *runner) document(br *bufio.Reader, first []byte, name string, lineNo int) error {
	rest, err := io.ReadAll(br)
	if errors.Is(err, ErrFileTooLarge) {
		return r.tooLarge(name, lineNo)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	r.stats.Lines += bytes.Count(rest, []byte("\n"))
	if len(rest) > 0 && rest[len(rest)-1] != '\n' {
		r.stats.Lines++
	}
	doc := append(append(bytes.Clone(first), '\n'), rest...)
	r.stats.Formats[parse.FormatJSON]++
	base := Item{Source: name, Line: lineNo, Format: parse.FormatJSON}
	dec := json.NewDecoder(bytes.NewReader(doc))
	idx := 0
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return r.rejectAt(base, ReasonInvalidJSON, "document: "+err.Error(), doc)
		}
		if err := r.jsonValue(base, v, doc, 0, &idx); err != nil {
			return err
		}
	}
}

// feedOf remembers which threat-intel feed a source holds (its objects' Content-Disposition or feedType) and adds
// it to an indicator that names none: one feed download is one file, and Mimecast writes the file name on some
// objects only.
func (r *runner) feedOf(source string, obj map[string]json.RawMessage, v json.RawMessage) json.RawMessage {
	for _, k := range []string{"feedType", "Content-Disposition"} {
		if _, ok := obj[k]; ok {
			if r.feeds == nil {
				r.feeds = map[string][2]string{}
			}
			var s string
			_ = json.Unmarshal(obj[k], &s)
			r.feeds[source] = [2]string{k, s}
			return v
		}
	}
	f, ok := r.feeds[source]
	if !ok {
		return v
	}
	out, err := schema.WithField(v, f[0], f[1])
	if err != nil {
		return v
	}
	return out
}
