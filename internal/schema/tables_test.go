package schema

import "testing"

func TestTablesShape(t *testing.T) {
	want := []string{"Audit_CL", "Seg_Cg_CL", "Seg_Dlp_CL", "Cloud_Integrated_CL", "Ttp_Url_CL", "Ttp_Attachment_CL",
		"Ttp_Impersonation_CL", "Awareness_Performance_Details_CL", "Awareness_SafeScore_Details_CL",
		"Awareness_Watchlist_Details_CL", "Awareness_User_Data_CL", "Message_Release_CL", "Archive_Search_CL",
		"Threat_Intel_CL", "Raw_Event_CL"}
	tables := Tables()
	if len(tables) != len(want) {
		t.Fatalf("Tables() has %d tables, want %d", len(tables), len(want))
	}
	for i, name := range want {
		tab := tables[i]
		t.Run(name, func(t *testing.T) {
			if tab.Name != name {
				t.Fatalf("Tables()[%d] = %s, want %s", i, tab.Name, name)
			}
			if TableByName(name) != tab {
				t.Errorf("TableByName(%s) does not return the registered table", name)
			}
			if len(tab.Columns) < 3 || tab.Columns[0] != (Column{"tenant", String}) ||
				tab.Columns[1] != (Column{"TimeGenerated", DateTime}) {
				t.Errorf("columns must start with tenant string, TimeGenerated datetime: %v", tab.Columns[:2])
			}
			seen := map[string]bool{}
			for _, c := range tab.Columns {
				if seen[c.Name] {
					t.Errorf("duplicate column %s", c.Name)
				}
				seen[c.Name] = true
				switch c.Type {
				case String, DateTime, Real, Bool, Dynamic:
				default:
					t.Errorf("column %s has unknown type %q", c.Name, c.Type)
				}
			}
			if len(tab.Key) < 2 || tab.Key[0] != "tenant" {
				t.Errorf("key %v must start with tenant and name at least one more column", tab.Key)
			}
			keySeen := map[string]bool{}
			for _, k := range tab.Key {
				if !seen[k] {
					t.Errorf("key column %s is not a column", k)
				}
				if keySeen[k] {
					t.Errorf("key column %s listed twice", k)
				}
				keySeen[k] = true
			}
			i := tab.ColumnIndex(tab.EventTime)
			if i < 0 {
				t.Fatalf("event time %q is not a column", tab.EventTime)
			}
			if ty := tab.Columns[i].Type; ty != DateTime && ty != Real {
				t.Errorf("event time column %s has type %s, want datetime or real (epoch ms)", tab.EventTime, ty)
			}
			if tab.Decode == nil {
				t.Error("no Decode")
			}
			src, ok := SourceOf(name)
			if !ok || src.Endpoint == "" {
				t.Errorf("SourceOf(%s) missing", name)
			}
			if (src.Format == FormatDataList) != (RecordListKey(name) != "") {
				t.Errorf("format %s with list key %q", src.Format, RecordListKey(name))
			}
		})
	}
	if TableByName("Nope_CL") != nil {
		t.Error("TableByName of an unknown table is not nil")
	}
}

// Non-string key columns can only be non-nil if decoding requires the field: every such column must be required.
func TestRecordTablesRequireNonStringKeys(t *testing.T) {
	for _, s := range []*recordTable{&segCg, &cloudIntegrated, &segDlp, &ttpURL, &ttpAttachment, &ttpImpersonation,
		&awarenessPerformance, &awarenessSafeScore, &awarenessWatchlist, &awarenessUserData, &messageRelease,
		&archiveSearch, &threatIntel} {
		t.Run(s.name, func(t *testing.T) {
			types := map[string]ColumnType{}
			for _, c := range s.cols {
				types[c.Name] = c.Type
			}
			for _, k := range s.key {
				ty, ok := types[k]
				if !ok {
					t.Fatalf("key %s is not a column", k)
				}
				if ty == String {
					continue
				}
				field := k
				if f, ok := s.source[k]; ok {
					field = f
				}
				if !contains(s.required, field) {
					t.Errorf("non-string key column %s (field %s) is not required", k, field)
				}
			}
		})
	}
}

