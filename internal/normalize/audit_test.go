package normalize

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

var (
	generated = time.Date(2024, 7, 1, 13, 0, 0, 0, time.UTC)
	evTime    = time.Date(2024, 7, 1, 12, 56, 25, 0, time.UTC)
)

// auditRow builds an Audit_CL row with the columns placed by name, so the test follows the table's layout.
func auditRow(t *testing.T, vals map[string]any) schema.Row {
	t.Helper()
	row := make(schema.Row, len(schema.Audit.Columns))
	defaults := map[string]any{
		"tenant": "acme", "TimeGenerated": generated, "id": "eNq1", "auditType": "", "user": "",
		"eventTime": evTime, "eventInfo": "", "category": "authentication_logs",
	}
	for k, v := range vals {
		defaults[k] = v
	}
	for k, v := range defaults {
		i := schema.Audit.ColumnIndex(k)
		if i < 0 {
			t.Fatalf("no column %s", k)
		}
		row[i] = v
	}
	return row
}

func TestAudit(t *testing.T) {
	const (
		okInfo    = "Successful authentication for john.smith@example.com <Smith, John>, Date: 2024-07-01, Time: 13:56:25 BST, IP: 81.2.69.144, Application: MPP, Method: SP-initiated SAML"
		failInfo  = "Failed authentication for john.smith@example.com <John Smith>, Date: 2024-07-01, Time: 13:56:25 BST, IP: 81.2.69.144, Application: mimecast-moa, Method: Office 365, Reason: Wrong password"
		chalInfo  = "Intermediate authentication for john.smith@example.com <John Smith>, Date: 2024-07-01, Time: 13:56:25 BST, IP: 81.2.69.144, Application: Administration Console, Method: Cloud, 2FA: TOTP"
		caseInfo  = "Viewed Review Set Details - Case: Class Action, Review Set: Contracts, Date: 2024-07-01, Time: 12:56:25+0000, IP: 67.43.156.15, Application: mimecast-case-review"
		dumpInfo  = "Creating the auditLog entry for failed authentication, emailAddress :com.example.sdk.address.Address@4a3bcd11[emailAddress=johndoe@gmail.com,domainName=gmail.com] remote IP : 67.43.156.15 application : LFS"
		permInfo  = "User john.smith@example.com attempted to access the mimecast-matfe but does not have the required permissions to do so, Date : 2024-07-01, Time : 12:56:25+0000, IP : 67.43.156.15, Application : API, Remote IP is 67.43.156.15"
		spaceInfo = "Action Performed - Deleted New Folder by johndoe@example.com<John Doe> Date: 2024-07-01 Time: 13:56:25 +0100 IP: 67.43.156.15 Application: Administration Console"
	)
	tests := []struct {
		name string
		row  map[string]any
		want schema.Event // Fields is checked separately
	}{
		{"user logged on is a successful app-login", map[string]any{"auditType": "User Logged On", "user": "John.Smith@Example.com", "eventInfo": okInfo}, schema.Event{
			EventType: schema.EventAppLogin, Outcome: schema.OutcomeSuccess, User: "john.smith@example.com", UserEmail: "john.smith@example.com",
			EmailDomain: "example.com", SrcIP: "81.2.69.144", App: "MPP", Activity: "User Logged On", Object: "john.smith@example.com", Action: "Successful authentication",
		}},
		{"logon authentication failed is failed-app-login with the reason", map[string]any{"auditType": "Logon Authentication Failed", "user": "john.smith@example.com", "eventInfo": failInfo}, schema.Event{
			EventType: schema.EventFailedAppLogin, Outcome: schema.OutcomeFailure, FailureReason: "Wrong password", User: "john.smith@example.com", UserEmail: "john.smith@example.com",
			EmailDomain: "example.com", SrcIP: "81.2.69.144", App: "mimecast-moa", Activity: "Logon Authentication Failed", Object: "john.smith@example.com", Action: "Failed authentication",
		}},
		{"failed login without a reason field", map[string]any{"auditType": "Logon Authentication Failed", "user": "johndoe@example.com", "eventInfo": dumpInfo}, schema.Event{
			EventType: schema.EventFailedAppLogin, Outcome: schema.OutcomeFailure, User: "johndoe@example.com", UserEmail: "johndoe@example.com",
			EmailDomain: "example.com", SrcIP: "67.43.156.15", App: "LFS", Activity: "Logon Authentication Failed", Object: "johndoe@gmail.com",
			Action: "Creating the auditLog entry for failed authentication",
		}},
		{"permission failure: the action is the reason", map[string]any{"auditType": "Logon Authentication Failed", "user": "john.smith@example.com", "eventInfo": permInfo}, schema.Event{
			EventType: schema.EventFailedAppLogin, Outcome: schema.OutcomeFailure, FailureReason: "attempted to access the mimecast-matfe but does not have the required permissions to do so",
			User: "john.smith@example.com", UserEmail: "john.smith@example.com", EmailDomain: "example.com", SrcIP: "67.43.156.15", App: "API",
			Activity: "Logon Authentication Failed", Object: "john.smith@example.com", Action: "attempted to access the mimecast-matfe but does not have the required permissions to do so",
		}},
		{"logon requires challenge is app-login with outcome challenge", map[string]any{"auditType": "Logon Requires Challenge", "user": "john.smith@example.com", "eventInfo": chalInfo}, schema.Event{
			EventType: schema.EventAppLogin, Outcome: schema.OutcomeChallenge, User: "john.smith@example.com", UserEmail: "john.smith@example.com",
			EmailDomain: "example.com", SrcIP: "81.2.69.144", App: "Administration Console", Activity: "Logon Requires Challenge", Object: "john.smith@example.com", Action: "Intermediate authentication",
		}},
		{"support login is a successful app-login", map[string]any{"auditType": "Mimecast Support Login", "user": "support@example.local", "eventInfo": spaceInfo}, schema.Event{
			EventType: schema.EventAppLogin, Outcome: schema.OutcomeSuccess, User: "support@example.local", UserEmail: "support@example.local",
			EmailDomain: "example.local", SrcIP: "67.43.156.15", App: "Administration Console", Activity: "Mimecast Support Login", Object: "New Folder", Action: "Deleted New Folder",
		}},
		{"other audit types are app-activity with an object", map[string]any{"auditType": "Review Set Action", "user": "johndoe@example.com", "eventInfo": caseInfo, "category": "case_review_logs"}, schema.Event{
			EventType: schema.EventAppActivity, User: "johndoe@example.com", UserEmail: "johndoe@example.com", EmailDomain: "example.com",
			SrcIP: "67.43.156.15", App: "mimecast-case-review", Activity: "Review Set Action", Object: "Contracts", Action: "Viewed Review Set Details",
		}},
		{"unknown audit type with failed-authentication text", map[string]any{"auditType": "Account Locked Out", "user": "john.smith@example.com", "eventInfo": failInfo}, schema.Event{
			EventType: schema.EventFailedAppLogin, Outcome: schema.OutcomeFailure, FailureReason: "Wrong password", User: "john.smith@example.com", UserEmail: "john.smith@example.com",
			EmailDomain: "example.com", SrcIP: "81.2.69.144", App: "mimecast-moa", Activity: "Account Locked Out", Object: "john.smith@example.com", Action: "Failed authentication",
		}},
		{"unknown audit type with successful-authentication text", map[string]any{"auditType": "SSO Logon", "user": "john.smith@example.com", "eventInfo": okInfo}, schema.Event{
			EventType: schema.EventAppLogin, Outcome: schema.OutcomeSuccess, User: "john.smith@example.com", UserEmail: "john.smith@example.com",
			EmailDomain: "example.com", SrcIP: "81.2.69.144", App: "MPP", Activity: "SSO Logon", Object: "john.smith@example.com", Action: "Successful authentication",
		}},
		{"empty user falls back to the actor in the text", map[string]any{"auditType": "Folder Log Entry", "user": "", "eventInfo": spaceInfo}, schema.Event{
			EventType: schema.EventAppActivity, User: "johndoe@example.com", UserEmail: "johndoe@example.com", EmailDomain: "example.com",
			SrcIP: "67.43.156.15", App: "Administration Console", Activity: "Folder Log Entry", Object: "New Folder", Action: "Deleted New Folder",
		}},
		{"system record without user or fields", map[string]any{"auditType": "Completed Directory Sync", "user": nil, "eventInfo": "No changes found.", "category": nil}, schema.Event{
			EventType: schema.EventAppActivity, Activity: "Completed Directory Sync", Action: "No changes found",
		}},
		{"user that is not an address", map[string]any{"auditType": "Search Action", "user": "svc-api", "eventInfo": "Executed Search - Source: Search"}, schema.Event{
			EventType: schema.EventAppActivity, User: "svc-api", Activity: "Search Action", Object: "Search", Action: "Executed Search",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Audit(auditRow(t, tt.row))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.ID, want.Tenant, want.Table, want.Time = "acme/Audit_CL/eNq1", "acme", "Audit_CL", evTime
			fields := got.Fields
			got.Fields = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if fields["eventInfo"] != orEmpty(tt.row["eventInfo"]) || fields["category"] != orEmpty(defaultCategory(tt.row)) {
				t.Errorf("Fields lack the source columns: %v", fields)
			}
		})
	}
}

