package detect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/normalize"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

// corpusFiles are the recorded NDJSON files per table the built-in rules read.
var corpusFiles = map[string]string{
	"Audit_CL":             "audit_events/test-audit-events.log",
	"Seg_Cg_CL":            "siem_logs/test-siem-v2-logs.log",
	"Seg_Dlp_CL":           "dlp_logs/test-dlp-logs.log",
	"Ttp_Url_CL":           "ttp_url_logs/test-ttp-url-logs.log",
	"Ttp_Attachment_CL":    "ttp_ap_logs/test-ttp-ap-logs.log",
	"Ttp_Impersonation_CL": "ttp_ip_logs/test-ttp-ip-logs.log",
}

// corpusEvents decodes and normalizes every record of the corpus files, as the collector and normalizer do.
func corpusEvents(t *testing.T) []schema.Event {
	t.Helper()
	dir := testutil.CorpusDir(t)
	ingested := time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
	var out []schema.Event
	for table, file := range corpusFiles {
		tab := schema.TableByName(table)
		mapper, ok := normalize.For(table)
		if tab == nil || !ok {
			t.Fatalf("no table or mapping for %s", table)
		}
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var probe map[string]json.RawMessage
			if json.Unmarshal(line, &probe) == nil && probe["meta"] != nil && probe["data"] != nil {
				continue // the empty last API page of the recording
			}
			row, err := tab.Decode("acme", append(json.RawMessage(nil), line...), ingested)
			var de *schema.DecodeError
			if errors.As(err, &de) {
				continue // a record the table refuses; normalize's tests cover them
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			evs, err := mapper(row)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			out = append(out, evs...)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// messageKey is the per-message dedup key the ported AlertPerResult rules use.
func messageKey(e *schema.Event) string {
	switch {
	case e.MessageID != "":
		return "m:" + e.MessageID
	case e.AlertID != "":
		return "a:" + e.AlertID
	}
	return "e:" + e.ID
}

func fieldStr(e *schema.Event, k string) string {
	v, _ := e.Fields[k].(string)
	return v
}

// TestBuiltinRulesOnCorpus runs the real Mimecast records through decode, normalize and every built-in rule,
// and checks each ported Sentinel rule against its KQL condition restated here in Go: the events it matches,
// and one alert per message (SEG and TTP rules).
func TestBuiltinRulesOnCorpus(t *testing.T) {
	rules, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	evs := corpusEvents(t)
	if len(evs) < 100 {
		t.Fatalf("only %d corpus events", len(evs))
	}
	eng := New(rules, Options{Clock: fixedClock(evs[len(evs)-1].Time.Add(time.Hour)), Lateness: 24 * 365 * 10 * time.Hour})
	res, err := eng.Evaluate(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string][]schema.Alert{}
	for _, a := range res.Alerts {
		byRule[a.RuleID] = append(byRule[a.RuleID], a)
	}
	cg := func(logtype string) func(e *schema.Event) bool {
		return func(e *schema.Event) bool {
			return e.Table == "Seg_Cg_CL" && e.EventType == schema.EventSecurityAlert && e.Activity == logtype
		}
	}
	cases := []struct {
		name       string
		id         string
		match      func(e *schema.Event) bool
		perMessage bool
		atLeast    int // events the corpus is known to hold for the rule
	}{
		{"DLP hold", "8e52bcf1-4f50-4c39-8678-d9efad64e379",
			func(e *schema.Event) bool { return e.Table == "Seg_Dlp_CL" && strings.EqualFold(e.Action, "hold") }, false, 9},
		{"DLP notification", "cfd67598-ad0d-430a-a793-027eb4dbe967",
			func(e *schema.Event) bool {
				return e.Table == "Seg_Dlp_CL" && strings.EqualFold(e.Action, "notification")
			}, false, 6},
		{"SEG AV", "33bf0cc9-e568-42bf-9571-c22adf7be66d", cg("email_antivirus"), true, 0},
		{"SEG attachment protect", "72bd7b0c-493c-4fa5-8a95-7f6376b6cfb2", cg("email_ttp_ap"), true, 10},
		{"SEG impersonation protect", "2ef77cef-439f-4d94-848f-3eca67510d2f", cg("email_ttp_impersonation"), true, 0},
		{"SEG internal email protect", "d3bd7640-3600-49f9-8d10-6fe312e68b4f", cg("email_iep"), true, 1},
		{"SEG spam", "0cda82c8-e8f0-4117-896e-a10f1b43e64a", cg("email_spam"), true, 11},
		{"SEG URL protect", "80f244cd-b0d6-404e-9aed-37f7a66eda9f", cg("email_ttp_url"), true, 0},
		{"SEG virus", "d78d7352-fa5a-47d4-b48f-cb2c3252c0eb", func(e *schema.Event) bool {
			return e.Table == "Seg_Cg_CL" && e.Activity == "email_receipt" && fieldStr(e, "virusFound") != ""
		}, true, 0},
		{"TTP attachment protect", "617a55be-a8d8-49c1-8687-d19a0231056f", func(e *schema.Event) bool {
			return e.Table == "Ttp_Attachment_CL" && fieldStr(e, "result") != "safe"
		}, true, 0},
		{"TTP impersonation protect", "c048fa06-0d50-4626-ae82-a6cea812d9c4", func(e *schema.Event) bool {
			return e.Table == "Ttp_Impersonation_CL" && e.Fields["taggedMalicious"] == true
		}, true, 3},
		{"TTP URL protect", "952faed4-c6a6-4873-aeb9-b348e9ce5aba", func(e *schema.Event) bool {
			return e.Table == "Ttp_Url_CL" && e.EventType == schema.EventSecurityAlert &&
				fieldStr(e, "scanResult") == "malicious" && e.Action != "allow"
		}, true, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := map[string]bool{}
			keys := map[string]bool{}
			for i := range evs {
				if c.match(&evs[i]) {
					want[evs[i].ID] = true
					keys[evs[i].Tenant+"\x00"+messageKey(&evs[i])] = true
				}
			}
			if len(want) < c.atLeast {
				t.Fatalf("the corpus gives %d matching events, want at least %d", len(want), c.atLeast)
			}
			got := map[string]bool{}
			for _, a := range byRule[c.id] {
				for _, id := range a.EventIDs {
					if got[id] {
						t.Errorf("event %s is in two alerts", id)
					}
					got[id] = true
				}
			}
			for id := range want {
				if !got[id] {
					t.Errorf("event %s matches the KQL condition but is in no alert", id)
				}
			}
			for id := range got {
				if !want[id] {
					t.Errorf("event %s is in an alert but does not match the KQL condition", id)
				}
			}
			if c.perMessage && len(byRule[c.id]) != len(keys) {
				t.Errorf("%d alerts for %d messages", len(byRule[c.id]), len(keys))
			}
		})
	}
}

// TestSigmaColumnsCoverPromotedColumns keeps sigmaColumns in step with normalize: every source column that a
// corpus record fills and the normalized event does not keep in Fields (it was promoted to a typed field) must
// be mapped, or a Sigma rule naming it would read an always-empty fields.<column>.
func TestSigmaColumnsCoverPromotedColumns(t *testing.T) {
	dir := testutil.CorpusDir(t)
	// Columns that only make up the event id.
	idOnly := map[string]bool{"Audit_CL/id": true}
	for table, file := range corpusFiles {
		t.Run(table, func(t *testing.T) {
			tab := schema.TableByName(table)
			mapper, _ := normalize.For(table)
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, line := range bytes.Split(b, []byte("\n")) {
				line = bytes.TrimSpace(line)
				if len(line) == 0 {
					continue
				}
				row, err := tab.Decode("acme", json.RawMessage(line), time.Now())
				if err != nil {
					continue
				}
				evs, err := mapper(row)
				if err != nil || len(evs) == 0 {
					continue
				}
				checked++
				for i, c := range tab.Columns[2:] {
					v := row[i+2]
					if v == nil || v == "" || c.Name == tab.EventTime || idOnly[table+"/"+c.Name] {
						continue
					}
					if _, kept := evs[0].Fields[c.Name]; kept {
						if _, mapped := sigmaColumns[table][c.Name]; mapped {
							t.Errorf("column %s is kept in Fields but sigmaColumns maps it to %s", c.Name, sigmaColumns[table][c.Name])
						}
						continue
					}
					if _, mapped := sigmaColumns[table][c.Name]; !mapped {
						t.Errorf("column %s is promoted by normalize but not in sigmaColumns", c.Name)
					}
				}
			}
			if checked == 0 {
				t.Fatal("no record checked")
			}
		})
	}
}
