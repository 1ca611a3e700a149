package sim

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// ciFlow returns the (cached) Cloud Integrated events of unix hour h, derived from the hour's messages and clicks.
func (s *Sim) ciFlow(h int64) map[string][]logRec {
	s.mu.Lock()
	out, ok := s.ci[h]
	s.mu.Unlock()
	if ok {
		return out
	}
	mh := s.mailFlow(h)
	r := rngFor(s.opts.Seed, "ci", h)
	out = map[string][]logRec{}
	offset := h * 100000
	common := func(typ string, t time.Time, msg *message) map[string]any {
		offset++
		proc := hashBytes(s.opts.Seed, "ci-processing", msg.aggregateID, typ)
		return map[string]any{
			"_offset": offset, "_partition": 53, "accountId": s.accountID(), "aggregateId": msg.aggregateID,
			"processingId": hex.EncodeToString(proc) + "_" + strconv.FormatInt(msg.t.Unix(), 10),
			"messageId":    msg.messageID, "timestamp": t.UnixMilli(), "type": typ,
		}
	}
	add := func(typ string, t time.Time, rec map[string]any) {
		out[typ] = append(out[typ], siemRec(time.UnixMilli(t.UnixMilli()).UTC(), rec))
	}
	byID := map[string]*message{}
	for i := range mh.msgs {
		msg := &mh.msgs[i]
		if msg.rejected() {
			continue // refused by the gateway: it never reached a mailbox
		}
		byID[msg.messageID] = msg
		t := msg.t.Add(5 * time.Second)
		rec := common("entities", t, msg)
		threat, state, action, tags := "NO_DETECTIONS", "DELIVERED", "DO_NOTHING", any(nil)
		switch msg.verdict {
		case "spam":
			threat, state, action, tags = "SPAM", "QUARANTINED", "QUARANTINE", []string{"SPAM"}
		case "badurl":
			threat, state, action, tags = "PHISHING", "BLOCKED", "BLOCK", []string{"PHISHING"}
		case "badattachment", "av":
			threat, state, action, tags = "MALWARE", "BLOCKED", "BLOCK", []string{"MALWARE"}
		case "impersonation":
			threat, state, action, tags = "IMPERSONATION", "QUARANTINED", "QUARANTINE", []string{"IMPERSONATION", "UNTRUSTWORTHY"}
		}
		attachments := []string{}
		if msg.attachment != "" {
			attachments = append(attachments, msg.attachment)
		}
		for k, v := range map[string]any{
			"attachments": attachments, "direction": strings.ToUpper(msg.route), "historicalMail": false,
			"policiesApplied": []map[string]any{{"action": action, "mode": "ACTIVE", "name": "Default O365 Mail policy"}},
			"recipients":      []string{msg.recipient}, "senderEnvelope": msg.sender, "senderHeader": msg.sender,
			"senderIp": msg.senderIP, "source": "OFFICE_365_MAIL", "subject": msg.subject, "subtype": threat,
			"tags": tags, "threatState": state, "threatType": threat,
		} {
			rec[k] = v
		}
		add("entities", t, rec)
		if msg.route == "inbound" {
			pass := msg.verdict != "impersonation" && msg.verdict != "spam"
			res := map[bool]string{true: "pass", false: "fail"}
			rec := common("mailflow", msg.t.Add(time.Second), msg)
			rec["subtype"] = nil
			rec["authResults"] = []map[string]any{
				{"aligned": true, "result": "pass", "type": "SPF"},
				{"aligned": pass, "result": res[pass || r.IntN(2) == 0], "type": "DKIM"},
				{"aligned": nil, "result": res[pass], "type": "DMARC"},
			}
			add("mailflow", msg.t.Add(time.Second), rec)
		}
	}
	for _, lr := range mh.logs[PathTTPURL] {
		msg := byID[lr.rec["messageId"].(string)]
		if msg == nil {
			continue
		}
		rec := common("urlclick", lr.t, msg)
		blocked := lr.rec["scanResult"] == "malicious"
		rec["subtype"] = map[bool]string{true: "BLOCKED", false: "ALLOWED"}[blocked]
		for k, v := range map[string]any{
			"url": lr.rec["url"], "userEmailAddress": lr.rec["userEmailAddress"], "category": lr.rec["category"],
			"senderEnvelope": msg.sender, "recipients": []string{msg.recipient}, "subject": msg.subject,
			"direction": strings.ToUpper(msg.route),
		} {
			rec[k] = v
		}
		add("urlclick", lr.t, rec)
	}
	for k := range out {
		sortLogs(out[k])
	}
	s.mu.Lock()
	s.ci[h] = out
	s.mu.Unlock()
	return out
}