func orEmpty(v any) string {
	s, _ := v.(string)
	return s
}

func defaultCategory(row map[string]any) any {
	if v, ok := row["category"]; ok {
		return v
	}
	return "authentication_logs"
}

func TestAuditFields(t *testing.T) {
	ev, err := Audit(auditRow(t, map[string]any{
		"auditType": "Logon Requires Challenge", "user": "a@b.example",
		"eventInfo": "Intermediate authentication for a@b.example <A B>, Date: 2024-07-01, Time: 10:00:00 CST, IP: 192.0.2.1, Application: MPP, Method: Cloud, 2FA: TOTP",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"category": "authentication_logs", "eventInfo.layout": "fields", "eventInfo.target": "a@b.example", "eventInfo.target_name": "A B",
		"eventInfo.method": "Cloud", "eventInfo.2fa": "TOTP", "eventInfo.local_time": "2024-07-01 10:00:00 CST",
		"eventInfo.time": "2024-07-01T16:00:00Z",
	}
	for k, v := range want {
		if ev.Fields[k] != v {
			t.Errorf("Fields[%q] = %v, want %v", k, ev.Fields[k], v)
		}
	}
	issues, _ := ev.Fields["eventInfo.issues"].([]string)
	if len(issues) != 1 {
		t.Errorf("want the ambiguous-zone issue, got %v", ev.Fields["eventInfo.issues"])
	}
	if _, ok := ev.Fields["eventInfo.reason"]; ok {
		t.Error("empty values must not be stored")
	}
}

func TestAuditTimeFallback(t *testing.T) {
	info := "Viewed Case - Case: X, Date: 2024-07-01, Time: 09:00:00 EDT, IP: 192.0.2.1"
	tests := []struct {
		name string
		row  map[string]any
		want time.Time
	}{
		{"eventTime wins", map[string]any{"eventInfo": info}, evTime},
		{"eventInfo time when eventTime is null", map[string]any{"eventInfo": info, "eventTime": nil}, time.Date(2024, 7, 1, 13, 0, 0, 0, time.UTC)},
		{"TimeGenerated when neither", map[string]any{"eventInfo": "No changes found.", "eventTime": nil}, generated},
		{"non-UTC eventTime becomes UTC", map[string]any{"eventTime": evTime.In(time.FixedZone("x", 3600))}, evTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Audit(auditRow(t, tt.row))
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Time.Equal(tt.want) || ev.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v UTC", ev.Time, tt.want)
			}
		})
	}
}

