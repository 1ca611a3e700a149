package schema

// Tables returns every stored table, in a stable order. Adding a table means adding it here.
func Tables() []*Table {
	return []*Table{
		&Audit,
		&SegCg,
		&SegDlp,
		&CloudIntegrated,
		&TtpURL,
		&TtpAttachment,
		&TtpImpersonation,
		&AwarenessPerformance,
		&AwarenessSafeScore,
		&AwarenessWatchlist,
		&AwarenessUserData,
		&MessageRelease,
		&ArchiveSearch,
		&ThreatIntel,
		&RawEvent,
	}
}

// TableByName returns the table with the given name, or nil.
func TableByName(name string) *Table {
	for _, t := range Tables() {
		if t.Name == name {
			return t
		}
	}
	return nil
}
