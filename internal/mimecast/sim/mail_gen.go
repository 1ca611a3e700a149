package sim

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Paths of the mail-log functions and the keys of data[0] that hold their records.
const (
	PathTTPURL           = "/api/ttp/url/get-logs"
	PathTTPAttachment    = "/api/ttp/attachment/get-logs"
	PathTTPImpersonation = "/api/ttp/impersonation/get-logs"
	PathDLP              = "/api/dlp/get-logs"
	PathSIEMBatchCG      = "/siem/v1/batch/events/cg"
	PathHeldRelease      = "/api/gateway/get-held-release-logs"
	PathArchiveSearch    = "/api/archive/get-archive-search-logs"
)

// logProducts maps each log function to the product it belongs to.
var logProducts = map[string]string{
	PathTTPURL: ProductTTP, PathTTPAttachment: ProductTTP, PathTTPImpersonation: ProductTTP, PathDLP: ProductDLP,
	PathHeldRelease: ProductGateway, PathArchiveSearch: ProductArchive,
}

// logLookbackHours is how many hours before a window a function's records may have been generated (records
// stored with the message that caused them but timed later).
var logLookbackHours = map[string]int64{PathHeldRelease: 4}

// logDateFields are the names of the window fields of the functions that do not use from/to.
var logDateFields = map[string][2]string{
	PathHeldRelease:   {"start", "end"},
	PathArchiveSearch: {"start", "end"},
}

// logListKeys maps each mail-log function to the data[0] key of its records.
var logListKeys = map[string]string{
	PathTTPURL:           "clickLogs",
	PathTTPAttachment:    "attachmentLogs",
	PathTTPImpersonation: "impersonationLogs",
	PathDLP:              "dlpLogs",
	PathHeldRelease:      "heldReleaseLogs",
	PathArchiveSearch:    "logs",
}

// SIEMTypes are the Cloud Gateway batch types the tenant produces.
var SIEMTypes = []string{
	"receipt", "process", "delivery", "av", "spam", "internal email protect", "impersonation protect",
	"url protect", "attachment protect", "journal",
}

// logRec is one generated mail-log record: its time and its JSON object.
type logRec struct {
	t   time.Time
	rec map[string]any
	raw json.RawMessage // the record as served (SIEM events), filled on first use by rawOf
}

// siemRec makes the logRec of a complete SIEM event.
func siemRec(t time.Time, rec map[string]any) logRec { return logRec{t: t, rec: rec} }

// rawOf returns list[i] as JSON, marshalling it once (the list belongs to a cached hour).
func (s *Sim) rawOf(list []logRec, i int) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if list[i].raw == nil {
		list[i].raw, _ = json.Marshal(list[i].rec)
	}
	return list[i].raw
}

// mailHour holds everything the mail flow of one hour produced.
type mailHour struct {
	logs map[string][]logRec // by function path, oldest first
	siem map[string][]logRec // by SIEM type, oldest first
	msgs []message           // the messages, in generation order
}

var externalDomains = []string{
	"northwind-traders.example", "contoso-mail.example", "fabrikam.example", "adventure-works.example",
	"tailspin.example", "newsletters.example", "invoices-online.example",
}

// personalDomains are public mail providers (personal addresses).
var personalDomains = []string{"gmail.com", "outlook.com", "yahoo.com", "proton.me", "gmx.com"}

// personalMailOdds is one in how many outbound messages of a user with a private address goes to it.
const personalMailOdds = 250

// inboundVerdicts and inboundWeights (per 1000 inbound messages) set how often each verdict occurs.
var (
	inboundVerdicts = []string{"clean", "spam", "url", "badurl", "attachment", "badattachment", "impersonation", "av",
		verdictReject, verdictSpamReject, verdictVirus, verdictImpTag}
	inboundWeights = []int{813, 80, 40, 4, 12, 4, 3, 3, 25, 12, 2, 2}
)

