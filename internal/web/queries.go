package web

// All SQL the web UI sends through store.Store.Query lives in this file.
//
// The statements are written to run unchanged on DuckDB (the embedded store) and PostgreSQL (the shared store):
// identifiers are double-quoted (Audit_CL keeps Sentinel's mixed case and "user" is reserved in PostgreSQL),
// parameters are numbered ($1, $2, …), time bucketing uses date_trunc and conditional counts use FILTER, which
// both engines accept. The one engine-specific piece is the source-IP extraction, see ipExpr.

import "fmt"

// failedLogonType is the Audit_CL auditType of a failed logon, as the Sentinel Audit workbook filters it.
const failedLogonType = "Logon Authentication Failed"

// sourceIPPattern captures the source address from Audit_CL eventInfo, e.g. "…, IP: 34.235.45.235, Application: …".
const sourceIPPattern = `IP: ([0-9a-fA-F.:]+)`

// ipExpr extracts the source IP from eventInfo, or the empty string when there is none (DuckDB regexp_extract).
//
// PostgreSQL form (substring with a pattern returns the first capture group, or NULL without a match):
//
//	coalesce(substring("eventInfo" from 'IP: ([0-9a-fA-F.:]+)'), '')
const ipExpr = `regexp_extract("eventInfo", '` + sourceIPPattern + `', 1)`

// query is one statement with its arguments.
type query struct {
	SQL  string
	Args []any
}

// auditWindow is the WHERE clause shared by the Audit_CL queries: $1 auditType, $2 from (inclusive), $3 to
// (exclusive), and $4 tenant when one is selected.
func auditWindow(tenant string, withType bool) string {
	w := `"eventTime" >= $2 AND "eventTime" < $3`
	if withType {
		w = `"auditType" = $1 AND ` + w
	}
	if tenant != "" {
		w += ` AND "tenant" = $4`
	}
	return w
}

func auditArgs(win window, tenant string) []any {
	args := []any{failedLogonType, win.From, win.To}
	if tenant != "" {
		args = append(args, tenant)
	}
	return args
}

// failedLogonsHourly counts failed logons per hour in the window. Columns: bucket (timestamp), failures (integer).
func failedLogonsHourly(win window, tenant string) query {
	return query{
		SQL: `SELECT date_trunc('hour', "eventTime") AS bucket, count(*) AS failures
FROM "Audit_CL"
WHERE ` + auditWindow(tenant, true) + `
GROUP BY 1
ORDER BY 1`,
		Args: auditArgs(win, tenant),
	}
}

// topFailingUsers lists the users with the most failed logons in the window.
// Columns: user, failures, last_seen.
func topFailingUsers(win window, tenant string, limit int) query {
	return query{
		SQL: fmt.Sprintf(`SELECT "user" AS user_name, count(*) AS failures, max("eventTime") AS last_seen
FROM "Audit_CL"
WHERE %s
GROUP BY "user"
ORDER BY failures DESC, user_name
LIMIT %d`, auditWindow(tenant, true), limit),
		Args: auditArgs(win, tenant),
	}
}

// topFailingIPs lists the source IPs (parsed from eventInfo) with the most failed logons in the window.
// Columns: ip, failures, users (distinct users seen from the address), last_seen.
func topFailingIPs(win window, tenant string, limit int) query {
	return query{
		SQL: fmt.Sprintf(`SELECT ip, count(*) AS failures, count(DISTINCT user_name) AS users, max(event_time) AS last_seen
FROM (
  SELECT %s AS ip, "user" AS user_name, "eventTime" AS event_time
  FROM "Audit_CL"
  WHERE %s
) failed
WHERE ip <> ''
GROUP BY ip
ORDER BY failures DESC, ip
LIMIT %d`, ipExpr, auditWindow(tenant, true), limit),
		Args: auditArgs(win, tenant),
	}
}

// auditSummary counts audit events, failed logons and users with failed logons in the window.
// Columns: events, failures, failing_users.
func auditSummary(win window, tenant string) query {
	return query{
		SQL: `SELECT count(*) AS events,
  count(*) FILTER (WHERE "auditType" = $1) AS failures,
  count(DISTINCT "user") FILTER (WHERE "auditType" = $1) AS failing_users
FROM "Audit_CL"
WHERE ` + auditWindow(tenant, false),
		Args: auditArgs(win, tenant),
	}
}
