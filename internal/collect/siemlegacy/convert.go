package siemlegacy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/parse"
)

// Converted is one legacy record in the SIEM v2 shape schema.SegCg.Decode reads, or why it could not be made one.
type Converted struct {
	// Record is the SIEM v2 JSON record; nil when Reason is set.
	Record json.RawMessage
	// Time is the record's datetime in UTC (zero when unreadable).
	Time time.Time
	// Reason says why the input is not a record; Raw is the input then.
	Reason string
	Raw    string
}

// ConvertLine converts one line of a legacy SIEM file: key_value records (several when they were concatenated
// without a separator) or JSON objects (one or more on the line, as in json-format exports saved line by line).
// Field names are mapped to their SIEM v2 names by parse.SIEMv1Record (see its table: acc → accountId, Act →
// action, Sender → senderEnvelope, Rcpt/Recipient → recipients, IP → senderIp or destinationIp, MsgId →
// messageId, …), the log type becomes the v2 type (so Logtype is email_receipt, email_process, …) and datetime,
// written with the account's local offset, becomes epoch milliseconds in UTC. Blank lines give nothing.
func ConvertLine(line, account string) []Converted {
	s := strings.TrimSpace(line)
	if s == "" {
		return nil
	}
	if s[0] == '{' {
		return convertJSONLine(s, account)
	}
	var out []Converted
	for _, text := range parse.SplitSIEMRecords(s) {
		out = append(out, convertRecord(parse.ParseSIEMLine(text), account, text))
	}
	return out
}

// convertJSONLine converts the JSON objects of one line; objects may be separated by commas ("{…},{…}", as in
// exports that joined two records on a line).
func convertJSONLine(s, account string) []Converted {
	var out []Converted
	for {
		s = strings.TrimLeft(s, " \t\r,")
		if s == "" {
			return out
		}
		dec := json.NewDecoder(strings.NewReader(s))
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			return append(out, Converted{Reason: "invalid JSON: " + err.Error(), Raw: clip(s)})
		}
		out = append(out, ConvertObject(obj, account))
		s = s[dec.InputOffset():]
	}
}

// ConvertObject converts one json-format legacy record.
func ConvertObject(obj map[string]json.RawMessage, account string) Converted {
	raw, _ := json.Marshal(obj)
	if obj == nil {
		return Converted{Reason: "not a JSON object", Raw: clip(string(raw))}
	}
	return convertRecord(parse.SIEMv1FromJSON(obj), account, string(raw))
}

func convertRecord(rec parse.SIEMRecord, account, raw string) Converted {
	out, err := parse.SIEMv1Record(rec, account)
	if err != nil {
		reason := err.Error()
		if len(rec.Issues) > 0 {
			reason += " (" + strings.Join(rec.Issues, "; ") + ")"
		}
		return Converted{Reason: reason, Raw: clip(raw), Time: rec.Time}
	}
	return Converted{Record: out, Time: rec.Time}
}

// maxRaw caps the raw text kept with a malformed record.
const maxRaw = 4 << 10

func clip(s string) string {
	if len(s) > maxRaw {
		return s[:maxRaw]
	}
	return s
}

// walkJSONFile streams a json-format file, {"type":"MTA","data":[{…},{…}]}, calling fn for every element of data
// with its 1-based index. Keys other than data are skipped. Memory is bounded by the largest record.
func walkJSONFile(r io.Reader, fn func(i int, c Converted) error, account string) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return fmt.Errorf("json file: %w", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("json file: %w", err)
		}
		key, _ := tok.(string)
		if key != "data" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("json file: value of %q: %w", key, err)
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return fmt.Errorf("json file: data: %w", err)
		}
		for i := 1; dec.More(); i++ {
			var elem json.RawMessage
			if err := dec.Decode(&elem); err != nil {
				return fmt.Errorf("json file: data[%d]: %w", i, err)
			}
			var obj map[string]json.RawMessage
			c := Converted{Reason: "not a JSON object", Raw: clip(string(elem))}
			if bytes.HasPrefix(bytes.TrimSpace(elem), []byte("{")) && json.Unmarshal(elem, &obj) == nil {
				c = ConvertObject(obj, account)
			}
			if err := fn(i, c); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return fmt.Errorf("json file: data: %w", err)
		}
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}