var lookalikeDomains = []string{"rnicrosoft-support.example", "paypa1-billing.example", "docu-sign-secure.example"}

var mailSubjects = []string{
	"Quarterly results", "Re: contract draft", "Invoice 48213", "Team offsite agenda", "Your order has shipped",
	"Weekly newsletter", "Action required: password expiry", "Lunch on Friday?", "Updated price list",
	"RE: Purchase order", "Shared document: Budget 2026.xlsx", "Meeting notes",
}

var maliciousURLs = []string{
	"http://login-verify.example/o365/auth", "https://secure-docs.example/share/view.php", "http://pay-update.example/acct",
}

var cleanURLs = []string{
	"https://www.northwind-traders.example/catalog", "https://fabrikam.example/news/2026", "https://contoso-mail.example/unsubscribe",
}

// mailFlow generates (and caches) the mail of unix hour h.
func (s *Sim) mailFlow(h int64) mailHour {
	s.mu.Lock()
	m, ok := s.mail[h]
	s.mu.Unlock()
	if ok {
		return m
	}
	m = s.generateMail(h)
	s.mu.Lock()
	s.mail[h] = m
	s.mu.Unlock()
	return m
}

// message is one generated email and what the gateway did with it.
type message struct {
	t                    time.Time
	route                string // inbound, outbound, internal
	sender, recipient    string
	senderName           string
	subject, messageID   string
	aggregateID, procID  string
	senderIP             string
	verdict              string // clean, spam, url, badurl, attachment, badattachment, impersonation, av, dlp
	attachment, fileHash string
	size                 int    // bytes; 0 draws a typical size
	policy               string // DLP policy; "" draws one
	story                bool   // part of an attack story (never refused on delivery)
}

// messagesPerMailboxDay is the average number of messages a mailbox sends or receives per day.
const messagesPerMailboxDay = 100

// activityHoursPerDay is the mean over a week of the daily sum of activity(): the divisor that turns a daily
// volume into an hourly rate at peak.
const activityHoursPerDay = 10.0

// generateMail builds the mail flow of one hour from the seed alone.
func (s *Sim) generateMail(h int64) mailHour {
	r := rngFor(s.opts.Seed, "mail", h)
	base := time.Unix(h*3600, 0).UTC()
	m := mailHour{logs: map[string][]logRec{}, siem: map[string][]logRec{}}
	rate := float64(len(s.users)) * messagesPerMailboxDay / activityHoursPerDay
	n := poisson(r, rate*s.activity(base))
	for i := range n {
		msg := s.makeMessage(r, base.Add(time.Duration(r.IntN(3600-600))*time.Second), h, i)
		s.emit(r, &m, msg, h*1000000+int64(i)*10)
		m.msgs = append(m.msgs, msg)
	}
	for range poisson(r, float64(max(1, s.admins))*0.6*s.activity(base)) {
		s.archiveSearch(r, &m, base.Add(time.Duration(r.IntN(3600))*time.Second))
	}
	for k, msg := range s.storyMessages(h) {
		s.emit(r, &m, msg, h*1000000+int64(n+k)*10)
		m.msgs = append(m.msgs, msg)
	}
	for _, list := range []map[string][]logRec{m.logs, m.siem} {
		for k := range list {
			sortLogs(list[k])
		}
	}
	return m
}

func sortLogs(l []logRec) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].t.Before(l[j-1].t); j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

