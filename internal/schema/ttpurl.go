package schema

import (
	"encoding/json"
	"fmt"
	"strings"
)

var ttpURL = recordTable{
	name: "Ttp_Url_CL",
	cols: append(append([]Column{{"Date", DateTime}},
		cols(String, "tagMap_DangerousFileExt_Status", "tagMap_UrlReputationScan_Status",
			"tagMap_ContentCheck_DangerousMimetypesUrlFileDownload", "tagMap_ContentCheck_DangerousExtsUrlFileDownload",
			"tagMap_AdvancedPhishing_CredentialTheftEvidence", "tagMap_AdvancedPhishing_CredentialTheftTags",
			"mimecastEventId", "mimecastEventCategory", "advancedPhishingResult_CredentialTheftBrands",
			"advancedPhishingResult_CredentialTheftEvidence", "advancedPhishingResult_CredentialTheftTags",
			"tagMap_CustomerManagedUrls_ManagedUrlEntry", "tagMap_CustomerManagedUrls_Blocklisted",
			"tagMap_UrlReputationScan_Type", "tagMap_UrlReputationScan_UrlBlock", "tagMap_UrlReputationScan_Url",
			"userEmailAddress", "fromUserEmailAddress", "url", "ttpDefinition", "subject", "action",
			"adminOverride", "userOverride", "scanResult", "sendingIp", "userAwarenessAction", "route",
			"creationMethod", "messageId", "tagMap_DangerousFileExt_Inspect_FileExts",
			"tagMap_DangerousFileExt_Inspect_MimeTypes", "tagMap_DangerousFileExt_ContentCheck_ContentScannersBlocked",
			"Category", "tagMap_AvScanning_ContentCheck_AvSignatureName",
			"tagMap_AvScanning_ScannerInfo_CategoryTrigger", "tagMap_AvScanning_ContentCheck_AvSignatureFileExts",
			"tagMap_AvScanning_ContentCheck_UrlFileDownloadFilename", "tagMap_CustomerManagedUrls_Status")...),
		cols(Dynamic, "actions", "emailPartsDescription")...),
	source:    map[string]string{"Date": "date", "Category": "category"},
	required:  []string{"date", "url"},
	key:       []string{"Date", "userEmailAddress", "url", "messageId", "action", "creationMethod"},
	eventTime: "Date",
}

// TtpURL is Ttp_Url_CL: URL protection clicks and scans from POST /api/ttp/url/get-logs (records in
// data[0].clickLogs). The nested tagMap and advancedPhishingResult objects are flattened into the Sentinel
// tagMap_<Group>_<Key> and advancedPhishingResult_<Key> columns, with ":" in keys read as "_".
var TtpURL = newTtpURL()

// newTtpURL builds Ttp_Url_CL; its prepare step needs the table's own column names.
func newTtpURL() Table {
	s := ttpURL
	names := map[string]bool{}
	for _, c := range s.cols {
		names[c.Name] = true
	}
	s.prepare = func(m fieldMap) error { return flattenTTPURL(m, names) }
	return s.table()
}

// flattenTTPURL adds tagMap_* and advancedPhishingResult_* fields for the nested objects. A tagMap leaf whose
// full name (tagMap_<Group>_<Key>) is not a column is tried without the group (tagMap_<Key>), which is how
// Sentinel names the ContentCheck download columns.
func flattenTTPURL(m fieldMap, columns map[string]bool) error {
	if v := m["tagMap"]; !isNull(v) {
		var groups map[string]map[string]json.RawMessage
		if err := json.Unmarshal(v, &groups); err != nil {
			return fmt.Errorf("tagMap: not an object of objects: %w", err)
		}
		for g, leaves := range groups {
			for k, val := range leaves {
				leaf := flatName(k)
				full := "tagMap_" + flatName(g) + "_" + leaf
				if !columns[full] && columns["tagMap_"+leaf] {
					full = "tagMap_" + leaf
				}
				if _, exists := m[full]; !exists {
					m[full] = val
				}
			}
		}
	}
	if v := m["advancedPhishingResult"]; !isNull(v) {
		var res map[string]json.RawMessage
		if err := json.Unmarshal(v, &res); err != nil {
			return fmt.Errorf("advancedPhishingResult: not an object: %w", err)
		}
		for k, val := range res {
			name := "advancedPhishingResult_" + flatName(k)
			if _, exists := m[name]; !exists {
				m[name] = val
			}
		}
	}
	return nil
}

// flatName turns a nested key such as "Inspect:FileExts" into its column-name part "Inspect_FileExts".
func flatName(k string) string { return strings.ReplaceAll(k, ":", "_") }
