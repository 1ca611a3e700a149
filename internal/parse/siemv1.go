package parse

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/castwatch/castwatch/internal/schema"
)

// siemV1Types maps a legacy SIEM log type (SIEMRecord.Type) to the SIEM v2 type stored in Seg_Cg_CL.
var siemV1Types = map[string]string{
	SIEMReceipt:              "receipt",
	SIEMProcess:              "process",
	SIEMDelivery:             "delivery",
	SIEMJournal:              "journal",
	SIEMAV:                   "av",
	SIEMSpam:                 "spam",
	SIEMInternalEmailProtect: "internal email protect",
	SIEMImpersonationProtect: "impersonation protect",
	SIEMURLProtect:           "url protect",
	SIEMAttachmentProtect:    "attachment protect",
}

// siemV1Renames maps legacy SIEM keys (lower-cased) to the SIEM v2 field of the same meaning. Keys not listed are
// kept when a Seg_Cg_CL column has the same name ignoring case (md5, sha256, fileName, …), else dropped from the
// row (they stay in the raw line).
var siemV1Renames = map[string]string{
	"acc":                           "accountId",
	"act":                           "action",
	"dir":                           "direction",
	"sender":                        "senderEnvelope",
	"headerfrom":                    "senderHeader",
	"rcpt":                          "recipients",
	"recipient":                     "recipients",
	"msgid":                         "messageId",
	"msgsize":                       "emailSize",
	"size":                          "emailSize",
	"attcnt":                        "numberAttachments",
	"attsize":                       "totalSizeAttachments",
	"attnames":                      "attachments",
	"hld":                           "holdReason",
	"rejtype":                       "rejectionType",
	"rejcode":                       "rejectionCode",
	"rejinfo":                       "rejectionInfo",
	"attempt":                       "deliveryAttempts",
	"err":                           "deliveryErrors",
	"usetls":                        "tlsUsed",
	"tlsver":                        "tlsVersion",
	"cphr":                          "tlsCipher",
	"fileext":                       "fileExtension",
	"virus":                         "virusFound",
	"scanresultinfo":                "scanResults",
	"customname":                    "customNameMatch",
	"internalname":                  "internalUserName",
	"threatdictionary":              "mimecastThreatDictionary",
	"hits":                          "itemsDetected",
	"sourceip":                      "senderIp",
	"similarcustomexternaldomain":   "similarCustomExternalDomain",
	"similarinternaldomain":         "similarInternalDomain",
	"similarmimecastexternaldomain": "similarMimecastExternalDomain",
}

// segCgColumns maps the lower-cased Seg_Cg_CL column names to their spelling.
var segCgColumns = func() map[string]string {
	m := make(map[string]string, len(schema.SegCg.Columns))
	for _, c := range schema.SegCg.Columns {
		m[strings.ToLower(c.Name)] = c.Name
	}
	return m
}()

