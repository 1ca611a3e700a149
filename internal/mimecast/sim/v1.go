package sim

import (
	"archive/zip"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API 1.0 defaults: the one binding (access and secret key) and registered application the tenant accepts.
const (
	DefaultAccessKey = "castwatch-sim-access-key"
	DefaultSecretKey = "Y2FzdHdhdGNoLXNpbS1zZWNyZXQta2V5LW1hdGVyaWFs" // base64 of castwatch-sim-secret-key-material
	DefaultAppID     = "castwatch-sim-app"
	DefaultAppKey    = "castwatch-sim-app-key"
)

// PathSIEMLogs is the API 1.0 legacy SIEM function.
const PathSIEMLogs = "/api/audit/get-siem-logs"

// siemRetention is how far back get-siem-logs files reach.
const siemRetention = 7 * 24 * time.Hour

// v1Fail writes the API 1.0 error envelope.
func v1Fail(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{
		"meta": map[string]any{"isLastToken": false, "status": status},
		"fail": []any{map[string]any{"errors": []any{map[string]any{"code": code, "message": message, "retryable": false}}}},
	})
}

// V1Signature computes the API 1.0 Authorization signature (spec mimecast-api §2.2): base64 of HMAC-SHA1 keyed
// with the base64-decoded secret key over "date:requestID:path:appKey".
func V1Signature(secretKey, date, requestID, path, appKey string) (string, error) {
	key, err := base64.StdEncoding.DecodeString(secretKey)
	if err != nil {
		return "", fmt.Errorf("secret key is not base64: %w", err)
	}
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(date + ":" + requestID + ":" + path + ":" + appKey))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// ExpireBinding makes API 1.0 calls answer HTTP 418 err_xdk_binding_expired (true) or work again (false).
func (s *Sim) ExpireBinding(expired bool) {
	s.mu.Lock()
	s.bindingExpired = expired
	s.mu.Unlock()
}

// authorizeV1 verifies an API 1.0 signed request and writes the error answer when it fails.
func (s *Sim) authorizeV1(w http.ResponseWriter, r *http.Request) bool {
	date, reqID, appID := r.Header.Get("x-mc-date"), r.Header.Get("x-mc-req-id"), r.Header.Get("x-mc-app-id")
	cred := strings.TrimPrefix(r.Header.Get("Authorization"), "MC ")
	access, sig, _ := strings.Cut(cred, ":")
	want, _ := V1Signature(s.opts.SecretKey, date, reqID, r.URL.Path, s.opts.AppKey)
	switch {
	case date == "" || reqID == "" || appID == "":
		s.count(func(st *Stats) { st.Unauthorized++ })
		v1Fail(w, http.StatusBadRequest, "err_xdk_client_unauthorized", "0001 Credentials Missing")
		return false
	case subtle.ConstantTimeCompare([]byte(appID), []byte(s.opts.AppID)) != 1,
		subtle.ConstantTimeCompare([]byte(access), []byte(s.opts.AccessKey)) != 1:
		s.count(func(st *Stats) { st.Unauthorized++ })
		v1Fail(w, http.StatusUnauthorized, "err_xdk_client_unauthorized", "0002 Client Unauthorized")
		return false
	case !hmac.Equal([]byte(sig), []byte(want)):
		s.count(func(st *Stats) { st.BadSignatures++ })
		v1Fail(w, http.StatusUnauthorized, "err_xdk_invalid_signature", "0004 Invalid Signature")
		return false
	}
	s.mu.Lock()
	expired := s.bindingExpired
	if expired {
		s.stats.BindingExpired++
	}
	s.mu.Unlock()
	if expired {
		v1Fail(w, http.StatusTeapot, "err_xdk_binding_expired", "0018 Binding Expired")
		return false
	}
	return true
}

// legacyTypes are the get-siem-logs file types: the file-name prefix and the batch type whose events they hold.
var legacyTypes = []struct{ prefix, typ string }{
	{"receipt", "receipt"}, {"process", "process"}, {"delivery", "delivery"}, {"jrnl", "journal"}, {"av", "av"},
	{"spam", "spam"}, {"internal_email_protect", "internal email protect"}, {"impersonation_protect", "impersonation protect"},
	{"url_protect", "url protect"}, {"attachment_protect", "attachment protect"},
}

