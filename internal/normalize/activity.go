package normalize

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/castwatch/castwatch/internal/schema"
)

// Activities of the app-activity events built from castwatch's own tables.
const (
	// ActivityHeldRelease prefixes the status of a Message_Release_CL row: "Held Message released" or
	// "Held Message rejected".
	ActivityHeldRelease = "Held Message"
	// AppArchive is the app of archive searches when the row names no source.
	AppArchive = "archive"
)

var messageReleasePromoted = []string{"status", "operator", "fromEnv", "to", "subject", "route", "policy", "size"}

// MessageRelease normalizes one Message_Release_CL row into app-activity: the operator (user) released or
// rejected (action = status) a held message (object = its subject, else its id); outcome success, since the
// record is written once the action is done.
func MessageRelease(row schema.Row) (schema.Event, error) {
	t := &schema.MessageRelease
	ev, err := baseEvent(t, row, messageReleasePromoted...)
	if err != nil {
		return schema.Event{}, err
	}
	r := newRowReader(t, row)
	id := r.str("id")
	status := strings.TrimSpace(r.str("status"))
	setUser(&ev, strings.TrimSpace(r.str("operator")))
	setSender(&ev, r.str("fromEnv"), r.str("fromHdr"))
	var to []string
	if raw := r.dynamic("to"); raw != "" {
		var list []string
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			return schema.Event{}, &RowError{Table: t.Name, Reason: "to is not a list of addresses: " + err.Error()}
		}
		for _, a := range list {
			to = appendUnique(to, address(a))
		}
	}
	setRecipients(&ev, to)
	ev.Subject = r.str("subject")
	ev.Direction = direction(r.str("route"))
	ev.Policy = r.str("policy")
	if size, ok := r.real("size"); ok && size > 0 {
		ev.Bytes = int64(size)
	}
	if r.err != nil {
		return schema.Event{}, r.err
	}
	ev.EventType = schema.EventAppActivity
	ev.Action = status
	ev.Activity = strings.TrimSpace(ActivityHeldRelease + " " + status)
	ev.Object = firstNonEmpty(ev.Subject, id)
	ev.Outcome = schema.OutcomeSuccess
	return ev, nil
}

var archiveSearchPromoted = []string{"emailAddr", "source", "searchText", "description"}

// ArchiveSearch normalizes one Archive_Search_CL row into app-activity: the user (emailAddr; "<>" names nobody)
// ran a search (activity = description, e.g. "Message Tracking Search") for searchText (object) in source (app);
// outcome success, since only searches that ran are logged.
func ArchiveSearch(row schema.Row) (schema.Event, error) {
	t := &schema.ArchiveSearch
	ev, err := baseEvent(t, row, archiveSearchPromoted...)
	if err != nil {
		return schema.Event{}, err
	}
	r := newRowReader(t, row)
	if u := strings.TrimSpace(r.str("emailAddr")); u != "<>" {
		setUser(&ev, u)
	}
	ev.App = firstNonEmpty(strings.TrimSpace(r.str("source")), AppArchive)
	ev.Activity = strings.TrimSpace(r.str("description"))
	ev.Object = strings.TrimSpace(r.str("searchText"))
	if r.err != nil {
		return schema.Event{}, r.err
	}
	ev.EventType = schema.EventAppActivity
	ev.Outcome = schema.OutcomeSuccess
	return ev, nil
}

// noEvents is the mapping of tables that hold state or indicators rather than events (the four Awareness
// Training snapshots and Threat_Intel_CL): a row gives no event. It still checks the row has its table's shape.
// Why: a snapshot row says what a user's training state is when the poll ran, not that anything happened then;
// an indicator says a hash is known bad, not that anyone met it. Enrichment and dashboards read these tables
// directly (user risk, watchlists, hash look-ups), and a detection that needs them joins on them.
func noEvents(t *schema.Table) Func {
	return func(row schema.Row) ([]schema.Event, error) {
		if len(row) != len(t.Columns) {
			return nil, &RowError{Table: t.Name, Reason: fmt.Sprintf("row has %d values, table has %d columns", len(row), len(t.Columns))}
		}
		return nil, nil
	}
}

func messageReleaseRows(row schema.Row) ([]schema.Event, error) { return one(MessageRelease(row)) }
func archiveSearchRows(row schema.Row) ([]schema.Event, error)  { return one(ArchiveSearch(row)) }