// makeMessage draws one message.
func (s *Sim) makeMessage(r *rand.Rand, t time.Time, h int64, i int) message {
	u := &s.users[r.IntN(len(s.users))]
	ext := pick(r, []string{"billing", "news", "sales", "support", "jane.doe", "m.rossi", "noreply"}) + "@" + pick(r, externalDomains)
	if r.IntN(plainDomainOdds) == 0 {
		ext = ext[:strings.Index(ext, "@")+1] + pick(r, noTLSDomains)
	}
	msg := message{t: t, subject: pick(r, mailSubjects)}
	switch k := r.IntN(10); {
	case k < 7:
		msg.route, msg.sender, msg.recipient = "inbound", ext, u.email
		msg.senderIP = publicIP(r)
		msg.verdict = inboundVerdicts[weighted(r, inboundWeights)]
	case k < 9:
		if r.IntN(personalMailOdds) == 0 && u.personal != "" {
			ext = u.personal
		}
		msg.route, msg.sender, msg.recipient = "outbound", u.email, ext
		msg.senderIP = u.office
		msg.verdict = "clean"
		if r.IntN(150) == 0 {
			msg.verdict = "dlp"
		}
	default:
		other := &s.users[r.IntN(len(s.users))]
		msg.route, msg.sender, msg.recipient = "internal", u.email, other.email
		msg.senderIP = u.office
		msg.verdict = "clean"
	}
	msg.senderName = strings.Split(msg.sender, "@")[0]
	if msg.verdict == "impersonation" || msg.verdict == verdictImpTag {
		ceo := &s.users[0]
		msg.senderName = ceo.name
		domains := lookalikeDomains
		if msg.verdict == verdictImpTag {
			domains = personalDomains // an executive's name from a public mailbox: one indicator only
		}
		msg.sender = strings.ReplaceAll(strings.ToLower(ceo.name), " ", ".") + "@" + pick(r, domains)
		msg.subject = pick(r, []string{"Urgent wire transfer", "Are you available?", "Gift cards needed today"})
	}
	if strings.Contains(msg.verdict, "attachment") || msg.verdict == "av" || msg.verdict == verdictVirus {
		msg.attachment = pick(r, []string{"invoice_%d.pdf", "statement_%d.xlsx", "scan_%d.docm", "payment_%d.zip"})
		msg.attachment = fmt.Sprintf(msg.attachment, 1000+r.IntN(9000))
	}
	s.finishMessage(&msg, h, i)
	return msg
}

// finishMessage sets the identifiers of a message (and the hash of its attachment) from its hour and index.
func (s *Sim) finishMessage(msg *message, h int64, i int) {
	if msg.senderName == "" {
		msg.senderName = strings.Split(msg.sender, "@")[0]
	}
	id := hashBytes(s.opts.Seed, "message", strconv.FormatInt(h, 10), strconv.Itoa(i))
	unix := strconv.FormatInt(msg.t.Unix(), 10)
	msg.messageID = fmt.Sprintf("<%s-%d@%s>", hex.EncodeToString(id[:8]), 10000+int(id[8])*100+int(id[9]), strings.Split(msg.sender, "@")[1])
	msg.aggregateID = base64.RawURLEncoding.EncodeToString(id[10:26]) + "_" + unix
	msg.procID = base64.RawURLEncoding.EncodeToString(hashBytes(s.opts.Seed, "processing", msg.aggregateID)) + "_" + unix
	if msg.attachment != "" {
		sum := sha256.Sum256([]byte(msg.attachment + msg.aggregateID))
		msg.fileHash = hex.EncodeToString(sum[:])
	}
}

// accountID is the tenant's Mimecast account code.
func (s *Sim) accountID() string {
	return "CUSA" + strings.ToUpper(hex.EncodeToString(hashBytes(s.opts.Seed, "account")[:3]))
}