// legacyPos is a get-siem-logs token: the last file served (period start and type index).
type legacyPos struct {
	P int64 `json:"p"`
	K int   `json:"k"`
}

// LegacyFile is one get-siem-logs file (ground truth).
type LegacyFile struct {
	// Name is the file name of Content-Disposition (the .log name; compressed answers name the zip .zip).
	Name string
	// Type is the file-name prefix: receipt, process, delivery, jrnl, av, spam, ….
	Type string
	// Records are the records, each an ordered list of key/value pairs (key_value lines; JSON objects).
	Records [][]KV
}

// KV is one key=value field of a legacy SIEM record; Value keeps the JSON format's native type.
type KV struct {
	Key   string
	Value any
}

// Lines renders the file in the key_value format, one record per line.
func (f LegacyFile) Lines() []string {
	out := make([]string, len(f.Records))
	for i, rec := range f.Records {
		parts := make([]string, len(rec))
		for j, kv := range rec {
			parts[j] = kv.Key + "=" + fmt.Sprint(kv.Value)
		}
		out[i] = strings.Join(parts, "|")
	}
	return out
}

// JSON renders the file in the json format: {"type":"MTA","data":[…]}.
func (f LegacyFile) JSON() []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"MTA","data":[`)
	for i, rec := range f.Records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, kv := range rec {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(kv.Key)
			v, _ := json.Marshal(kv.Value)
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes()
}

// legacyFile returns the file of one period and type, or ok false when it has no records.
func (s *Sim) legacyFile(period int64, k int) (LegacyFile, bool) {
	lt := legacyTypes[k]
	var recs [][]KV
	from := time.Unix(period, 0).UTC()
	for _, lr := range s.siemEventsOfHour(lt.typ, floorDiv(period, 3600)) {
		if lr.t.Before(from) || !lr.t.Before(from.Add(siemPeriod)) || lr.t.Before(s.origin) {
			continue
		}
		recs = append(recs, s.legacyRecord(lt.typ, lr.rec))
	}
	if len(recs) == 0 {
		return LegacyFile{}, false
	}
	end := time.Unix(period, 0).UTC().Add(siemPeriod)
	stamp := strings.Replace(end.Format("20060102150405.000"), ".", "", 1)
	return LegacyFile{Name: lt.prefix + "_" + stamp + ".log", Type: lt.prefix, Records: recs}, true
}

// legacyRecord renders one batch event as an API 1.0 SIEM record with the keys of its type.
func (s *Sim) legacyRecord(typ string, ev map[string]any) []KV {
	str := func(k string) any {
		if v, ok := ev[k]; ok && v != nil {
			return v
		}
		return nil
	}
	num := func(k string) any {
		if v, ok := ev[k].(string); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
		return nil
	}
	ts := time.UnixMilli(ev["timestamp"].(int64)).In(s.acct)
	agg, _ := ev["aggregateId"].(string)
	aCode := agg
	if i := strings.LastIndex(agg, "_"); i > 0 {
		aCode = agg[:i]
	}
	rec := []KV{{"datetime", ts.Format("2006-01-02T15:04:05-0700")}, {"aCode", aCode}, {"acc", ev["accountId"]}}
	add := func(pairs ...any) {
		for i := 0; i < len(pairs); i += 2 {
			if pairs[i+1] != nil {
				rec = append(rec, KV{pairs[i].(string), pairs[i+1]})
			}
		}
	}
	switch typ {
	case "receipt":
		if ev["action"] == "Rej" && ev["messageId"] == nil {
			// Refused before the content arrived: the short record of real envelope rejections.
			add("Sender", str("senderEnvelope"), "Rcpt", str("recipients"), "Act", "Rej", "RejInfo", str("rejectionInfo"),
				"IP", str("senderIp"), "RejType", str("rejectionType"), "RejCode", str("rejectionCode"), "Dir", str("direction"),
				"headerFrom", "")
			break
		}
		add("SpamLimit", 28, "IP", str("senderIp"), "Dir", str("direction"), "MsgId", str("messageId"), "Subject", str("subject"),
			"headerFrom", str("senderHeader"), "Sender", str("senderEnvelope"), "Rcpt", str("recipients"), "SpamInfo", str("spamInfo"),
			"Act", str("action"), "RejType", str("rejectionType"), "RejCode", str("rejectionCode"), "RejInfo", str("rejectionInfo"),
			"TlsVer", str("tlsVersion"), "Cphr", str("tlsCipher"),
			"SpamProcessingDetail", str("spamProcessingDetail"), "SpamScore", num("spamScore"))
	case "process":
		names := str("attachments")
		if names == nil {
			names = ""
		}
		add("AttSize", num("totalSizeAttachments"), "Act", str("action"), "AttCnt", num("numberAttachments"), "AttNames", names,
			"MsgSize", num("emailSize"), "MsgId", str("messageId"), "Hld", str("holdReason"))
	case "delivery":
		delivered := ev["delivered"] == "true"
		ack := any("250 2.6.0 Queued mail for delivery")
		if !delivered {
			ack = nil
		}
		add("Delivered", delivered, "IP", str("destinationIp"), "RejType", str("rejectionType"), "RejCode", str("rejectionCode"),
			"AttCnt", num("numberAttachments"), "Dir", str("direction"), "ReceiptAck", ack, "MsgId", str("messageId"),
			"Subject", str("subject"), "Latency", num("deliveryTime"), "Sender", str("senderEnvelope"), "Rcpt", str("recipients"),
			"AttSize", num("totalSizeAttachments"), "Attempt", num("deliveryAttempts"), "RejInfo", str("rejectionInfo"),
			"Err", str("deliveryErrors"), "TlsVer", str("tlsVersion"), "Cphr", str("tlsCipher"), "Snt", num("emailSize"),
			"UseTls", str("tlsUsed"), "Route", str("route"))
	case "journal":
		add("Sender", str("senderEnvelope"), "Rcpt", str("recipients"), "RcptActType", "Jnl", "Dir", "Internal", "RcptHdrType", "To")
	case "av":
		add("CustomerIP", "true", "IP", "0.0.0.0", "MimecastIP", "false", "MsgId", str("messageId"), "Recipient", str("recipients"),
			"Route", str("route"), "Sender", str("senderEnvelope"), "SenderDomain", str("senderDomain"), "SenderDomainInternal", "false",
			"Subject", str("subject"), "Virus", str("virusFound"), "fileExt", str("fileExtension"), "fileMime", "application/octet-stream",
			"fileName", str("fileName"), "md5", str("md5"), "sha1", str("sha1"), "sha256", str("sha256"))
	case "spam":
		add("MsgId", str("messageId"), "Recipient", str("recipients"), "Route", str("route"), "Sender", str("senderEnvelope"),
			"SenderDomain", str("senderDomain"), "SourceIP", str("senderIp"), "Subject", str("subject"), "headerFrom", str("senderHeader"))
	case "internal email protect":
		add("MsgId", str("messageId"), "Recipient", str("recipients"), "Route", str("route"), "ScanResultInfo", str("scanResults"),
			"Sender", str("senderEnvelope"), "Subject", str("subject"), "UrlCategory", str("urlCategory"))
	case "impersonation protect":
		add("Action", "Hold", "CustomName", str("customNameMatch"), "CustomThreatDictionary", str("customThreatDictionary"),
			"Definition", "Default Impersonation Definition", "Hits", str("itemsDetected"), "IP", "0.0.0.0",
			"InternalName", str("internalUserName"), "MsgId", str("messageId"), "NewDomain", str("newDomain"),
			"Recipient", str("recipients"), "ReplyMismatch", str("replyMismatch"), "Route", "Inbound", "Sender", str("senderEnvelope"),
			"SimilarCustomExternalDomain", str("similarCustomExternalDomain"), "SimilarInternalDomain", str("similarInternalDomain"),
			"SimilarMimecastExternalDomain", str("similarMimecastExternalDomain"), "Subject", str("subject"),
			"TaggedExternal", str("taggedExternal"), "TaggedMalicious", str("taggedMalicious"), "ThreatDictionary", str("mimecastThreatDictionary"))
	case "url protect":
		reason := str("blockReason")
		if reason == nil {
			reason = "clean"
		}
		add("reason", reason, "recipient", str("recipients"), "route", strings.ToLower(fmt.Sprint(ev["route"])), "sender", str("sender"),
			"senderDomain", str("senderDomain"), "sourceIp", str("sourceIp"), "url", str("url"), "urlCategory", str("urlCategory"))
	case "attachment protect":
		add("fileExt", str("fileExtension"), "fileMime", "application/octet-stream", "fileName", str("fileName"),
			"md5", str("md5"), "sha1", str("sha1"), "sha256", str("sha256"))
	}
	return rec
}

// legacyStart is the position before the oldest file get-siem-logs still serves.
func (s *Sim) legacyStart() legacyPos {
	oldest := s.opts.Now().Add(-siemRetention).UTC()
	if s.origin.After(oldest) {
		oldest = s.origin
	}
	first := oldest.Truncate(siemPeriod)
	if first.Before(oldest) {
		first = first.Add(siemPeriod)
	}
	return legacyPos{P: first.Unix() - int64(siemPeriod/time.Second), K: len(legacyTypes) - 1}
}

// nextLegacyFile returns the first file after pos that is available now.
func (s *Sim) nextLegacyFile(pos legacyPos) (LegacyFile, legacyPos, bool) {
	last := s.SIEMAvailableUntil().Unix() - int64(siemPeriod/time.Second)
	step := int64(siemPeriod / time.Second)
	p, k := pos.P, pos.K+1
	if k >= len(legacyTypes) {
		p, k = p+step, 0
	}
	for ; p <= last; p, k = p+step, 0 {
		for ; k < len(legacyTypes); k++ {
			if f, ok := s.legacyFile(p, k); ok {
				return f, legacyPos{P: p, K: k}, true
			}
		}
	}
	return LegacyFile{}, pos, false
}

// LegacySIEMFiles returns the files get-siem-logs serves now to a client that starts without a token and follows
// every mc-siem-token, in order.
func (s *Sim) LegacySIEMFiles() []LegacyFile {
	var out []LegacyFile
	pos := s.legacyStart()
	for {
		f, next, ok := s.nextLegacyFile(pos)
		if !ok {
			return out
		}
		out = append(out, f)
		pos = next
	}
}

// handleSIEMLogs serves POST /api/audit/get-siem-logs: one file per call, the continuation token in the
// mc-siem-token header, the JSON isLastToken marker when nothing new is available.
func (s *Sim) handleSIEMLogs(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Data []struct {
			Type       string `json:"type"`
			Token      string `json:"token"`
			FileFormat string `json:"fileFormat"`
			Compress   bool   `json:"compress"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBodyKB<<10)).Decode(&req); err != nil {
		v1Fail(w, http.StatusBadRequest, codeBadBody, "request body is not valid JSON")
		return
	}
	if len(req.Data) == 0 {
		s.count(func(st *Stats) { st.ValidationFailures++ })
		v1Fail(w, http.StatusOK, codeNull, "data must not be null")
		return
	}
	q := req.Data[0]
	if q.Type != "" && q.Type != "MTA" {
		s.count(func(st *Stats) { st.ValidationFailures++ })
		v1Fail(w, http.StatusOK, "err_validation_invalid_type", "type must be MTA")
		return
	}
	format := q.FileFormat
	if format == "" {
		format = "key_value"
	}
	if format != "key_value" && format != "json" {
		s.count(func(st *Stats) { st.ValidationFailures++ })
		v1Fail(w, http.StatusOK, "err_validation_invalid_file_format", "fileFormat must be key_value or json")
		return
	}
	pos := s.legacyStart()
	if q.Token != "" {
		var tp legacyPos
		if !s.verify(q.Token, base64.RawURLEncoding, &tp) || tp.P < pos.P {
			s.count(func(st *Stats) { st.ValidationFailures++ })
			v1Fail(w, http.StatusOK, "err_audit_siem_invalid_token", "The token is invalid or has expired")
			return
		}
		pos = tp
	}
	f, next, ok := s.nextLegacyFile(pos)
	if !ok {
		s.count(func(st *Stats) { st.Pages++ })
		if q.Token != "" {
			w.Header().Set("mc-siem-token", q.Token)
		}
		writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"isLastToken": true, "status": http.StatusOK}, "data": []any{}, "fail": []any{}})
		return
	}
	var body []byte
	if format == "json" {
		body = f.JSON()
	} else {
		body = []byte(strings.Join(f.Lines(), "\n") + "\n")
	}
	name := f.Name
	if q.Compress {
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		fw, _ := zw.Create(name)
		_, _ = fw.Write(body)
		_ = zw.Close()
		body = zb.Bytes()
		name = strings.TrimSuffix(name, ".log") + ".zip"
	}
	s.count(func(st *Stats) { st.Pages++ })
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("mc-siem-token", s.sign(next, base64.RawURLEncoding))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
