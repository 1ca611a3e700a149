package schema

var archiveSearch = recordTable{
	name: "Archive_Search_CL",
	cols: append([]Column{{"createTime", DateTime}},
		cols(String, "emailAddr", "source", "searchText", "searchReason", "description")...),
	required:  []string{"createTime", "emailAddr"},
	key:       []string{"createTime", "emailAddr", "source", "description", "searchText", "searchReason"},
	eventTime: "createTime",
}

// ArchiveSearch is Archive_Search_CL (castwatch addition): who searched the archive for what, from
// POST /api/archive/get-archive-search-logs (records in data[0].logs).
var ArchiveSearch = archiveSearch.table()
