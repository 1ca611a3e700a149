// Package lists holds the named context lists that behaviour rules consult: IP addresses and networks (Tor exit
// nodes, blocklists), countries, domains, users, keywords and file extensions. Each list starts from a built-in
// default (see README.md) or empty, and may be replaced or extended by a file or an http(s) URL that is reloaded
// periodically. A Set answers lookups without locks or allocations while sources refresh in the background.
package lists

import "slices"

// The list names. config.KnownLists holds the same names for validating the configuration (a test keeps the two
// equal).
const (
	TorExitNodes         = "tor_exit_nodes"
	BlocklistedIPs       = "blocklisted_ips"
	RansomwareIPs        = "ransomware_ips"
	SuspiciousCountries  = "suspicious_countries"
	PublicMailDomains    = "public_mail_domains"
	DisposableDomains    = "disposable_domains"
	CompetitorDomains    = "competitor_domains"
	Executives           = "executives"
	PrivilegedUsers      = "privileged_users"
	ServiceAccounts      = "service_accounts"
	DisabledAccounts     = "disabled_accounts"
	PrivacyKeywords      = "privacy_keywords"
	JobSearchKeywords    = "job_search_keywords"
	SourceCodeExtensions = "source_code_extensions"
)

// Kind is what a list holds, which decides how its entries are parsed and matched.
type Kind string

// The list kinds.
const (
	// KindIP: IPv4 and IPv6 addresses and CIDR networks; the Tor Project's exit list lines
	// "ExitAddress 1.2.3.4 <time>" are read too.
	KindIP Kind = "ip"
	// KindCountry: ISO 3166-1 alpha-2 codes, any case.
	KindCountry Kind = "country"
	// KindDomain: domains; an entry matches itself and its subdomains, any case.
	KindDomain Kind = "domain"
	// KindUser: e-mail addresses or names, matched whole, any case.
	KindUser Kind = "user"
	// KindKeyword: words or phrases found as whole words inside a text, any case.
	KindKeyword Kind = "keyword"
	// KindExtension: file extensions with or without the leading dot, any case.
	KindExtension Kind = "extension"
)

type spec struct {
	name string
	kind Kind
}

// specs lists every list in a stable order with its kind. Built-in defaults are embedded from defaults/<name>.txt.
var specs = []spec{
	{TorExitNodes, KindIP},
	{BlocklistedIPs, KindIP},
	{RansomwareIPs, KindIP},
	{SuspiciousCountries, KindCountry},
	{PublicMailDomains, KindDomain},
	{DisposableDomains, KindDomain},
	{CompetitorDomains, KindDomain},
	{Executives, KindUser},
	{PrivilegedUsers, KindUser},
	{ServiceAccounts, KindUser},
	{DisabledAccounts, KindUser},
	{PrivacyKeywords, KindKeyword},
	{JobSearchKeywords, KindKeyword},
	{SourceCodeExtensions, KindExtension},
}

// Names returns every list name in a stable order.
func Names() []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return names
}

// KindOf returns the kind of the named list.
func KindOf(name string) (Kind, bool) {
	i := slices.IndexFunc(specs, func(s spec) bool { return s.name == name })
	if i < 0 {
		return "", false
	}
	return specs[i].kind, true
}