// emit turns a message into its SIEM events and mail-log records.
func (s *Sim) emit(r *rand.Rand, m *mailHour, msg message, offset int64) {
	ms := func(d time.Duration) int64 { return msg.t.Add(d).UnixMilli() }
	common := func(typ string, d time.Duration, subtype any) map[string]any {
		offset++
		return map[string]any{
			"_offset": offset, "_partition": 60, "accountId": s.accountID(), "aggregateId": msg.aggregateID,
			"processingId": msg.procID, "timestamp": ms(d), "type": typ, "subtype": subtype,
		}
	}
	add := func(typ string, d time.Duration, rec map[string]any) {
		m.siem[typ] = append(m.siem[typ], siemRec(time.UnixMilli(rec["timestamp"].(int64)).UTC(), rec))
	}
	direction := map[string]string{"inbound": "Inbound", "outbound": "Outbound", "internal": "Internal"}[msg.route]
	held := msg.verdict == "spam" || msg.verdict == "badattachment" || msg.verdict == "impersonation" || msg.verdict == "av"
	action := "Acc"
	switch {
	case held:
		action = "Hld"
	case msg.rejected():
		action = "Rej"
	}
	nAtt := "0"
	var attachments any
	if msg.attachment != "" {
		nAtt, attachments = "1", strconv.Quote(msg.attachment)
	}
	size := strconv.Itoa(2000 + r.IntN(60000))
	if msg.size > 0 {
		size = strconv.Itoa(msg.size)
	}

	if msg.route == "internal" {
		rec := common("journal", 0, nil)
		rec["direction"], rec["recipients"], rec["senderEnvelope"] = "Internal", msg.recipient, msg.sender
		add("journal", 0, rec)
	} else {
		rec := common("receipt", 0, action)
		maps.Copy(rec, s.receiptFields(r, msg, action, direction, nAtt))
		add("receipt", 0, rec)
	}
	if msg.rejected() {
		s.detections(r, m, msg, common, add)
		return
	}
	attSize := "0"
	switch {
	case msg.attachment != "" && msg.size > 8000:
		attSize = strconv.Itoa(msg.size - 6000)
	case msg.attachment != "":
		attSize = "1153"
	}
	proc := common("process", 2*time.Second, action)
	var holdReason any
	if held {
		holdReason = map[string]string{"spam": "Spm", "badattachment": "Att", "impersonation": "Imp", "av": "Av"}[msg.verdict]
	}
	for k, v := range map[string]any{
		"action": action, "attachments": attachments, "emailSize": size, "holdReason": holdReason,
		"messageId": msg.messageID, "numberAttachments": nAtt, "senderEnvelope": msg.sender,
		"subject": msg.subject, "totalSizeAttachments": attSize,
	} {
		proc[k] = v
	}
	add("process", 0, proc)
	if !held {
		del := common("delivery", 4*time.Second, nil)
		maps.Copy(del, s.deliveryFields(r, msg, direction, nAtt, size, attSize))
		del["subtype"] = del["delivered"]
		add("delivery", 0, del)
	}
	s.detections(r, m, msg, common, add)
	if held && r.IntN(10) < 3 {
		s.heldRelease(r, m, msg)
	}
	if msg.route == "internal" && r.IntN(20) == 0 {
		rec := common("internal email protect", time.Second, nil)
		cat := pick(r, []string{"Compromised", "Compromised", "Phishing & Fraud", "Malware"})
		for k, v := range map[string]any{
			"messageId": msg.messageID, "monitoredDomainSource": nil, "recipients": msg.recipient, "route": "Internal",
			"scanResults": "Blocked URL Category", "senderEnvelope": msg.sender, "similarDomain": nil,
			"subject": msg.subject, "urlCategory": cat,
		} {
			rec[k] = v
		}
		add("internal email protect", 0, rec)
	}
}

// siemCommon makes the fields every SIEM event of a message shares; siemAdd files an event by its type.
type (
	siemCommon func(typ string, d time.Duration, subtype any) map[string]any
	siemAdd    func(typ string, d time.Duration, rec map[string]any)
)