func TestAuditBadRows(t *testing.T) {
	short := auditRow(t, nil)[:5]
	tests := []struct {
		name string
		row  schema.Row
	}{
		{"short row", short},
		{"nil row", nil},
		{"id not a string", auditRow(t, map[string]any{"id": 42})},
		{"eventTime not a time", auditRow(t, map[string]any{"eventTime": "2024-07-01"})},
		{"empty id", auditRow(t, map[string]any{"id": ""})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Audit(tt.row)
			var re *RowError
			if !errors.As(err, &re) || re.Table != "Audit_CL" {
				t.Fatalf("err = %v, want a RowError for Audit_CL", err)
			}
		})
	}
}

func TestFor(t *testing.T) {
	f, ok := For("Audit_CL")
	if !ok {
		t.Fatal("no mapping for Audit_CL")
	}
	evs, err := f(auditRow(t, map[string]any{"auditType": "User Logged On", "user": "a@b.example"}))
	if err != nil || len(evs) != 1 || evs[0].EventType != schema.EventAppLogin {
		t.Errorf("mapping gave %v, %v", evs, err)
	}
	if _, err := f(nil); err == nil {
		t.Error("mapping accepted a nil row")
	}
	for _, name := range []string{"", "audit_cl", "Nope_CL"} {
		if _, ok := For(name); ok {
			t.Errorf("For(%q) found a mapping", name)
		}
	}
	seen := map[string]bool{}
	for _, m := range Mappings() {
		if schema.TableByName(m.Table) == nil {
			t.Errorf("mapping for unknown table %s", m.Table)
		}
		if seen[m.Table] {
			t.Errorf("table %s mapped twice", m.Table)
		}
		seen[m.Table] = true
	}
}
