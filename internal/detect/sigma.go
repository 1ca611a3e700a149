package detect

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/castwatch/castwatch/internal/schema"
)

// Sigma compatibility: a file with a top-level `logsource` is read as a Sigma rule (SigmaHQ rule specification
// v2) and translated into a castwatch rule before validation:
//
//	title                 → title (and description when the rule has none)
//	id                    → id (required: alert identities are built from it)
//	status, references    → the same
//	level                 → severity (default medium)
//	tags attack.tNNNN[.NNN] → techniques; attack.<tactic_name> → tactics (Sentinel spelling)
//	modified or date      → version (2026-11-20 → 2026.11.20; default 1)
//	logsource.product     → must be mimecast
//	logsource.service     → reads.tables (sigmaServices)
//	logsource.category    → reads.event_types (a normalized event type; "authentication" = both login types)
//	detection             → detection, unchanged; a field may be a normalized field, fields.<column>, or a source
//	                        column of the service's tables (sigmaColumns: promoted columns map to their
//	                        normalized field, the others to fields.<column>)
//
// author, name, fields, falsepositives, scope, related, license and taxonomy are accepted and ignored. The
// castwatch blocks threshold, entities, dedup, suppress, tests, event_label and version may be added to a Sigma
// rule; anything else is an error, as in a castwatch rule.
var sigmaIgnored = []string{"author", "name", "fields", "falsepositives", "scope", "related", "license", "taxonomy", "date", "modified"}

// sigmaServices maps a Sigma logsource service to the stored tables it reads. A table name is accepted too.
var sigmaServices = map[string][]string{
	"audit":                 {"Audit_CL"},
	"cg":                    {"Seg_Cg_CL"},
	"seg":                   {"Seg_Cg_CL"},
	"siem":                  {"Seg_Cg_CL"},
	"gateway":               {"Seg_Cg_CL"},
	"dlp":                   {"Seg_Dlp_CL"},
	"ci":                    {"Cloud_Integrated_CL"},
	"cloud_integrated":      {"Cloud_Integrated_CL"},
	"ttp":                   {"Ttp_Url_CL", "Ttp_Attachment_CL", "Ttp_Impersonation_CL"},
	"ttp_url":               {"Ttp_Url_CL"},
	"url_protect":           {"Ttp_Url_CL"},
	"ttp_attachment":        {"Ttp_Attachment_CL"},
	"attachment_protect":    {"Ttp_Attachment_CL"},
	"ttp_impersonation":     {"Ttp_Impersonation_CL"},
	"impersonation_protect": {"Ttp_Impersonation_CL"},
	"message_release":       {"Message_Release_CL"},
	"archive_search":        {"Archive_Search_CL"},
}

// sigmaCategories maps Sigma-style categories onto normalized event types, beyond the event type names.
var sigmaCategories = map[string][]string{
	"authentication": {schema.EventAppLogin, schema.EventFailedAppLogin},
}

// sigmaColumns maps, per table, the source columns that normalize promotes to a typed field onto that field.
// Other columns of the table are read from Event.Fields.
var sigmaColumns = map[string]map[string]string{
	"Audit_CL": {"auditType": "activity", "user": "user", "eventTime": "time"},
	"Seg_Cg_CL": {
		"Logtype": "activity", "aggregateId": "alert_id", "senderEnvelope": "sender", "recipients": "recipients",
		"subject": "subject", "emailSize": "bytes", "fileName": "attachment_names", "fileExtension": "attachment_extensions",
		"sha256": "attachment_hashes", "sha1": "attachment_hashes", "md5": "attachment_hashes", "senderIp": "src_ip",
		"messageId": "message_id", "direction": "direction", "action": "action", "timestamp": "time",
	},
	"Seg_Dlp_CL": {
		"senderAddress": "sender", "recipientAddress": "recipients", "subject": "subject", "route": "direction",
		"policy": "policy", "action": "action", "messageId": "message_id", "eventTime": "time",
	},
	"Cloud_Integrated_CL": {
		"type_": "activity", "aggregateId": "alert_id", "messageId": "message_id", "attachments": "attachment_names",
		"recipients": "recipients", "senderIp": "src_ip", "senderEnvelope": "sender", "subject": "subject",
		"direction": "direction", "timestamp": "time",
	},
	"Ttp_Url_CL": {
		"userEmailAddress": "user", "fromUserEmailAddress": "sender", "url": "url", "ttpDefinition": "policy",
		"subject": "subject", "action": "action", "route": "direction", "messageId": "message_id",
		"mimecastEventId": "alert_id", "Date": "time",
	},
	"Ttp_Attachment_CL": {
		"senderAddress": "sender", "recipientAddress": "recipients", "fileName": "attachment_names", "route": "direction",
		"messageId": "message_id", "subject": "subject", "fileHash": "attachment_hashes", "definition": "policy",
		"actionTriggered": "action", "Date": "time",
	},
	"Ttp_Impersonation_CL": {
		"id": "alert_id", "senderAddress": "sender", "recipientAddress": "recipients", "subject": "subject",
		"definition": "policy", "action": "action", "senderIpAddress": "src_ip", "messageId": "message_id",
		"eventTime": "time",
	},
}

