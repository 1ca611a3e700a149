package duckdb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/testutil"
)

// wantViewColumns are the output columns of the Sentinel parsers (spec sentinel-solution §3), after tenant.
var wantViewColumns = map[string][]string{
	"MimecastAudit": {"Time Generated", "Source IP", "Application", "Category", "Audit Type", "User", "Event Info",
		"Event Time", "Id"},
	"AwarenessPerformanceDetails": {"Email", "Name", "Num of Correct", "Num of Incorrect", "Num of Not Watched",
		"User Details", "User State", "Department"},
	"AwarenessSafeScore": {"Email Address", "Name", "Risk", "Human Error", "Sentiment", "Engagement", "Knowledge",
		"User State", "Department"},
	"AwarenessUserData": {"Time Reported", "Name", "Email", "Template Name", "Status", "Num of Campaigns Clicked",
		"Num of Campaigns Sent", "Num of Correct Answers", "Num of Training Modules Assigned",
		"Num of Incorrect Answers", "User State", "Clicked IP", "Reaction Time", "Time Opened", "Department",
		"Time Scheduled", "Time Clicked", "Num of Campaigns Scanned", "Num of Campaigns Clicked Scanned",
		"Time Scanned", "Time Submitted", "Items"},
	"AwarenessWatchlist": {"Time Generated", "Email", "Name", "Watchlist Count", "User State", "Department"},
	"MimecastCloudIntegrated": {"Event Time", "Time Generated", "Account ID", "Aggregate ID", "Processing ID",
		"Message ID", "Attachments", "Recipients", "Tags", "Policies Applied", "Historical Mail", "Sender IP",
		"Sender Envelope", "Subject", "Source", "Threat State", "Threat Type", "Direction", "Sender Header", "Type",
		"Subtype"},
	"MimecastCG": {"Time Generated", "Url Category", "Scan Results", "File Name", "Sha256", "File Extension",
		"Virus Found", "Sha1", "Sender Domain", "Md5", "Custom Threat Dictionary", "Items Detected",
		"Similar Custom External Domain", "Tagged External", "Similar Internal Domain", "New Domain",
		"Internal User Name", "Mimecast Threat Dictionary", "Similar Mimecast External Domain", "Custom Name Match",
		"Tagged Malicious", "Reply Mismatch", "Aggregate ID", "Rejection Type", "Rejection Code", "Rejection Info",
		"Delivered", "Destination IP", "Host Name", "Delivery Attempts", "TLS Used", "Delivery Errors",
		"Attachments", "Route", "Processing ID", "Account ID", "Action", "Event Time", "Sender Envelope",
		"Message ID", "Subject", "Total of Size Attachments", "Number of Attachments", "Email Size", "Type",
		"Sub Type", "Monitored Domain Source", "Similar Domain", "Offset", "Partition", "Hold Reason", "Recipients",
		"Sender IP", "Direction", "Sender Header", "TLS Version", "TLS Cipher", "Spam Info",
		"Spam Processing Detail"},
	"MimecastDLP": {"Sender Address", "Recipient Address", "Subject", "Event Time", "Route", "Policy", "Action",
		"Message ID", "Time Generated"},
	"MimecastTTPAttachment": {"Time Generated", "Type", "Mimecast Event ID", "Mimecast Event Category",
		"Action Triggered", "Event Time", "Definition", "Details", "File Hash", "File Name", "File Type",
		"Message ID", "Recipient Address", "Result", "Route", "Sender Address", "Subject"},
	"MimecastTTPImpersonation": {"Time Generated", "Type", "Mimecast Event ID", "Mimecast Event Category", "Action",
		"Definition", "Event Time", "Hits", "ID", "Identifiers", "Impersonation Results", "Message ID",
		"Recipient Address", "Sender Address", "Sender IP Address", "Subject", "Tagged External", "Tagged Malicious"},
	// The parser's project order. "Mimecast Event Id" is "Mimecast Event Id_" because DuckDB column names are
	// case-insensitive and "Mimecast Event ID" exists (see views.go).
	"MimecastTTPUrl": {"Category", "Time Generated", "Mimecast Event ID", "Mimecast Event Category",
		"User Email Address", "From User Email Address", "Url", "Ttp Definition", "Subject", "Action",
		"Admin Override", "User Override", "Scan Result", "Sending IP", "User Awareness Action", "Event Time",
		"Actions", "Route", "Creation Method", "Email Parts Description", "Message ID",
		"Tag Map Dangerous File Ext Content Check Dangerous Mimetypes Url File Download",
		"Tag Map Dangerous File Ext Content Check Dangerous Exts Url File Download",
		"Tag Map Advanced Phishing Credential Theft Evidence", "Tag Map Advanced Phishing Credential Theft Tags",
		"Advanced Phishing Result Credential Theft Brands", "Advanced Phishing Result Credential Theft Evidence",
		"Advanced Phishing Result Credential Theft Tags", "Tag Map Url Reputation Scan Type",
		"Tag Map Url Reputation Scan Url", "Tag Map Dangerous File Ext Inspect File Exts",
		"Tag Map Dangerous File Ext Inspect Mime Types", "Tag Map Dangerous File Ext Content Check Content Scanners Blocked",
		"Tag Map Url Reputation Scan Url Block", "Tag Map Customer Managed Urls Managed Url Entry",
		"Tag Map Customer Managed Urls Blocklisted", "Tag Map Av Scanning Content Check Av Signature Name",
		"Tag Map Av Scanning Scanner Info Category Trigger", "Tag Map Av Scanning Content Check Av Signature File Exts",
		"Tag Map Av Scanning Content Check Url File Download Filename", "Type", "Tag Map Dangerous File Ext Status",
		"Tag Map Url Reputation Scan Status", "Tag Map ContentCheck Dangerous Mimetypes Url File Download",
		"Tag Map ContentCheck Dangerous Exts Url File Download", "Mimecast Event Id_", "Mimecast Event Category_",
		"Tag Map Customer Managed Urls Status"},
}

// ingestedAt is the TimeGenerated of rows the view tests load.
var ingestedAt = time.Date(2026, 4, 2, 8, 30, 0, 0, time.UTC)

