package schema

import (
	"encoding/json"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	const (
		cg  = `{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":1731499059314,"type":"av"}`
		dlp = `{"eventTime":"2021-10-15T20:41:25+0000","action":"hold","messageId":"<m@x>"}`
	)
	tests := []struct {
		name string
		tab  *Table
		raw  string
		want string
	}{
		{"cg bad JSON", &SegCg, `{"type":`, "invalid JSON"},
		{"cg not an object", &SegCg, `[1,2]`, "invalid JSON"},
		{"cg null", &SegCg, `null`, "invalid JSON: record is not a JSON object"},
		{"cg missing type", &SegCg, `{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":1}`, "missing type"},
		{"cg missing processingId", &SegCg, `{"accountId":"A","aggregateId":"g","timestamp":1,"type":"av"}`, "missing processingId"},
		{"cg empty accountId", &SegCg, `{"accountId":"","aggregateId":"g","processingId":"p","timestamp":1,"type":"av"}`, "missing accountId"},
		{"cg missing timestamp", &SegCg, `{"accountId":"A","aggregateId":"g","processingId":"p","type":"av"}`, "missing timestamp"},
		{"cg ISO timestamp", &SegCg, `{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":"2024-11-13T11:57:39Z","type":"av"}`, "timestamp: not epoch milliseconds"},
		{"cg negative timestamp", &SegCg, `{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":-5,"type":"av"}`, "timestamp: not epoch milliseconds"},
		{"cg bad offset", &SegCg, cg[:len(cg)-1] + `,"_offset":"abc"}`, "_offset: not a number"},
		{"ci missing ids", &CloudIntegrated, `{"timestamp":1,"type":"urlclick"}`, "missing all of processingId, aggregateId, messageId"},
		{"ci bad historicalMail", &CloudIntegrated, `{"timestamp":1,"type":"entities","processingId":"p","historicalMail":"maybe"}`, "historicalMail: not a boolean"},
		{"ci missing timestamp", &CloudIntegrated, `{"type":"entities","processingId":"p"}`, "missing timestamp"},
		{"dlp bad JSON", &SegDlp, `{"eventTime":`, "invalid JSON"},
		{"dlp missing action", &SegDlp, `{"eventTime":"2021-10-15T20:41:25+0000","messageId":"<m@x>"}`, "missing action"},
		{"dlp bad time", &SegDlp, `{"eventTime":"15/10/2021 20:41","action":"hold","messageId":"<m@x>"}`, "eventTime: unrecognised time"},
		{"dlp numeric time", &SegDlp, `{"eventTime":1634330485,"action":"hold","messageId":"<m@x>"}`, "eventTime: time is not a string"},
		{"dlp missing time", &SegDlp, `{"action":"hold","messageId":"<m@x>"}`, "missing eventTime"},
		{"dlp no message or recipient", &SegDlp, `{"eventTime":"2021-10-15T20:41:25+0000","action":"hold"}`, "missing all of messageId, recipientAddress"},
		{"url missing url", &TtpURL, `{"date":"2021-10-16T14:45:34+0000"}`, "missing url"},
		{"url bad date", &TtpURL, `{"date":"yesterday","url":"http://x"}`, "date: unrecognised time"},
		{"url bad tagMap", &TtpURL, `{"date":"2021-10-16T14:45:34+0000","url":"http://x","tagMap":["a"]}`, "tagMap: not an object of objects"},
		{"url bad advancedPhishingResult", &TtpURL, `{"date":"2021-10-16T14:45:34+0000","url":"http://x","advancedPhishingResult":"x"}`, "advancedPhishingResult: not an object"},
		{"attachment missing date", &TtpAttachment, `{"fileHash":"ab"}`, "missing date"},
		{"attachment no hash or message", &TtpAttachment, `{"date":"2021-10-14T18:54:32+0000"}`, "missing all of fileHash, messageId"},
		{"impersonation missing id", &TtpImpersonation, `{"eventTime":"2021-10-15T17:10:46+0000"}`, "missing id"},
		{"impersonation bad hits", &TtpImpersonation, `{"id":"M","eventTime":"2021-10-15T17:10:46+0000","hits":"many"}`, "hits: not a number"},
		{"impersonation bad identifiers", &TtpImpersonation, `{"id":"M","eventTime":"2021-10-15T17:10:46+0000","identifiers":[1,}`, "invalid JSON"},
		{"performance missing email", &AwarenessPerformance, `{"name":"Ann"}`, "missing email"},
		{"performance bad count", &AwarenessPerformance, `{"email":"a@x","numCorrect":true}`, "numCorrect: not a number"},
		{"safescore missing email", &AwarenessSafeScore, `{"email":"a@x"}`, "missing emailAddress"},
		{"watchlist bad JSON", &AwarenessWatchlist, `not json`, "invalid JSON"},
		{"user data missing campaign", &AwarenessUserData, `{"email":"a@x"}`, "missing campaignId"},
		{"user data bad time", &AwarenessUserData, `{"email":"a@x","campaignId":"c","timeClicked":"soon"}`, "timeClicked: unrecognised time"},
		{"release missing released", &MessageRelease, `{"id":"x","status":"released"}`, "missing released"},
		{"release missing status", &MessageRelease, `{"id":"x","released":"2015-11-25T14:49:18+00:00"}`, "missing status"},
		{"release bad operator", &MessageRelease, `{"id":"x","status":"released","released":"2015-11-25T14:49:18+00:00","operator":[1]}`, "operator: not an address"},
		{"archive missing createTime", &ArchiveSearch, `{"emailAddr":"a@x"}`, "missing createTime"},
		{"archive bad createTime", &ArchiveSearch, `{"emailAddr":"a@x","createTime":"2023-13-45"}`, "createTime: unrecognised time"},
		{"ti not an indicator", &ThreatIntel, `{"type":"malware","id":"malware--1"}`, `STIX object type "malware" is not an indicator`},
		{"ti bundle", &ThreatIntel, `{"type":"bundle","id":"bundle--1","objects":[]}`, `STIX object type "bundle" is not an indicator`},
		{"ti no feed", &ThreatIntel, `{"type":"indicator","id":"indicator--1","pattern":"[url:value = 'http://x']","created":"2021-10-29T15:07:26.653Z"}`, "missing feedType"},
		{"ti unknown feed", &ThreatIntel, `{"type":"indicator","id":"indicator--1","feedType":"phish","pattern":"[url:value = 'http://x']","created":"2021-10-29T15:07:26.653Z"}`, `feedType: unknown feed "phish"`},
		{"ti missing pattern", &ThreatIntel, `{"type":"indicator","id":"indicator--1","feedType":"malware_grid","created":"2021-10-29T15:07:26.653Z"}`, "missing pattern"},
		{"ti compound pattern", &ThreatIntel, `{"type":"indicator","id":"indicator--1","feedType":"malware_grid","pattern":"[url:value = 'a'] OR [url:value = 'b']","created":"2021-10-29T15:07:26.653Z"}`, "pattern: unsupported STIX pattern"},
		{"ti missing id", &ThreatIntel, `{"type":"indicator","feedType":"malware_grid","pattern":"[url:value = 'http://x']","created":"2021-10-29T15:07:26.653Z"}`, "missing id"},
		{"ti missing times", &ThreatIntel, `{"type":"indicator","id":"indicator--1","feedType":"malware_grid","pattern":"[url:value = 'http://x']"}`, "missing firstSeen"},
		{"ti bad time", &ThreatIntel, `{"type":"indicator","id":"indicator--1","feedType":"malware_grid","pattern":"[url:value = 'http://x']","created":"29 Oct 2021"}`, "firstSeen: unrecognised time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row, err := tc.tab.Decode("acme", json.RawMessage(tc.raw), testIngested)
			if row != nil {
				t.Errorf("rejected record returned a row: %v", row)
			}
			wantDecodeError(t, tc.tab, err, tc.want)
		})
	}
	// The positive twins of the fixtures above decode.
	for _, tc := range []struct {
		tab *Table
		raw string
	}{{&SegCg, cg}, {&SegDlp, dlp}} {
		if _, err := tc.tab.Decode("acme", json.RawMessage(tc.raw), testIngested); err != nil {
			t.Errorf("%s: valid record rejected: %v", tc.tab.Name, err)
		}
	}
}