// sigmaTactics maps ATT&CK tactic tags (attack.initial_access) onto Sentinel's tactic names.
var sigmaTactics = map[string]string{
	"reconnaissance": "Reconnaissance", "resource_development": "ResourceDevelopment",
	"initial_access": "InitialAccess", "execution": "Execution", "persistence": "Persistence",
	"privilege_escalation": "PrivilegeEscalation", "defense_evasion": "DefenseEvasion",
	"credential_access": "CredentialAccess", "discovery": "Discovery", "lateral_movement": "LateralMovement",
	"collection": "Collection", "command_and_control": "CommandAndControl", "exfiltration": "Exfiltration",
	"impact": "Impact",
}

var (
	sigmaTechniqueTag = regexp.MustCompile(`^attack\.t[0-9]`)
	sigmaGroupTag     = regexp.MustCompile(`^attack\.[gsm][0-9]{4}$`)
	sigmaDate         = regexp.MustCompile(`^([0-9]{4})[-/]([0-9]{2})[-/]([0-9]{2})$`)
)

// isSigma reports whether a rule document is a Sigma rule (it has a logsource).
func isSigma(root *yaml.Node) bool {
	if root.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "logsource" {
			return true
		}
	}
	return false
}

// scalar makes a string node placed at the line of at (so errors still point into the file).
func scalar(at *yaml.Node, v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: at.Line, Column: at.Column}
}

func strSeq(at *yaml.Node, vals []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: at.Line, Column: at.Column}
	for _, v := range vals {
		n.Content = append(n.Content, scalar(at, v))
	}
	return n
}

// fromSigma translates a Sigma rule document into a castwatch rule document and sets the parser's field
// resolver to accept the source columns of the tables the rule reads.
func (p *ruleParser) fromSigma(root *yaml.Node) (*yaml.Node, error) {
	allowed := append([]string{"title", "id", "status", "description", "references", "tags", "logsource",
		"detection", "level", "threshold", "entities", "dedup", "suppress", "tests", "event_label", "version"},
		sigmaIgnored...)
	m, err := p.fields(root, "", allowed...)
	if err != nil {
		return nil, err
	}
	for _, req := range []string{"title", "id", "logsource", "detection"} {
		if m[req] == nil {
			return nil, p.errf(root, req, "required (Sigma rule)")
		}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line, Column: root.Column}
	add := func(key string, v *yaml.Node) {
		out.Content = append(out.Content, scalar(v, key), v)
	}
	for _, k := range []string{"id", "title", "status", "references", "detection", "threshold", "entities", "dedup",
		"suppress", "tests", "event_label"} {
		if v := m[k]; v != nil {
			add(k, v)
		}
	}
	if v := m["description"]; v != nil {
		add("description", v)
	} else {
		add("description", m["title"])
	}
	if v := m["level"]; v != nil {
		add("severity", v)
	} else {
		add("severity", scalar(root, "medium"))
	}
	version := m["version"]
	if version == nil {
		version = scalar(root, "1")
		for _, k := range []string{"modified", "date"} {
			if v := m[k]; v != nil {
				d := sigmaDate.FindStringSubmatch(strings.TrimSpace(v.Value))
				if d == nil {
					return nil, p.errf(v, k, "invalid date %q (want YYYY-MM-DD or YYYY/MM/DD)", v.Value)
				}
				version = scalar(v, strings.TrimLeft(d[1], "0")+"."+strings.TrimLeft(d[2], "0")+"."+strings.TrimLeft(d[3], "0"))
				break
			}
		}
	}
	add("version", version)
	if v := m["tags"]; v != nil {
		techniques, tactics, err := p.sigmaTags(v)
		if err != nil {
			return nil, err
		}
		if len(techniques) > 0 {
			add("techniques", strSeq(v, techniques))
		}
		if len(tactics) > 0 {
			add("tactics", strSeq(v, tactics))
		}
	}
	reads, tables, err := p.sigmaLogsource(m["logsource"])
	if err != nil {
		return nil, err
	}
	add("reads", reads)
	p.resolve = func(name string) (*field, error) {
		if f, err := lookupField(name); err == nil {
			return f, nil
		}
		for _, t := range tables {
			if to, ok := sigmaColumns[t][name]; ok {
				return lookupField(to)
			}
		}
		for _, t := range tables {
			if tab := schema.TableByName(t); tab != nil && tab.ColumnIndex(name) >= 2 {
				return lookupField("fields." + name)
			}
		}
		return nil, fmt.Errorf("unknown field %q (not a normalized field nor a column of %s)", name, strings.Join(tables, ", "))
	}
	return out, nil
}