// detections emits the scanner records of a message: spam, URL, attachment, impersonation, anti-virus, DLP.
func (s *Sim) detections(r *rand.Rand, m *mailHour, msg message, common siemCommon, add siemAdd) {
	direction := map[string]string{"inbound": "Inbound", "outbound": "Outbound", "internal": "Internal"}[msg.route]
	switch msg.verdict {
	case "spam", verdictSpamReject:
		rec := common("spam", time.Second, nil)
		for k, v := range map[string]any{
			"messageId": msg.messageID, "recipients": msg.recipient, "route": direction,
			"senderDomain": strings.Split(msg.sender, "@")[1], "senderEnvelope": msg.sender, "senderHeader": msg.sender,
			"senderIp": msg.senderIP, "subject": msg.subject,
		} {
			rec[k] = v
		}
		add("spam", 0, rec)
	case "url", "badurl":
		bad := msg.verdict == "badurl"
		u := pick(r, cleanURLs)
		if bad {
			u = pick(r, maliciousURLs)
		}
		rec := common("url protect", time.Second, nil)
		act, cat, reason := "allow", pick(r, []string{"Business", "Business", "News", "Shopping", "Technology"}), any(nil)
		if bad {
			act, cat, reason = "block", "Phishing & Fraud", "Malicious URL"
		}
		for k, v := range map[string]any{
			"url": u, "urlCategory": cat, "blockReason": reason, "route": direction, "sender": msg.sender,
			"senderDomain": strings.Split(msg.sender, "@")[1], "sourceIp": msg.senderIP, "subject": msg.subject,
			"action": act, "messageId": msg.messageID, "recipients": msg.recipient,
		} {
			rec[k] = v
		}
		add("url protect", 0, rec)
		click := msg.t.Add(time.Duration(60+r.IntN(480)) * time.Second)
		scan, actions, awareness := "clean", "Allow", "Continue"
		if bad {
			scan, actions, awareness = "malicious", "Block", "N/A"
		}
		clickRec := map[string]any{
			"userEmailAddress": msg.recipient, "fromUserEmailAddress": msg.sender, "url": u,
			"ttpDefinition": "Inbound URL 'Aggressive'", "subject": msg.subject, "action": act, "adminOverride": "N/A",
			"userOverride": "None", "scanResult": scan, "category": cat, "sendingIp": msg.senderIP,
			"userAwarenessAction": awareness, "date": formatAPI(click), "actions": actions, "route": msg.route,
			"creationMethod": "User Click", "emailPartsDescription": []string{"Body"}, "messageId": msg.messageID,
		}
		if bad && r.IntN(2) == 0 {
			clickRec["tagMap"] = map[string]any{"UrlReputationScan": map[string]any{
				"Status": []string{"CustomerAll", "VerdictBlock"}, "Type": []string{"Phishing"}, "Url": []string{u},
				"UrlBlock": []string{"ORIGINAL:" + u + " (Blocked as PHISHING)"},
			}}
		}
		m.logs[PathTTPURL] = append(m.logs[PathTTPURL], logRec{t: click, rec: clickRec})
	case "attachment", "badattachment":
		bad := msg.verdict == "badattachment"
		sha1sum, md5sum := sha1.Sum([]byte(msg.fileHash)), md5.Sum([]byte(msg.fileHash))
		rec := common("attachment protect", 3*time.Second, nil)
		for k, v := range map[string]any{
			"fileExtension": strings.TrimPrefix(msg.attachment[strings.LastIndex(msg.attachment, "."):], "."),
			"fileName":      msg.attachment, "md5": hex.EncodeToString(md5sum[:]), "sha1": hex.EncodeToString(sha1sum[:]),
			"sha256": msg.fileHash,
		} {
			rec[k] = v
		}
		add("attachment protect", 0, rec)
		result, details := "safe", "Safe                                              \r\nTime taken: 0 hrs, 0 min, 4 sec"
		triggered, definition := "none", "Default Inbound Attachment Protect Definition"
		switch {
		case bad:
			result, details = "malicious", "Malicious                                         \r\nTime taken: 0 hrs, 0 min, 1 sec"
		case r.IntN(4) == 0:
			triggered, definition = "user release, none", "Inbound - Safe file with On-Demand Sandbox"
		}
		at := msg.t.Add(3 * time.Second)
		m.logs[PathTTPAttachment] = append(m.logs[PathTTPAttachment], logRec{t: at, rec: map[string]any{
			"senderAddress": msg.sender, "recipientAddress": msg.recipient, "fileName": msg.attachment,
			"fileType": "application/octet-stream", "result": result, "actionTriggered": triggered, "date": formatAPI(at),
			"details": details, "route": msg.route, "messageId": msg.messageID, "subject": msg.subject,
			"fileHash": msg.fileHash, "definition": definition,
		}})
	case "impersonation", verdictImpTag:
		imp := impersonationHold
		if msg.verdict == verdictImpTag {
			imp = impersonationTag
			imp.malicious = r.IntN(2) == 0
		}
		rec := common("impersonation protect", time.Second, nil)
		for k, v := range map[string]any{
			"customThreatDictionary": "false", "itemsDetected": strconv.Itoa(len(imp.identifiers)), "similarCustomExternalDomain": "false",
			"taggedExternal": "true", "similarInternalDomain": "false", "newDomain": strconv.FormatBool(imp.hold), "internalUserName": "true",
			"mimecastThreatDictionary": strconv.FormatBool(imp.hold), "similarMimecastExternalDomain": "false", "customNameMatch": "false",
			"taggedMalicious": strconv.FormatBool(imp.malicious), "replyMismatch": "false", "messageId": msg.messageID, "recipients": msg.recipient,
			"senderEnvelope": msg.sender, "subject": msg.subject, "action": imp.action,
		} {
			rec[k] = v
		}
		add("impersonation protect", 0, rec)
		at := msg.t.Add(time.Second)
		id := "MTOKEN:eNq" + base64.RawURLEncoding.EncodeToString(hashBytes(s.opts.Seed, "imp", msg.aggregateID)[:30])
		m.logs[PathTTPImpersonation] = append(m.logs[PathTTPImpersonation], logRec{t: at, rec: map[string]any{
			"id": id, "senderAddress": msg.sender, "recipientAddress": msg.recipient, "subject": msg.subject,
			"definition": imp.definition, "hits": len(imp.identifiers),
			"identifiers": imp.identifiers, "action": imp.action,
			"taggedExternal": true, "taggedMalicious": imp.malicious, "senderIpAddress": msg.senderIP, "eventTime": formatAPI(at),
			"impersonationResults": []map[string]any{{
				"impersonationDomainSource": "internal_user_name", "similarDomain": msg.senderName + " <" + msg.sender + ">",
				"stringSimilarToDomain": msg.senderName, "checkerResult": "hit",
			}},
			"messageId": msg.messageID,
		}})
	case "av", verdictVirus:
		sha1sum, md5sum := sha1.Sum([]byte(msg.fileHash)), md5.Sum([]byte(msg.fileHash))
		rec := common("av", 2*time.Second, nil)
		for k, v := range map[string]any{
			"fileName": msg.attachment, "sha256": msg.fileHash, "sha1": hex.EncodeToString(sha1sum[:]),
			"md5": hex.EncodeToString(md5sum[:]), "fileExtension": msg.attachment[strings.LastIndex(msg.attachment, ".")+1:],
			"virusFound": s.virusName(msg), "senderDomain": strings.Split(msg.sender, "@")[1],
			"messageId": msg.messageID, "recipients": msg.recipient, "senderEnvelope": msg.sender, "route": direction,
			"subject": msg.subject,
		} {
			rec[k] = v
		}
		add("av", 0, rec)
	case "dlp":
		policy := pick(r, []string{"Confidential", "PCI - Card Numbers", "PII - National IDs"})
		if msg.policy != "" {
			policy = msg.policy
		}
		at := msg.t.Add(time.Second)
		for _, act := range []string{"notification", "hold"} {
			m.logs[PathDLP] = append(m.logs[PathDLP], logRec{t: at, rec: map[string]any{
				"senderAddress": msg.sender, "recipientAddress": msg.recipient, "subject": msg.subject,
				"eventTime": formatAPI(at), "route": msg.route, "policy": policy, "action": act, "messageId": msg.messageID,
			}})
		}
	}
}