func TestSentinelColumnCounts(t *testing.T) {
	// Sentinel column counts from the 3.1.0 schemas, TimeGenerated included; castwatch adds tenant (and, for
	// Awareness_User_Data_CL, campaignId).
	tests := []struct {
		tab  *Table
		want int
	}{
		{&SegCg, 59 + 1},
		{&CloudIntegrated, 24 + 1},
		{&SegDlp, 9 + 1},
		{&TtpURL, 43 + 1},
		{&TtpAttachment, 14 + 1},
		{&TtpImpersonation, 15 + 1},
		{&AwarenessPerformance, 10 + 1},
		{&AwarenessSafeScore, 10 + 1},
		{&AwarenessWatchlist, 7 + 1},
		{&AwarenessUserData, 23 + 2},
	}
	for _, tc := range tests {
		t.Run(tc.tab.Name, func(t *testing.T) {
			if got := len(tc.tab.Columns); got != tc.want {
				t.Errorf("%d columns, want %d", got, tc.want)
			}
		})
	}
}

func TestSentinelColumnTypes(t *testing.T) {
	tests := []struct {
		tab  *Table
		col  string
		want ColumnType
	}{
		{&SegCg, "timestamp", Real},
		{&SegCg, "offset", Real},
		{&SegCg, "partition", Real},
		{&SegCg, "Logtype", String},
		{&SegCg, "Hostname", String},
		{&SegCg, "taggedExternal", String},
		{&CloudIntegrated, "type_", String},
		{&CloudIntegrated, "historicalMail", Bool},
		{&CloudIntegrated, "timestamp", Real},
		{&SegDlp, "eventTime", DateTime},
		{&TtpImpersonation, "hits", Real},
		{&TtpImpersonation, "identifiers", Dynamic},
		{&TtpImpersonation, "taggedMalicious", Bool},
		{&TtpImpersonation, "impersonationResults", String},
		{&TtpURL, "actions", Dynamic},
		{&TtpURL, "emailPartsDescription", Dynamic},
		{&TtpURL, "Category", String},
		{&AwarenessPerformance, "userDetails", Dynamic},
		{&AwarenessPerformance, "numCorrect", Real},
		{&AwarenessUserData, "timeReported", DateTime},
		{&AwarenessUserData, "reactionTime", Real},
		{&AwarenessWatchlist, "watchlistCount", Real},
		{&AwarenessSafeScore, "knowledge", String},
	}
	for _, tc := range tests {
		t.Run(tc.tab.Name+"."+tc.col, func(t *testing.T) {
			i := tc.tab.ColumnIndex(tc.col)
			if i < 0 {
				t.Fatalf("no column %s", tc.col)
			}
			if got := tc.tab.Columns[i].Type; got != tc.want {
				t.Errorf("type %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLogtype(t *testing.T) {
	tests := map[string]string{
		"av":                     "email_antivirus",
		"delivery":               "email_delivery",
		"internal email protect": "email_iep",
		"impersonation protect":  "email_ttp_impersonation",
		"journal":                "email_journal",
		"process":                "email_process",
		"receipt":                "email_receipt",
		"attachment protect":     "email_ttp_ap",
		"spam":                   "email_spam",
		"url protect":            "email_ttp_url",
		"dlp":                    "dlp",
		"brand new type":         "brand new type",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := Logtype(in); got != want {
				t.Errorf("Logtype(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestIsSnapshot(t *testing.T) {
	for _, tab := range Tables() {
		want := tab.Name == "Awareness_Performance_Details_CL" || tab.Name == "Awareness_SafeScore_Details_CL" ||
			tab.Name == "Awareness_Watchlist_Details_CL" || tab.Name == "Awareness_User_Data_CL"
		if got := IsSnapshot(tab.Name); got != want {
			t.Errorf("IsSnapshot(%s) = %v, want %v", tab.Name, got, want)
		}
		if want && tab.EventTime != "TimeGenerated" {
			t.Errorf("snapshot table %s has event time %s, want TimeGenerated", tab.Name, tab.EventTime)
		}
	}
}