// sigmaTags reads ATT&CK tags: attack.t1566.001 → T1566.001, attack.initial_access → InitialAccess. Group,
// software and mitigation tags (attack.g0007) and tags of other namespaces (cve., car., tlp.) are ignored.
func (p *ruleParser) sigmaTags(n *yaml.Node) (techniques, tactics []string, err error) {
	tags, err := p.strList(n, "tags", false)
	if err != nil {
		return nil, nil, err
	}
	for i, tag := range tags {
		low := strings.ToLower(strings.TrimSpace(tag))
		rest, ok := strings.CutPrefix(low, "attack.")
		switch {
		case !ok || sigmaGroupTag.MatchString(low):
		case sigmaTechniqueTag.MatchString(low):
			id := strings.ToUpper(rest)
			if !techniquePattern.MatchString(id) {
				return nil, nil, p.errf(n.Content[i], fmt.Sprintf("tags[%d]", i), "invalid technique tag %q (want attack.t1234 or attack.t1234.001)", tag)
			}
			if !slices.Contains(techniques, id) {
				techniques = append(techniques, id)
			}
		default:
			name, ok := sigmaTactics[strings.ReplaceAll(rest, "-", "_")]
			if !ok {
				return nil, nil, p.errf(n.Content[i], fmt.Sprintf("tags[%d]", i), "unknown ATT&CK tag %q", tag)
			}
			if !slices.Contains(tactics, name) {
				tactics = append(tactics, name)
			}
		}
	}
	return techniques, tactics, nil
}

// sigmaLogsource turns a logsource into a reads block: product must be mimecast; service gives the tables and
// category the event types.
func (p *ruleParser) sigmaLogsource(n *yaml.Node) (*yaml.Node, []string, error) {
	m, err := p.fields(n, "logsource", "product", "service", "category", "definition")
	if err != nil {
		return nil, nil, err
	}
	prod := m["product"]
	if prod == nil || !strings.EqualFold(prod.Value, "mimecast") {
		return nil, nil, p.errf(n, "logsource.product", "must be mimecast")
	}
	reads := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	var tables []string
	if v := m["service"]; v != nil {
		s := strings.ToLower(v.Value)
		tables = sigmaServices[s]
		if tables == nil && schema.TableByName(v.Value) != nil {
			tables = []string{v.Value}
		}
		if tables == nil {
			names := make([]string, 0, len(sigmaServices))
			for k := range sigmaServices {
				names = append(names, k)
			}
			sort.Strings(names)
			return nil, nil, p.errf(v, "logsource.service", "unknown service %q (one of %s, or a table name)", v.Value, strings.Join(names, ", "))
		}
		reads.Content = append(reads.Content, scalar(v, "tables"), strSeq(v, tables))
	}
	if v := m["category"]; v != nil {
		types := sigmaCategories[strings.ToLower(v.Value)]
		if types == nil {
			t := strings.ReplaceAll(strings.ToLower(v.Value), "_", "-")
			if !slices.Contains(knownEventTypes, t) {
				return nil, nil, p.errf(v, "logsource.category", "unknown category %q (a normalized event type or authentication)", v.Value)
			}
			types = []string{t}
		}
		reads.Content = append(reads.Content, scalar(v, "event_types"), strSeq(v, types))
	}
	if len(reads.Content) == 0 {
		return nil, nil, p.errf(n, "logsource", "needs a service or a category")
	}
	if len(tables) == 0 {
		for t := range sigmaColumns {
			tables = append(tables, t)
		}
		sort.Strings(tables)
	}
	return reads, tables, nil
}