// openStore opens an in-memory store with every schema table.
func openStore(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), "", Options{Now: fixedClock})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// viewNames lists the views of the store's main schema.
func viewNames(t *testing.T, d *DB) []string {
	t.Helper()
	// The Sentinel views; the rollups' views over their pending rows (rollup_pending_*) are the store's own.
	res := query(t, d, `SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'
		AND NOT starts_with(view_name, 'rollup_') ORDER BY view_name`)
	var names []string
	for _, r := range res.Rows {
		names = append(names, r[0].(string))
	}
	return names
}

// query runs a read-only statement through DB.Query, failing the test on error.
func query(t *testing.T, d *DB, sql string, args ...any) *store.Result {
	t.Helper()
	res, err := d.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

// rowMaps returns the result rows as column→value maps.
func rowMaps(res *store.Result) []map[string]any {
	out := make([]map[string]any, len(res.Rows))
	for i, r := range res.Rows {
		m := make(map[string]any, len(r))
		for j, c := range res.Columns {
			m[c] = r[j]
		}
		out[i] = m
	}
	return out
}

// only returns the single row of res, failing unless there is exactly one.
func only(t *testing.T, res *store.Result) map[string]any {
	t.Helper()
	if len(res.Rows) != 1 {
		t.Fatalf("%d rows, want 1: %v", len(res.Rows), res.Rows)
	}
	return rowMaps(res)[0]
}

// corpusRecords returns the records of a corpus file: every non-empty line, with API envelopes unwrapped.
func corpusRecords(t *testing.T, tab *schema.Table, rel string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var out []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || string(line) == "null" {
			continue
		}
		var probe map[string]json.RawMessage
		if json.Unmarshal(line, &probe) == nil && probe["meta"] != nil && probe["data"] != nil {
			recs, err := schema.UnwrapRecords(tab.Name, line)
			if err != nil {
				t.Fatalf("%s: unwrap: %v", rel, err)
			}
			out = append(out, recs...)
			continue
		}
		out = append(out, json.RawMessage(bytes.Clone(line)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// load decodes records for tab, writes them, and returns the decoded rows.
func load(t *testing.T, d *DB, tab *schema.Table, recs []json.RawMessage) []schema.Row {
	t.Helper()
	rows := make([]schema.Row, 0, len(recs))
	for i, r := range recs {
		row, err := tab.Decode("acme", r, ingestedAt)
		if err != nil {
			t.Fatalf("%s record %d: %v", tab.Name, i, err)
		}
		rows = append(rows, row)
	}
	if _, err := d.WriteRows(context.Background(), tab, rows); err != nil {
		t.Fatalf("write %s: %v", tab.Name, err)
	}
	return rows
}

// loadCorpus loads a corpus file into tab; records the table rejects (the audit file's "null" line has no id)
// are left out.
func loadCorpus(t *testing.T, d *DB, tab *schema.Table, rel string) []schema.Row {
	t.Helper()
	var ok []json.RawMessage
	for _, r := range corpusRecords(t, tab, rel) {
		if _, err := tab.Decode("acme", r, ingestedAt); err == nil {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		t.Fatalf("%s: no records", rel)
	}
	return load(t, d, tab, ok)
}

// loadAuditCorpus loads every record of the audit corpus. The Elastic corpus reuses a few ids for different
// records (Mimecast gives every audit event its own id), so a repeated id gets a "#n" suffix to keep each record.
func loadAuditCorpus(t *testing.T, d *DB) []schema.Row {
	t.Helper()
	tab := &schema.Audit
	var recs []json.RawMessage
	seen := map[string]int{}
	for _, r := range corpusRecords(t, tab, "audit_events/test-audit-events.log") {
		var rec schema.AuditRecord
		if json.Unmarshal(r, &rec) != nil || rec.ID == "" {
			continue
		}
		if n := seen[rec.ID]; n > 0 {
			r = withFields(t, r, "id", fmt.Sprintf("%s#%d", rec.ID, n))
		}
		seen[rec.ID]++
		recs = append(recs, r)
	}
	if len(recs) != 33 {
		t.Fatalf("%d audit records, want the corpus's 33", len(recs))
	}
	return load(t, d, tab, recs)
}

// col returns the value of the named column of a decoded row.
func col(t *testing.T, tab *schema.Table, r schema.Row, name string) any {
	t.Helper()
	i := tab.ColumnIndex(name)
	if i < 0 {
		t.Fatalf("%s has no column %s", tab.Name, name)
	}
	return r[i]
}

// withFields returns raw with the given fields set.
func withFields(t *testing.T, raw json.RawMessage, kv ...any) json.RawMessage {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		var err error
		raw, err = schema.WithField(raw, kv[i].(string), kv[i+1])
		if err != nil {
			t.Fatal(err)
		}
	}
	return raw
}

func TestViewsExistAfterOpenAndReopen(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	want := SentinelViews()
	sort.Strings(want)
	if len(want) != 11 {
		t.Fatalf("%d views, want the 11 Sentinel parsers", len(want))
	}
	d, err := Open(ctx, path, Options{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	if got := viewNames(t, d); !reflect.DeepEqual(got, want) {
		t.Fatalf("views after open = %v, want %v", got, want)
	}
	loadCorpus(t, d, &schema.Audit, "audit_events/test-audit-events.log")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		d, err := Open(ctx, path, Options{Now: fixedClock})
		if err != nil {
			t.Fatalf("reopen %d: %v", round, err)
		}
		if got := viewNames(t, d); !reflect.DeepEqual(got, want) {
			t.Errorf("views after reopen %d = %v, want %v", round, got, want)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got := viewNames(t, ro); !reflect.DeepEqual(got, want) {
		t.Errorf("views in a read-only open = %v, want %v", got, want)
	}
	res := query(t, ro, `SELECT "Source IP", "Application" FROM "MimecastAudit" WHERE "Audit Type" = 'Logon Authentication Failed' AND "Application" = 'LFS'`)
	if r := only(t, res); r["Source IP"] != "67.43.156.15" {
		t.Errorf("read-only open: Source IP = %v", r["Source IP"])
	}
}

func TestViewsNeedTheirSourceTable(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, "", Options{Tables: []*schema.Table{&schema.Audit, &kitchen}})
	if err != nil {
		t.Fatalf("open with a subset of the tables: %v", err)
	}
	defer d.Close()
	if got := viewNames(t, d); !reflect.DeepEqual(got, []string{"MimecastAudit"}) {
		t.Errorf("views = %v, want only MimecastAudit", got)
	}
}

func TestViewColumns(t *testing.T) {
	d := openStore(t)
	if len(wantViewColumns) != len(SentinelViews()) {
		t.Fatalf("the test lists %d views, the store creates %d", len(wantViewColumns), len(SentinelViews()))
	}
	for _, name := range SentinelViews() {
		t.Run(name, func(t *testing.T) {
			want, ok := wantViewColumns[name]
			if !ok {
				t.Fatalf("no expected columns for %s", name)
			}
			res := query(t, d, `SELECT * FROM "`+name+`" LIMIT 0`)
			if got := res.Columns; !reflect.DeepEqual(got, append([]string{"tenant"}, want...)) {
				t.Errorf("columns:\n got %q\nwant %q", got, append([]string{"tenant"}, want...))
			}
			desc := query(t, d, `DESCRIBE "`+name+`"`)
			if len(desc.Rows) != len(want)+1 {
				t.Errorf("DESCRIBE gives %d columns, want %d", len(desc.Rows), len(want)+1)
			}
		})
	}
}

func TestViewTypes(t *testing.T) {
	d := openStore(t)
	tests := []struct {
		view, column, typ string
	}{
		{"MimecastAudit", "Event Time", "TIMESTAMP"},
		{"MimecastAudit", "Source IP", "VARCHAR"},
		{"MimecastCG", "Event Time", "TIMESTAMP"},
		{"MimecastCG", "Offset", "DOUBLE"},
		{"MimecastCloudIntegrated", "Event Time", "TIMESTAMP"},
		{"MimecastCloudIntegrated", "Historical Mail", "BOOLEAN"},
		{"MimecastDLP", "Event Time", "TIMESTAMP"},
		{"MimecastTTPImpersonation", "Tagged Malicious", "BOOLEAN"},
		{"MimecastTTPImpersonation", "Hits", "DOUBLE"},
		{"MimecastTTPImpersonation", "Identifiers", "JSON"},
		{"MimecastTTPUrl", "Event Time", "TIMESTAMP"},
		{"MimecastTTPUrl", "Actions", "JSON"},
		{"AwarenessWatchlist", "Watchlist Count", "DOUBLE"},
		{"AwarenessWatchlist", "Time Generated", "TIMESTAMP"},
		{"AwarenessPerformanceDetails", "User Details", "JSON"},
		{"AwarenessUserData", "Time Clicked", "TIMESTAMP"},
	}
	for _, tc := range tests {
		t.Run(tc.view+"/"+tc.column, func(t *testing.T) {
			res := query(t, d, `SELECT data_type FROM duckdb_columns() WHERE table_name = ? AND column_name = ?`, tc.view, tc.column)
			if r := only(t, res); r["data_type"] != tc.typ {
				t.Errorf("type = %v, want %s", r["data_type"], tc.typ)
			}
		})
	}
}

// TestViewsPassTheReadOnlyCheck runs what `castwatch query` sends through DB.Query: reads of the views pass,
// statements that would change them do not.
func TestViewsPassTheReadOnlyCheck(t *testing.T) {
	d := openStore(t)
	for _, name := range SentinelViews() {
		t.Run("select "+name, func(t *testing.T) {
			query(t, d, `SELECT * FROM "`+name+`"`)
			query(t, d, `WITH v AS (SELECT * FROM "`+name+`") SELECT count(*) FROM v`)
			query(t, d, `EXPLAIN SELECT * FROM "`+name+`"`)
		})
	}
	for _, sql := range []string{
		`CREATE OR REPLACE VIEW "MimecastAudit" AS SELECT 1`,
		`DROP VIEW "MimecastCG"`,
		`ALTER VIEW "MimecastDLP" RENAME TO x`,
	} {
		t.Run(sql, func(t *testing.T) {
			if _, err := d.Query(context.Background(), sql); !errors.Is(err, ErrReadOnlyQuery) {
				t.Errorf("err = %v, want ErrReadOnlyQuery", err)
			}
		})
	}
	if got := len(viewNames(t, d)); got != len(SentinelViews()) {
		t.Errorf("%d views after rejected statements, want %d", got, len(SentinelViews()))
	}
}

// auditView reads Source IP and Application of every MimecastAudit row, by Id.
func auditView(t *testing.T, d *DB) map[string][2]string {
	t.Helper()
	res := query(t, d, `SELECT "Id", "Source IP", "Application" FROM "MimecastAudit"`)
	out := map[string][2]string{}
	for _, r := range res.Rows {
		out[r[0].(string)] = [2]string{r[1].(string), r[2].(string)}
	}
	return out
}

// TestMimecastAuditAgreesWithParseAuditInfo compares the view's Source IP and Application with
// parse.ParseAuditInfo (SourceIP(), Application) on every audit record of the corpus.
func TestMimecastAuditAgreesWithParseAuditInfo(t *testing.T) {
	d := openStore(t)
	rows := loadAuditCorpus(t, d)
	got := auditView(t, d)
	if len(got) != len(rows) {
		t.Fatalf("view has %d rows, %d records loaded", len(got), len(rows))
	}
	// knownDisagreements lists records (by id) where the view and ParseAuditInfo are allowed to differ, with the
	// reason. The corpus has none.
	knownDisagreements := map[string]string{}
	withIP, withApp := 0, 0
	for _, r := range rows {
		id := col(t, &schema.Audit, r, "id").(string)
		info := parse.ParseAuditInfo(col(t, &schema.Audit, r, "eventInfo").(string))
		want := [2]string{info.SourceIP(), info.Application}
		_, known := knownDisagreements[id]
		switch {
		case got[id] != want && !known:
			t.Errorf("record %s:\n eventInfo %q\n view (Source IP, Application) = %q, ParseAuditInfo = %q", id, info.Raw, got[id], want)
		case got[id] == want && known:
			t.Errorf("record %s is listed as a disagreement but agrees", id)
		}
		if want[0] != "" {
			withIP++
		}
		if want[1] != "" {
			withApp++
		}
	}
	// Guards against a vacuous comparison: most corpus records carry both.
	if withIP < 25 || withApp < 25 {
		t.Errorf("only %d records with an IP and %d with an application", withIP, withApp)
	}
}

func TestMimecastAuditCorpusValues(t *testing.T) {
	d := openStore(t)
	loadAuditCorpus(t, d)
	tests := []struct {
		name     string
		info     string // a LIKE pattern selecting one record by its Event Info
		ip, app  string
		typ, cat string
		at       time.Time
	}{
		{"fields layout", "Successful authentication for johndoe@example.com <John Doe>, Date: 2021-10-11, Time: 18:17:30%",
			"67.43.156.15", "Administration Console", "User Logged On", "authentication_logs",
			time.Date(2021, 10, 11, 17, 17, 30, 0, time.UTC)},
		// Event Time is the record's eventTime, although its eventInfo names another day.
		{"F2 doubled separator", "%IP: : 67.43.156.15,,%", "67.43.156.15", "SMTP-MTA2", "Logon Authentication Failed",
			"authentication_logs", time.Date(2021, 10, 12, 8, 47, 55, 0, time.UTC)},
		{"F3 space-separated layout", "Action Performed - Deleted New Folder%", "67.43.156.15", "Administration Console",
			"Folder Log Entry", "profile_group_logs", time.Date(2021, 10, 11, 18, 23, 10, 0, time.UTC)},
		{"F4 lower-case remote IP and application", "Creating the auditLog entry%", "67.43.156.15", "LFS",
			"Logon Authentication Failed", "authentication_logs", time.Time{}},
		{"F4 Remote IP is", "Succesfully enrolled user%", "67.43.156.15", "", "User Logged On", "authentication_logs",
			time.Time{}},
		{"F5 Remote IP is null", "Password reset for user%", "", "", "User Password Changed",
			"user_account_and_role_logs", time.Time{}},
		{"comma in the display name", "%<Doe, John>%", "67.43.156.3", "MfO", "Logon Authentication Failed",
			"authentication_logs", time.Date(2023, 5, 1, 17, 50, 7, 0, time.UTC)},
		{"bracket export", "[Export type : Download%", "67.43.156.15", "mimecast-matfe", "Page Data Exports",
			"account_logs", time.Time{}},
		{"spaced keys", "User johndoe@example.com attempted%", "67.43.156.15", "API", "Logon Authentication Failed",
			"authentication_logs", time.Time{}},
		{"no fields", "No changes found.", "", "", "Completed Directory Sync", "account_logs", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := only(t, query(t, d, `SELECT * FROM "MimecastAudit" WHERE "Event Info" LIKE ?`, tc.info))
			if r["Source IP"] != tc.ip || r["Application"] != tc.app {
				t.Errorf("(Source IP, Application) = (%q, %q), want (%q, %q)", r["Source IP"], r["Application"], tc.ip, tc.app)
			}
			if r["Audit Type"] != tc.typ || r["Category"] != tc.cat {
				t.Errorf("(Audit Type, Category) = (%q, %q), want (%q, %q)", r["Audit Type"], r["Category"], tc.typ, tc.cat)
			}
			if r["tenant"] != "acme" || r["Time Generated"] != ingestedAt || r["Id"] == "" {
				t.Errorf("tenant, Time Generated, Id = %v, %v, %v", r["tenant"], r["Time Generated"], r["Id"])
			}
			if !tc.at.IsZero() && r["Event Time"] != tc.at {
				t.Errorf("Event Time = %v, want %v", r["Event Time"], tc.at)
			}
		})
	}
}

// TestMimecastAuditFixedParsing writes eventInfo shapes the corpus lacks and checks each against a literal and
// against ParseAuditInfo.
func TestMimecastAuditFixedParsing(t *testing.T) {
	tests := []struct {
		name, info, ip, app string
	}{
		{"F1 comma in the application", "Successful authentication for a@b.example, Date: 2024-01-15, Time: 12:00:00 UTC, IP: 192.0.2.1, Application: Acme, Inc. Mail Portal, Method: Cloud",
			"192.0.2.1", "Acme, Inc. Mail Portal"},
		{"F1 comma in the last application", "Failed authentication for a@b.example, IP: 192.0.2.1, Application: Acme, Inc. Mail Portal",
			"192.0.2.1", "Acme, Inc. Mail Portal"},
		{"F4 lower-case keys", "Something, ip: 192.0.2.8, application: mobile", "192.0.2.8", "mobile"},
		{"F4 IP wins over remote IP", "X, Remote IP is 192.0.2.7, IP: 192.0.2.6", "192.0.2.6", ""},
		{"F5 IP with a port", "X, IP: 192.0.2.2:5678, Application: SMTP", "192.0.2.2", "SMTP"},
		{"F5 unknown IP", "X, IP: unknown, Application: SMTP", "", "SMTP"},
		{"F5 invalid IP", "X, IP: 999.1.1.1, Application: SMTP", "", "SMTP"},
		{"F5 invalid IP then a valid one", "X, IP: 01.2.3.4, IP Address: 192.0.2.3", "192.0.2.3", ""},
		{"F5 IPv4-mapped IPv6", "X, IP: ::ffff:192.0.2.9, Application: A", "192.0.2.9", "A"},
		{"IPv6", "X, IP: 2001:db8::1, Application: A", "2001:db8::1", "A"},
		{"IPv6 with zone", "X, IP: fe80::1%eth0, Application: A", "fe80::1", "A"},
		{"spaced layout with remote IP", "Action Performed - x by a@b.example<A> Date: 2024-01-15 Time: 12:00:00 +0000 Remote IP: 192.0.2.4 Application: Console",
			"192.0.2.4", "Console"},
		{"empty application", "X, IP: 192.0.2.5, Application: , Method: Cloud", "192.0.2.5", ""},
		{"newline ends a value", "Connector creation\nApplication: Console\nSuccess: true", "", "Console"},
		{"empty", "", "", ""},
	}
	d := openStore(t)
	rows := make([]schema.Row, len(tests))
	for i, tc := range tests {
		rows[i] = schema.Row{"acme", ingestedAt, tc.name, "Test", "a@b.example", t0, tc.info, "authentication_logs"}
	}
	if _, err := d.WriteRows(context.Background(), &schema.Audit, rows); err != nil {
		t.Fatal(err)
	}
	got := auditView(t, d)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g := got[tc.name]; g != [2]string{tc.ip, tc.app} {
				t.Errorf("(Source IP, Application) = %q, want (%q, %q)", g, tc.ip, tc.app)
			}
			info := parse.ParseAuditInfo(tc.info)
			if p := [2]string{info.SourceIP(), info.Application}; p != got[tc.name] {
				t.Errorf("ParseAuditInfo gives %q, the view %q", p, got[tc.name])
			}
		})
	}
}

// TestR1LogonAuthenticationFailed runs rule R1's query, translated one to one, over the corpus.
func TestR1LogonAuthenticationFailed(t *testing.T) {
	d := openStore(t)
	rows := loadAuditCorpus(t, d)
	var want []string
	for _, r := range rows {
		info := parse.ParseAuditInfo(col(t, &schema.Audit, r, "eventInfo").(string))
		if col(t, &schema.Audit, r, "auditType") == "Logon Authentication Failed" && info.SourceIP() != "" {
			want = append(want, col(t, &schema.Audit, r, "id").(string))
		}
	}
	sort.Strings(want)
	res := query(t, d, `SELECT "Id", "Source IP" AS "SourceIp", "User", "Application" FROM "MimecastAudit"
		WHERE "Source IP" <> '' AND "Audit Type" = 'Logon Authentication Failed' ORDER BY "Id"`)
	var got []string
	for _, r := range rowMaps(res) {
		got = append(got, r["Id"].(string))
		if r["SourceIp"] == "" || r["User"] == "" {
			t.Errorf("row %v lacks an entity", r)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("R1 rows = %v, want %v", got, want)
	}
	// Every failed logon of the corpus has an address, including the two Sentinel's parse-kv misses (the
	// doubled "IP: :" separator and the lower-case "remote IP :" of the LFS record), so the rule's threshold
	// (more than 3) is crossed.
	if len(got) != 8 {
		t.Errorf("R1 matches %d rows, want the corpus's 8 failed logons", len(got))
	}
	// F5: a failure whose IP is "unknown" is not counted as having a source IP.
	unknown := schema.Row{"acme", ingestedAt, "unknown-ip", "Logon Authentication Failed", "a@b.example", t0,
		"Failed authentication for a@b.example, IP: unknown, Application: MPP", "authentication_logs"}
	if _, err := d.WriteRows(context.Background(), &schema.Audit, []schema.Row{unknown}); err != nil {
		t.Fatal(err)
	}
	res = query(t, d, `SELECT count(*) AS n FROM "MimecastAudit" WHERE "Source IP" <> '' AND "Audit Type" = 'Logon Authentication Failed'`)
	if n := only(t, res)["n"]; n != int64(8) {
		t.Errorf("after an unknown-IP failure R1 counts %v, want 8", n)
	}
}

// TestEventTimeFallsBackToTimeGenerated covers F6: a record without an event time gets its ingestion time, the
// same on every query, instead of now().
func TestEventTimeFallsBackToTimeGenerated(t *testing.T) {
	d := openStore(t)
	row := schema.Row{"acme", ingestedAt, "no-time", "User Logged On", "a@b.example", nil, "X, IP: 192.0.2.1", "authentication_logs"}
	if _, err := d.WriteRows(context.Background(), &schema.Audit, []schema.Row{row}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r := only(t, query(t, d, `SELECT "Event Time" FROM "MimecastAudit" WHERE "Id" = 'no-time'`))
		if r["Event Time"] != ingestedAt {
			t.Errorf("query %d: Event Time = %v, want TimeGenerated %v", i, r["Event Time"], ingestedAt)
		}
	}
}

func TestMimecastCGCorpus(t *testing.T) {
	d := openStore(t)
	tab := &schema.SegCg
	rows := loadCorpus(t, d, tab, "siem_logs/test-siem-v2-logs.log")
	t.Run("attachment protect record", func(t *testing.T) {
		r := only(t, query(t, d, `SELECT * FROM "MimecastCG" WHERE "Sha256" = ? AND "Offset" = 71203`,
			"22a65c438289353d96c707cf55e26be723e3157f0aa00734843a9bdc8f98bab0"))
		want := map[string]any{
			"Type": "email_ttp_ap", "File Name": "zero-day.pdf", "Md5": "66f03bf072a74bb19db16c952ba3dc47",
			"Event Time": time.Date(2024, 11, 13, 11, 57, 39, 314e6, time.UTC), "Offset": 71203.0, "Partition": 60.0,
			"Message ID": "", "Sub Type": "", "Virus Found": "", "Time Generated": ingestedAt, "tenant": "acme",
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("%s = %#v, want %#v", k, r[k], v)
			}
		}
	})
	t.Run("message id loses its angle brackets", func(t *testing.T) {
		stored := only(t, query(t, d, `SELECT "messageId" FROM "Seg_Cg_CL" WHERE "aggregateId" = ? AND "Logtype" = 'email_receipt'`,
			"pZrAa9HUN-WmL2AK6cWduw_1731621818"))
		if stored["messageId"] != "<ad3334051e9207bd-36579@hapi.b41.one>" {
			t.Fatalf("stored messageId = %v", stored["messageId"])
		}
		r := only(t, query(t, d, `SELECT "Message ID", "Action", "Sender IP" FROM "MimecastCG" WHERE "Aggregate ID" = ? AND "Type" = 'email_receipt'`,
			"pZrAa9HUN-WmL2AK6cWduw_1731621818"))
		if r["Message ID"] != "ad3334051e9207bd-36579@hapi.b41.one" || r["Action"] != "Acc" || r["Sender IP"] != "81.2.69.144" {
			t.Errorf("row = %v", r)
		}
	})
	// Rules R4–R9 select on Type; each must find exactly the stored rows of that Logtype.
	for _, typ := range []string{"email_antivirus", "email_ttp_ap", "email_ttp_impersonation", "email_iep", "email_spam", "email_ttp_url"} {
		t.Run("rule on "+typ, func(t *testing.T) {
			want := 0
			for _, r := range rows {
				if col(t, tab, r, "Logtype") == typ {
					want++
				}
			}
			res := query(t, d, `SELECT count(*) AS n FROM "MimecastCG" WHERE "Type" = ?`, typ)
			if n := only(t, res)["n"]; n != int64(want) {
				t.Errorf("%d rows, want %d", n, want)
			}
		})
	}
	t.Run("F14 unmapped type", func(t *testing.T) {
		raw := withFields(t, corpusRecords(t, tab, "siem_logs/test-siem-v2-logs.log")[0], "type", "brand new type")
		load(t, d, tab, []json.RawMessage{raw})
		res := query(t, d, `SELECT count(*) AS n FROM "MimecastCG" WHERE "Type" = 'brand new type'`)
		if n := only(t, res)["n"]; n != int64(1) {
			t.Errorf("%v rows of the unmapped type, want 1", n)
		}
	})
}

func TestMimecastCloudIntegratedCorpus(t *testing.T) {
	d := openStore(t)
	loadCorpus(t, d, &schema.CloudIntegrated, "cloud_integrated_logs/test-cloud-integrated-logs.log")
	r := only(t, query(t, d, `SELECT * FROM "MimecastCloudIntegrated" WHERE "Aggregate ID" = ?`,
		"4Xz4RX59R6z84lm-ip3sazqogbn7c5haarz3ydiaeg_1732724425"))
	want := map[string]any{
		"Event Time": time.Date(2024, 11, 27, 16, 20, 25, 453e6, time.UTC), "Type": "entities",
		"Subtype": "NO_DETECTIONS", "Sender IP": "81.2.69.144", "Direction": "INBOUND", "Historical Mail": false,
		"Account ID": "AUS2474", "Source": "OFFICE_365_MAIL", "Threat State": "DELIVERY_IN_PROGRESS",
		"Sender Envelope": "", "Tags": "", "Time Generated": ingestedAt,
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	for k, part := range map[string]string{"Attachments": "1-MB-Test_PCI-PII.xls", "Recipients": "darron.giron@demovation-ci.b41.one",
		"Policies Applied": "DO_NOTHING", "Message ID": "<38989264-3456-4301-b2f9-22b8c78289db@"} {
		if s, _ := r[k].(string); !strings.Contains(s, part) {
			t.Errorf("%s = %q, want it to contain %q", k, r[k], part)
		}
	}
}

func TestMimecastDLPCorpus(t *testing.T) {
	d := openStore(t)
	tab := &schema.SegDlp
	rows := loadCorpus(t, d, tab, "dlp_logs/test-dlp-logs.log")
	// F7: Event Time is the stored event time.
	res := query(t, d, `SELECT "Action", "Event Time", "Policy", "Sender Address", "Recipient Address" FROM "MimecastDLP"
		WHERE "Message ID" = '<20211015204122.2CA6DFCAE2@mail.emailsec.ninja>' ORDER BY "Action"`)
	got := rowMaps(res)
	if len(got) != 2 || got[0]["Action"] != "hold" || got[1]["Action"] != "notification" {
		t.Fatalf("rows = %v, want a hold and a notification", got)
	}
	for _, r := range got {
		if r["Event Time"] != time.Date(2021, 10, 15, 20, 41, 25, 0, time.UTC) || r["Policy"] != "Content Inspection - Watermark" ||
			r["Sender Address"] != "<>" || r["Recipient Address"] != "johndoe@example.com" {
			t.Errorf("row = %v", r)
		}
	}
	// Rules R2 and R3.
	for _, action := range []string{"hold", "notification"} {
		t.Run("rule on "+action, func(t *testing.T) {
			want := 0
			for _, r := range rows {
				if col(t, tab, r, "action") == action {
					want++
				}
			}
			if want == 0 {
				t.Fatalf("the corpus has no %s record", action)
			}
			res := query(t, d, `SELECT count(*) AS n FROM "MimecastDLP" WHERE "Action" = ?`, action)
			if n := only(t, res)["n"]; n != int64(want) {
				t.Errorf("%v rows, want %d", n, want)
			}
		})
	}
}

func TestMimecastTTPAttachmentCorpus(t *testing.T) {
	d := openStore(t)
	rows := loadCorpus(t, d, &schema.TtpAttachment, "ttp_ap_logs/test-ttp-ap-logs.log")
	// F11: two attachments of one message, same sender and recipient, stay two rows.
	res := query(t, d, `SELECT * FROM "MimecastTTPAttachment"
		WHERE "Message ID" = '<DB8P194MB0824EE4C8D360CCE3DEB0243A1B89@DB8P194MB0824.EURP194.PROD.OUTLOOK.COM>' ORDER BY "File Name"`)
	got := rowMaps(res)
	if len(got) != 2 {
		t.Fatalf("%d rows for the message with two attachments, want 2", len(got))
	}
	if got[0]["File Name"] != "Titus classification v0.3.pptx" || got[1]["File Name"] != "Titus-Test Doc - Classification - InternalUseOnly.docx" {
		t.Errorf("file names = %v, %v", got[0]["File Name"], got[1]["File Name"])
	}
	r := got[0]
	want := map[string]any{"Type": "Ttp_Attachment_CL", "Mimecast Event ID": "ttp_attachment",
		"Mimecast Event Category": "ttp_attachment", "Result": "safe", "Sender Address": "<>",
		"File Hash":  "111b86e1244ce6389efb60cddc001d594d334c540e85f9976be467a4ce472973",
		"Event Time": time.Date(2021, 10, 14, 11, 24, 23, 0, time.UTC), "Action Triggered": "user release, none"}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	// Rule R11 (Result != "safe"): the corpus holds safe files only; a malicious one is added.
	mal := withFields(t, corpusRecords(t, &schema.TtpAttachment, "ttp_ap_logs/test-ttp-ap-logs.log")[0],
		"result", "malicious", "fileHash", "ff", "fileName", "x.exe")
	load(t, d, &schema.TtpAttachment, []json.RawMessage{mal})
	res = query(t, d, `SELECT "File Name" FROM "MimecastTTPAttachment" WHERE "Result" <> 'safe'`)
	if r := only(t, res); r["File Name"] != "x.exe" || len(rows) != 3 {
		t.Errorf("R11 row = %v (corpus rows %d)", r, len(rows))
	}
}

func TestMimecastTTPImpersonationCorpus(t *testing.T) {
	d := openStore(t)
	tab := &schema.TtpImpersonation
	recs := corpusRecords(t, tab, "ttp_ip_logs/test-ttp-ip-logs.log")
	rows := load(t, d, tab, recs)
	// F9: the 3.1.0 columns are read.
	r := only(t, query(t, d, `SELECT * FROM "MimecastTTPImpersonation" WHERE "Message ID" = ?`,
		"<EE7E97EA-1926-4A90-9399-D049A98893F4@emailsec.ninja>"))
	want := map[string]any{"Type": "Ttp_Impersonation_CL", "Mimecast Event ID": "ttp_impersonation",
		"Hits": 1.0, "Tagged Malicious": true, "Tagged External": false, "Sender IP Address": "67.43.156.15",
		"Sender Address": "smtp@example.com", "Action": "none", "Definition": "IP - 1 hit (Tag email)",
		"Event Time": time.Date(2021, 10, 15, 17, 10, 46, 0, time.UTC)}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	if !reflect.DeepEqual(r["Identifiers"], []any{"internal_user_name"}) {
		t.Errorf("Identifiers = %#v", r["Identifiers"])
	}
	if s, _ := r["Impersonation Results"].(string); !strings.Contains(s, "John Doe Jr") {
		t.Errorf("Impersonation Results = %#v", r["Impersonation Results"])
	}
	// F11: Mimecast reuses an id for a different message; both rows stay.
	reused := withFields(t, recs[0], "messageId", "<other@example.com>", "eventTime", "2021-10-16T09:00:00+0000")
	load(t, d, tab, []json.RawMessage{reused})
	res := query(t, d, `SELECT count(*) AS n FROM "MimecastTTPImpersonation" WHERE "ID" = ?`, col(t, tab, rows[0], "id"))
	if n := only(t, res)["n"]; n != int64(2) {
		t.Errorf("%v rows share the reused id, want 2", n)
	}
	// Rule R12.
	wantMal := 1 // the reused-id record
	for _, row := range rows {
		if col(t, tab, row, "taggedMalicious") == true {
			wantMal++
		}
	}
	res = query(t, d, `SELECT count(*) AS n FROM "MimecastTTPImpersonation" WHERE "Tagged Malicious" = true`)
	if n := only(t, res)["n"]; n != int64(wantMal) {
		t.Errorf("R12 counts %v, want %d", n, wantMal)
	}
}

func TestMimecastTTPUrlCorpus(t *testing.T) {
	d := openStore(t)
	tab := &schema.TtpURL
	recs := corpusRecords(t, tab, "ttp_url_logs/test-ttp-url-logs.log")
	rows := load(t, d, tab, recs)
	t.Run("user click", func(t *testing.T) {
		r := only(t, query(t, d, `SELECT * FROM "MimecastTTPUrl" WHERE "From User Email Address" = 'bestbuyinfo@emailinfo.bestbuy.com'`))
		want := map[string]any{"Category": "Business", "Mimecast Event ID": "ttp_url", "Mimecast Event Category": "ttp_url",
			"Type": "Ttp_Url_CL", "Action": "allow", "Scan Result": "clean", "Sending IP": "67.43.156.15",
			"Creation Method": "User Click", "Event Time": time.Date(2021, 10, 16, 14, 45, 34, 0, time.UTC),
			"Mimecast Event Id_": "", "Tag Map Dangerous File Ext Status": ""}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("%s = %#v, want %#v", k, r[k], v)
			}
		}
	})
	t.Run("F13 dangerous file extension content checks", func(t *testing.T) {
		res := query(t, d, `SELECT * FROM "MimecastTTPUrl" WHERE "User Email Address" = 'jhartso@demo-int.elastic.mime-api.com'`)
		r := only(t, res)
		for _, c := range []string{"Tag Map Dangerous File Ext Content Check Dangerous Mimetypes Url File Download",
			"Tag Map ContentCheck Dangerous Mimetypes Url File Download"} {
			if s, _ := r[c].(string); !strings.Contains(s, "application/x-msdownload") {
				t.Errorf("%s = %#v", c, r[c])
			}
		}
		for _, c := range []string{"Tag Map Dangerous File Ext Content Check Dangerous Exts Url File Download",
			"Tag Map ContentCheck Dangerous Exts Url File Download"} {
			if s, _ := r[c].(string); !strings.Contains(s, "dll") {
				t.Errorf("%s = %#v", c, r[c])
			}
		}
		if s, _ := r["Tag Map Dangerous File Ext Content Check Content Scanners Blocked"].(string); !strings.Contains(s, ".exe") {
			t.Errorf("content scanners blocked = %#v", r["Tag Map Dangerous File Ext Content Check Content Scanners Blocked"])
		}
		if s, _ := r["Tag Map Dangerous File Ext Status"].(string); !strings.Contains(s, "VerdictBlock") {
			t.Errorf("status = %#v", r["Tag Map Dangerous File Ext Status"])
		}
	})
	t.Run("F12 category", func(t *testing.T) {
		res := query(t, d, `SELECT DISTINCT "Category" FROM "MimecastTTPUrl" ORDER BY 1`)
		var got []string
		for _, r := range res.Rows {
			got = append(got, r[0].(string))
		}
		if !slices.Contains(got, "Compromised") || slices.Contains(got, "") {
			t.Errorf("categories = %q", got)
		}
	})
	t.Run("rule R13", func(t *testing.T) {
		want := 0
		for _, r := range rows {
			if col(t, tab, r, "scanResult") == "malicious" && col(t, tab, r, "action") != "allow" {
				want++
			}
		}
		res := query(t, d, `SELECT count(*) AS n FROM "MimecastTTPUrl" WHERE "Scan Result" = 'malicious' AND "Action" <> 'allow'`)
		if n := only(t, res)["n"]; n != int64(want) || want == 0 {
			t.Errorf("R13 counts %v, want %d", n, want)
		}
	})
	t.Run("F11 a later click of a scanned link", func(t *testing.T) {
		var entry json.RawMessage
		for _, r := range recs {
			if bytes.Contains(r, []byte("jhartso@")) {
				entry = r
			}
		}
		click := withFields(t, entry, "creationMethod", "User Click", "action", "block", "date", "2024-11-15T08:00:00+0000")
		load(t, d, tab, []json.RawMessage{click})
		res := query(t, d, `SELECT "Creation Method" FROM "MimecastTTPUrl" WHERE "User Email Address" = 'jhartso@demo-int.elastic.mime-api.com' ORDER BY 1`)
		if got := res.Rows; len(got) != 2 || got[0][0] != "Entry Scan" || got[1][0] != "User Click" {
			t.Errorf("rows = %v, want the entry scan and the click", got)
		}
	})
}

// awarenessRecord builds one Awareness Training record.
func awarenessRecord(t *testing.T, fields map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAwarenessViews(t *testing.T) {
	d := openStore(t)
	load(t, d, &schema.AwarenessPerformance, []json.RawMessage{awarenessRecord(t, map[string]any{
		"email": "ann@example.com", "name": "Ann Lee", "department": "Finance", "numCorrect": 4, "numIncorrect": 1,
		"numNotWatched": 2, "userState": "ACTIVE", "userId": "u-1",
		"userDetails": []any{map[string]any{"title": "Phishing 101", "status": "Correct"}},
	})})
	load(t, d, &schema.AwarenessSafeScore, []json.RawMessage{awarenessRecord(t, map[string]any{
		"emailAddress": "ann@example.com", "name": "Ann Lee", "department": "Finance", "risk": "C", "humanError": "B",
		"sentiment": "A", "engagement": "D", "knowledge": "F", "userState": "ACTIVE",
	})})
	load(t, d, &schema.AwarenessWatchlist, []json.RawMessage{
		awarenessRecord(t, map[string]any{"email": "ann@example.com", "name": "Ann Lee", "department": "Finance",
			"watchlistCount": 3, "userState": "ACTIVE", "userId": "u-1"}),
		awarenessRecord(t, map[string]any{"email": "bob@example.com", "name": "Bob", "userState": "ACTIVE"}),
	})
	item := withFields(t, awarenessRecord(t, map[string]any{
		"email": "ann@example.com", "name": "Ann Lee", "templateName": "Parcel", "department": "Finance",
		"status": "CLICKED", "numCampaignsSent": 2, "numCampaignsClicked": 1, "numTrainingModulesAssigned": 1,
		"numCorrectAnswers": 3, "numIncorrectAnswers": 0, "userState": "ACTIVE", "clickedIp": "192.0.2.10",
		"reactionTime": 42, "timeClicked": "2025-09-04T10:00:00+0000", "timeOpened": "2025-09-04T09:59:18+0000",
	}), "campaignId", "camp-1")
	load(t, d, &schema.AwarenessUserData, []json.RawMessage{item})

	tests := []struct {
		view  string
		where string
		want  map[string]any
	}{
		{"AwarenessPerformanceDetails", `"Email" = 'ann@example.com'`, map[string]any{"Name": "Ann Lee",
			"Num of Correct": 4.0, "Num of Incorrect": 1.0, "Num of Not Watched": 2.0, "User State": "ACTIVE",
			"Department": "Finance", "tenant": "acme"}},
		{"AwarenessSafeScore", `"Email Address" = 'ann@example.com'`, map[string]any{"Name": "Ann Lee", "Risk": "C",
			"Human Error": "B", "Sentiment": "A", "Engagement": "D", "Knowledge": "F", "User State": "ACTIVE",
			"Department": "Finance"}},
		// F8: Time Generated is the ingestion time.
		{"AwarenessWatchlist", `"Email" = 'ann@example.com'`, map[string]any{"Name": "Ann Lee", "Watchlist Count": 3.0,
			"User State": "ACTIVE", "Department": "Finance", "Time Generated": ingestedAt}},
		// A missing count is 0 and a missing department '', as in the parser.
		{"AwarenessWatchlist", `"Email" = 'bob@example.com'`, map[string]any{"Watchlist Count": 0.0, "Department": "",
			"Time Generated": ingestedAt}},
		{"AwarenessUserData", `"Email" = 'ann@example.com'`, map[string]any{"Template Name": "Parcel", "Status": "CLICKED",
			"Num of Campaigns Sent": 2.0, "Num of Campaigns Clicked": 1.0, "Clicked IP": "192.0.2.10", "Reaction Time": 42.0,
			"Time Clicked": time.Date(2025, 9, 4, 10, 0, 0, 0, time.UTC), "Time Reported": nil, "Items": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.view+" "+tc.where, func(t *testing.T) {
			r := only(t, query(t, d, `SELECT * FROM "`+tc.view+`" WHERE `+tc.where))
			for k, v := range tc.want {
				if !reflect.DeepEqual(r[k], v) {
					t.Errorf("%s = %#v, want %#v", k, r[k], v)
				}
			}
		})
	}
	r := only(t, query(t, d, `SELECT "User Details" FROM "AwarenessPerformanceDetails"`))
	if !reflect.DeepEqual(r["User Details"], []any{map[string]any{"title": "Phishing 101", "status": "Correct"}}) {
		t.Errorf("User Details = %#v", r["User Details"])
	}
	// F10: a later snapshot of the same user does not add a row.
	later := awarenessRecord(t, map[string]any{"email": "ann@example.com", "name": "Ann Lee", "department": "Finance",
		"watchlistCount": 4, "userState": "ACTIVE", "userId": "u-1"})
	row, err := schema.AwarenessWatchlist.Decode("acme", later, ingestedAt.Add(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteRows(context.Background(), &schema.AwarenessWatchlist, []schema.Row{row}); err != nil {
		t.Fatal(err)
	}
	res := query(t, d, `SELECT "Email", count(*) AS n FROM "AwarenessWatchlist" GROUP BY ALL ORDER BY 1`)
	if !reflect.DeepEqual(res.Rows, [][]any{{"ann@example.com", int64(1)}, {"bob@example.com", int64(1)}}) {
		t.Errorf("rows per user = %v, want one each", res.Rows)
	}
}

// TestViewsKeepTenants checks the extra tenant column: the same record stored for two tenants is two rows, one
// per tenant.
func TestViewsKeepTenants(t *testing.T) {
	d := openStore(t)
	recs := corpusRecords(t, &schema.SegDlp, "dlp_logs/test-dlp-logs.log")[:1]
	for _, tenant := range []string{"acme", "globex"} {
		row, err := schema.SegDlp.Decode(tenant, recs[0], ingestedAt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.WriteRows(context.Background(), &schema.SegDlp, []schema.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	res := query(t, d, `SELECT tenant FROM "MimecastDLP" ORDER BY tenant`)
	if !reflect.DeepEqual(res.Rows, [][]any{{"acme"}, {"globex"}}) {
		t.Errorf("tenants = %v", res.Rows)
	}
}
