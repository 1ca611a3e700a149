package schema

import (
	"encoding/json"
	"fmt"
)

var messageRelease = recordTable{
	name: "Message_Release_CL",
	cols: []Column{
		{"id", String}, {"status", String}, {"released", DateTime}, {"operator", String}, {"fromEnv", String},
		{"fromHdr", String}, {"to", Dynamic}, {"subject", String}, {"route", String}, {"heldReason", String},
		{"heldGroup", String}, {"policy", String}, {"rejectReason", String}, {"messageInfo", String},
		{"attachments", Bool}, {"size", Real}, {"spamScore", Real}, {"detectionLevel", String},
		{"spamProcessingDetail", String},
	},
	required:  []string{"id", "status", "released"},
	key:       []string{"id", "status", "released", "route"},
	eventTime: "released",
	prepare:   prepareMessageRelease,
}

// MessageRelease is Message_Release_CL (castwatch addition): held messages released or rejected by an operator,
// from POST /api/gateway/get-held-release-logs (records in data[0].heldReleaseLogs). operator, fromEnv and fromHdr
// hold the e-mail address (the API sends either the address or an {emailAddress, displayableName} object); to
// holds the JSON array of recipient addresses.
var MessageRelease = messageRelease.table()

func prepareMessageRelease(m fieldMap) error {
	for _, f := range []string{"operator", "fromEnv", "fromHdr"} {
		addr, err := addressOf(m[f])
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if addr != "" {
			setString(m, f, addr)
		}
	}
	if v := m["to"]; !isNull(v) {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			// A single recipient may come as one value rather than a list.
			list = []json.RawMessage{v}
		}
		addrs := make([]string, 0, len(list))
		for _, item := range list {
			a, err := addressOf(item)
			if err != nil {
				return fmt.Errorf("to: %w", err)
			}
			if a != "" {
				addrs = append(addrs, a)
			}
		}
		b, _ := json.Marshal(addrs)
		m["to"] = b
	}
	return nil
}

// addressOf reads an address given as a string or as an object with emailAddress; null gives "".
func addressOf(v json.RawMessage) (string, error) {
	if isNull(v) {
		return "", nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var o struct {
		EmailAddress string `json:"emailAddress"`
	}
	if err := json.Unmarshal(v, &o); err != nil {
		return "", fmt.Errorf("not an address: %s", stringOf(v))
	}
	return o.EmailAddress, nil
}
