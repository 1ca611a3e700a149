package sim

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Verdicts of messages the gateway refuses at receipt: no process, delivery or TTP records follow.
const (
	verdictReject     = "reject"      // envelope rejection (reputation, blocked sender)
	verdictSpamReject = "spam-reject" // content rejected as spam
	verdictVirus      = "virus"       // content rejected for a virus signature
	verdictImpTag     = "imp-tag"     // one impersonation indicator: tagged and delivered, not held
)

// rejected reports whether the gateway refused the message at receipt.
func (m *message) rejected() bool {
	return m.verdict == verdictReject || m.verdict == verdictSpamReject || m.verdict == verdictVirus
}

// rejection is why a receipt or a delivery failed: rejectionType, rejectionCode and rejectionInfo.
type rejection struct{ typ, code, info string }

// envelopeRejections are refusals before the message content arrives (no message id or subject).
var envelopeRejections = []rejection{
	{"IP Found in RBL", "550", "csi.mimecast.org Poor Reputation Sender."},
	{"Manual Envelope Rejection", "550", "Envelope blocked - User Entry"},
}

// Content rejections: spam and virus signatures (the type names the workbooks filter on).
var (
	spamRejection  = rejection{"Spam Signature Detection", "550", "Message rejected as spam"}
	virusRejection = rejection{"Virus Signature Detection", "554", "Message contains a virus"}
)

// spamInfos are the spam scanners' findings of a message rejected as spam (receipt spamInfo).
var spamInfos = []string{`["Spam Signature","Bulk Mail"]`, `["Sender Reputation"]`, `["Spam Signature"]`}

// deliveryFailures are the remote servers' refusals of a delivery, with the SMTP reply kept as deliveryErrors.
var deliveryFailures = []struct {
	rejection
	err string
}{
	{rejection{"Recipient email address is possibly incorrect", "550", "5.4.1 Recipient address rejected: Access denied."},
		"550 5.4.1 Recipient address rejected: Access denied."},
	{rejection{"Recipient email address is possibly incorrect", "550", "5.1.1 User unknown"},
		"550 5.1.1 <%s>: Recipient address rejected: User unknown"},
}

// deliveryFailOdds is one in how many deliveries of each route the remote server refuses (internal: never).
var deliveryFailOdds = map[string]int{"inbound": 500, "outbound": 80}

// noTLSDomains are small external domains whose mail servers do not use TLS; one in plainDomainOdds external
// messages is exchanged with them.
var noTLSDomains = []string{"printshop.example", "oldmail-host.example"}

// plainDomainOdds is one in how many external correspondents is at a domain of noTLSDomains.
const plainDomainOdds = 40

// tlsOf is how the mail servers of domain talk to the gateway: TLS version and cipher, or nils without TLS.
// Public providers and the tenant's own servers use TLS 1.3; the other domains keep one version each.
func (s *Sim) tlsOf(domain string) (version, cipher any) {
	switch {
	case slices.Contains(noTLSDomains, domain):
		return nil, nil
	case domain != s.opts.Domain && !slices.Contains(personalDomains, domain) && unitFloat(s.opts.Seed, "tls:"+domain, 0) < 0.4:
		return "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
	default:
		return "TLSv1.3", "TLS_AES_256_GCM_SHA384"
	}
}

// mailServerIP is the address of an external domain's mail server: fixed per domain and seed, from the same
// public ranges inbound senders come from, so outbound deliveries spread over the countries GeoIP gives them.
func (s *Sim) mailServerIP(domain string) string {
	return publicIP(rngFor(s.opts.Seed, "mx:"+domain, 0))
}

// domainOf is the part of an address after the @.
func domainOf(addr string) string { return addr[strings.LastIndex(addr, "@")+1:] }