// formatAPI is the /api functions' date style.
func formatAPI(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-0700") }

// heldRelease records an administrator releasing or rejecting a held message some minutes to hours later.
func (s *Sim) heldRelease(r *rand.Rand, m *mailHour, msg message) {
	op := &s.users[r.IntN(max(1, s.admins))]
	at := msg.t.Add(time.Duration(5*60+r.IntN(4*3600-10*60)) * time.Second)
	status, reason := "released", any(nil)
	if msg.verdict != "spam" || r.IntN(4) == 0 {
		status = "rejected"
		reason = pick(r, []string{"Message goes against email policies", "Message contains undesirable content", "Inappropriate communication"})
	}
	heldReason := map[string]string{"spam": "Default Spam Scanning Definition", "badattachment": "Attachment Protection - Sandbox",
		"impersonation": "High-Confidence Impersonation Protection", "av": "Anti-Virus"}[msg.verdict]
	id := "eNo" + base64.RawURLEncoding.EncodeToString(hashBytes(s.opts.Seed, "held", msg.aggregateID)[:30])
	decision := map[string]string{"spam": "spam"}[msg.verdict]
	if decision == "" {
		decision = "malicious"
	}
	rec := map[string]any{
		"id": id, "status": status, "heldReason": heldReason, "messageInfo": pick(r, []string{"Graymail", "Held by policy", "Suspicious content"}),
		"released": formatAPI(at), "operator": map[string]any{"emailAddress": op.email},
		"fromEnv": map[string]any{"emailAddress": msg.sender}, "fromHdr": map[string]any{"emailAddress": msg.sender, "displayableName": msg.senderName},
		"to": []map[string]any{{"emailAddress": msg.recipient}}, "subject": msg.subject, "attachments": msg.attachment != "",
		"route": msg.route, "size": 2000 + r.IntN(60000), "policy": heldReason, "spamScore": r.IntN(20),
		"detectionLevel": pick(r, []string{"relaxed", "moderate", "aggressive"}),
		"spamProcessingDetail": map[string]any{
			"rbl": map[string]any{"allow": true, "info": ""}, "greyEmail": false,
			"spf": map[string]any{"allow": true, "info": "allow"}, "dkim": map[string]any{"allow": true, "info": "unknown"},
			"dmarc":   map[string]any{"allow": true, "info": "allow"},
			"verdict": map[string]any{"decision": decision, "description": "", "risk": "medium"},
		},
	}
	if reason != nil {
		rec["rejectReason"] = reason
	}
	m.logs[PathHeldRelease] = append(m.logs[PathHeldRelease], logRec{t: at, rec: rec})
}

// archiveSearch records an administrator searching the archive.
func (s *Sim) archiveSearch(r *rand.Rand, m *mailHour, at time.Time) {
	op := &s.users[r.IntN(max(1, s.admins))]
	text := pick(r, []string{"", "[Route : outbound]", "invoice", "wire transfer", "payroll", s.users[r.IntN(len(s.users))].email})
	if len(m.msgs) > 0 && r.IntN(3) == 0 {
		text = m.msgs[r.IntN(len(m.msgs))].messageID
	}
	m.logs[PathArchiveSearch] = append(m.logs[PathArchiveSearch], logRec{t: at, rec: map[string]any{
		"createTime": formatAPI(at), "emailAddr": op.email, "source": "archive", "searchText": text,
		"searchReason": pick(r, []string{"", "", "Investigation", "Legal hold"}),
		"description":  pick(r, []string{"Message Tracking Search", "Threat Remediation search", "Audit [Page 1] - Depth 100"}),
	}})
}