// SIEMv1Record converts a legacy SIEM record (a parsed key_value line, or the fields of a json-format record)
// into the SIEM v2 record shape that schema.SegCg.Decode reads:
//
//   - type from the log type (receipt, process, delivery, journal, av, spam, internal email protect,
//     impersonation protect, url protect, attachment protect); subtype mirrors action (receipt, process) or
//     delivered (delivery), as in v2;
//   - timestamp: datetime in epoch milliseconds; accountId: acc, else defaultAccount;
//   - aggregateId: aCode (one per message, like v2), else MsgId, else a hash of the record;
//   - processingId: v1 has none, so it is "v1-" + a hash of the record's fields — stable across replays, so
//     reading the same line twice stores one row;
//   - the other keys renamed to their v2 names (Sender → senderEnvelope, Rcpt/Recipient → recipients,
//     IP → senderIp, or destinationIp for delivery, …).
//
// It fails (*LineError) when the record has no readable datetime or no log type can be inferred.
func SIEMv1Record(rec SIEMRecord, defaultAccount string) (json.RawMessage, error) {
	if rec.Time.IsZero() {
		if rec.LocalTime == "" {
			return nil, &LineError{Reason: ReasonNoTime, Detail: "no datetime"}
		}
		return nil, &LineError{Reason: ReasonBadTime, Detail: fmt.Sprintf("datetime %q", rec.LocalTime)}
	}
	v2type, ok := siemV1Types[rec.Type]
	if !ok {
		return nil, &LineError{Reason: ReasonSIEMType, Detail: "no key identifies the log type"}
	}
	out := make([]kvPair, 0, len(rec.Fields)+6)
	get := func(name string) (string, bool) {
		for _, p := range out {
			if p.k == name {
				return p.v, true
			}
		}
		return "", false
	}
	for _, f := range rec.Fields {
		k := strings.ToLower(f.Key)
		name, ok := siemV1Renames[k]
		switch {
		case k == "ip":
			name, ok = "senderIp", true
			if rec.Type == SIEMDelivery {
				name = "destinationIp"
			}
		case k == "action" || k == "route" || k == "subject" || k == "delivered":
			name, ok = k, true
		case !ok:
			name, ok = segCgColumns[k]
		}
		if !ok || name == "" || name == "type" || name == "timestamp" {
			continue
		}
		if _, set := get(name); set {
			continue // the first spelling wins (Rcpt before Recipient)
		}
		out = append(out, kvPair{name, f.Value})
	}
	if acc, _ := get("accountId"); acc == "" {
		out = setPair(out, "accountId", defaultAccount)
	}
	hash := recordHash(rec)
	msgID, _ := get("messageId")
	switch {
	case rec.hasValue("aCode"):
		out = setPair(out, "aggregateId", valueOf(rec, "aCode"))
	case msgID != "":
		out = setPair(out, "aggregateId", msgID)
	default:
		out = setPair(out, "aggregateId", "v1-"+hash)
	}
	out = setPair(out, "processingId", "v1-"+hash)
	switch rec.Type {
	case SIEMReceipt, SIEMProcess:
		if a, _ := get("action"); a != "" {
			out = setPair(out, "subtype", a)
		}
	case SIEMDelivery:
		if d, _ := get("delivered"); d != "" {
			out = setPair(out, "subtype", d)
		}
	}
	b := make([]byte, 0, 64+len(rec.Raw)+32*len(out))
	b = append(b, `{"type":`...)
	b = appendJSONString(b, v2type)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, rec.Time.UnixMilli(), 10)
	for _, p := range out {
		b = append(b, ',')
		b = appendJSONString(b, p.k)
		b = append(b, ':')
		b = appendJSONString(b, p.v)
	}
	return append(b, '}'), nil
}

type kvPair struct{ k, v string }

// setPair sets name to v, replacing an existing pair.
func setPair(ps []kvPair, name, v string) []kvPair {
	for i := range ps {
		if ps[i].k == name {
			ps[i].v = v
			return ps
		}
	}
	return append(ps, kvPair{name, v})
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ReasonSIEMType is the LineError reason of a legacy SIEM record whose log type cannot be inferred.
const ReasonSIEMType = "unknown siem log type"

// SIEMv1FromJSON turns a json-format legacy SIEM record into a SIEMRecord (values as text, null as absent), so
// that SIEMv1Record converts both file formats the same way.
func SIEMv1FromJSON(obj map[string]json.RawMessage) SIEMRecord {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var r SIEMRecord
	for _, k := range keys {
		v := obj[k]
		if string(v) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = strings.TrimSpace(string(v))
		}
		r.Fields = append(r.Fields, Field{Key: k, Value: s})
	}
	raw, _ := json.Marshal(obj)
	r.Raw = string(raw)
	if len(r.Fields) == 0 {
		r.Issues = append(r.Issues, "no fields")
		return r
	}
	r.readDatetime()
	r.Type = siemType(r)
	return r
}

func (r SIEMRecord) hasValue(k string) bool { v, ok := r.Get(k); return ok && v != "" }

func valueOf(r SIEMRecord, k string) string { v, _ := r.Get(k); return v }

// recordHash identifies a legacy record by its fields (order-independent), 22 hex digits.
func recordHash(r SIEMRecord) string {
	parts := make([]string, 0, len(r.Fields))
	for _, f := range r.Fields {
		parts = append(parts, f.Key+"="+f.Value)
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:11])
}