// receiptFields are the receipt event's fields of msg (besides the common ones).
func (s *Sim) receiptFields(r *rand.Rand, msg message, action, direction, nAtt string) map[string]any {
	version, cipher := s.tlsOf(domainOf(msg.sender))
	rec := map[string]any{
		"action": action, "direction": direction, "messageId": msg.messageID, "numberAttachments": nAtt,
		"recipients": msg.recipient, "rejectionCode": nil, "rejectionInfo": nil, "rejectionType": nil,
		"senderEnvelope": msg.sender, "senderHeader": msg.sender, "senderIp": msg.senderIP,
		"spamDetectionLevel": nil, "spamInfo": "[]", "spamScore": strconv.Itoa(r.IntN(30)), "subject": msg.subject,
		"spamProcessingDetail": `{"spf":{"allow":true,"info":"ALLOW"},"dkim":{"allow":true,"info":"ALLOW"},"dmarc":{"allow":true,"info":"ALLOW"}}`,
		"tlsCipher":            cipher, "tlsVersion": version, "virusFound": nil,
	}
	if !msg.rejected() {
		rec["receiptErrors"] = nil
		return rec
	}
	var rej rejection
	switch msg.verdict {
	case verdictReject:
		rej = pick(r, envelopeRejections)
		rec["messageId"], rec["subject"], rec["senderHeader"], rec["numberAttachments"] = nil, nil, nil, "0"
		rec["spamInfo"], rec["spamScore"] = nil, nil
		rec["spamProcessingDetail"] = `{"spf":{"allow":true,"info":"ALLOW"}}`
	case verdictSpamReject:
		rej = spamRejection
		rec["spamInfo"], rec["spamScore"] = pick(r, spamInfos), strconv.Itoa(40+r.IntN(60))
	default:
		rej = virusRejection
		rec["virusFound"] = s.virusName(msg)
	}
	rec["rejectionType"], rec["rejectionCode"], rec["rejectionInfo"] = rej.typ, rej.code, rej.info
	return rec
}

// virusName is the anti-virus signature a message's attachment matched (the same in its receipt and av events).
func (s *Sim) virusName(msg message) string {
	r := rngFor(s.opts.Seed, "virus:"+msg.aggregateID, 0)
	return pick(r, []string{"Trojan.Generic.", "Win.Malware.Agent-", "Doc.Downloader.Emotet-"}) + strconv.Itoa(100000+r.IntN(900000))
}

// deliveryFields are the delivery event's fields of msg (besides the common ones): delivered over TLS when the
// receiving side uses it (internal hand-offs do not), now and then refused by the remote server.
func (s *Sim) deliveryFields(r *rand.Rand, msg message, direction, nAtt, size, attSize string) map[string]any {
	version, cipher := s.tlsOf(domainOf(msg.recipient))
	if msg.route == "internal" {
		version, cipher = nil, nil
	}
	tlsUsed := "Yes"
	if version == nil {
		tlsUsed = "No"
	}
	// Inbound and internal mail is handed to the tenant's own servers; outbound mail to the recipient domain's.
	dest := s.hq
	if msg.route == "outbound" {
		dest = s.mailServerIP(domainOf(msg.recipient))
	}
	rec := map[string]any{
		"Hostname": "mx." + domainOf(msg.recipient), "delivered": "true", "deliveryAttempts": "1",
		"deliveryErrors": nil, "deliveryTime": strconv.Itoa(1000 + r.IntN(20000)), "destinationIp": dest,
		"direction": direction, "emailSize": size, "messageId": msg.messageID, "numberAttachments": nAtt,
		"recipients": msg.recipient, "rejectionCode": nil, "rejectionInfo": nil, "rejectionType": nil,
		"route": direction, "senderEnvelope": msg.sender, "subject": msg.subject, "tlsCipher": cipher, "tlsUsed": tlsUsed,
		"tlsVersion": version, "totalSizeAttachments": attSize,
	}
	if odds := deliveryFailOdds[msg.route]; odds > 0 && !msg.story && r.IntN(odds) == 0 {
		f := pick(r, deliveryFailures)
		rec["delivered"], rec["deliveryAttempts"] = "false", strconv.Itoa(1+r.IntN(3))
		rec["rejectionType"], rec["rejectionCode"], rec["rejectionInfo"] = f.typ, f.code, f.info
		rec["deliveryErrors"] = f.err
		if strings.Contains(f.err, "%s") {
			rec["deliveryErrors"] = strings.Replace(f.err, "%s", msg.recipient, 1)
		}
	}
	return rec
}

// impersonationVerdict is what Impersonation Protect decided: the indicators that hit and the definition's action.
type impersonationVerdict struct {
	definition, action string
	identifiers        []string
	hold, malicious    bool
}

// The two impersonation outcomes: a held message with two indicators, and a tagged one with a single indicator
// (tagged malicious or not, by the definition).
var (
	impersonationHold = impersonationVerdict{"Impersonation Protect - Hold", "hold",
		[]string{"internal_user_name", "newly_observed_domain"}, true, true}
	impersonationTag = impersonationVerdict{"IP - 1 hit (Tag email)", "none", []string{"internal_user_name"}, false, true}
)
