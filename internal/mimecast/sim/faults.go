package sim

import (
	"fmt"
	"strings"
)

// Faults selects the failure modes the simulated tenant injects. The zero value injects nothing.
type Faults struct {
	// RateLimit gives every data path a call budget per window; calls over budget answer HTTP 429 with
	// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (milliseconds until the window resets).
	RateLimit bool
	// ServerError makes some data calls answer HTTP 500 with the documented internal-error body, or HTTP 503.
	ServerError bool
	// TokenExpiry makes bearer tokens expire after a few data calls (Options.TokenUses), well before the
	// expires_in the token endpoint announced, so clients must re-authenticate in the middle of a pagination.
	TokenExpiry bool
	// EmptyPage ends every result set with the documented last-page quirk: the last page with data carries a
	// real next token, and that token answers an empty data array with the dummy "next":"String".
	EmptyPage bool
	// EmptyMid serves, inside some result sets, an empty data page that still carries a real next token which
	// leads on to the remaining records. Clients that stop on the first empty page lose records.
	EmptyMid bool
	// Slow adds latency to every call (Options.SlowMin..Options.SlowMax).
	Slow bool

	// Dupes serves records more than once: SIEM events repeated in the next batch file, a batch URL listed twice
	// in a listing page, and some /api records served twice in a row. Ground truth (Truth) lists them.
	Dupes bool
	// GzipFail makes the first download of some batch files fail with HTTP 500 or a truncated gzip body; the same
	// URL answers correctly when retried.
	GzipFail bool
	// ExpiredURL makes the first listing of some batch files hand out a URL that has already expired (403); a new
	// listing gives a fresh, working URL.
	ExpiredURL bool
	// BadJSON puts malformed NDJSON lines into some batch files and, into /api results, some records with a field
	// the decoders reject. Ground truth (Truth.Malformed) lists exactly those.
	BadJSON bool
}

// faultNames lists the names ParseFaults accepts, in the order String prints them. The first six are the
// transport faults "all" selects; the data faults after them change what is served (not the ground truth) and are
// selected by name or with "data".
var faultNames = []string{"ratelimit", "5xx", "tokenexpiry", "emptypage", "emptymid", "slow", "dupes", "gzipfail", "expiredurl", "badjson"}

// ParseFaults parses a comma-separated fault list such as "ratelimit,5xx,slow". Names are case-insensitive and
// surrounding spaces are ignored; "" and "none" select no fault, "all" selects every transport fault (ratelimit,
// 5xx, tokenexpiry, emptypage, emptymid, slow), "data" every data fault (dupes, gzipfail, expiredurl, badjson).
func ParseFaults(list string) (Faults, error) {
	var f Faults
	for _, raw := range strings.Split(list, ",") {
		name := strings.ToLower(strings.TrimSpace(raw))
		switch name {
		case "", "none":
		case "all":
			f = Faults{RateLimit: true, ServerError: true, TokenExpiry: true, EmptyPage: true, EmptyMid: true, Slow: true}
		case "ratelimit":
			f.RateLimit = true
		case "5xx":
			f.ServerError = true
		case "tokenexpiry":
			f.TokenExpiry = true
		case "emptypage":
			f.EmptyPage = true
		case "emptymid":
			f.EmptyMid = true
		case "slow":
			f.Slow = true
		case "data":
			f.Dupes, f.GzipFail, f.ExpiredURL, f.BadJSON = true, true, true, true
		case "dupes":
			f.Dupes = true
		case "gzipfail":
			f.GzipFail = true
		case "expiredurl":
			f.ExpiredURL = true
		case "badjson":
			f.BadJSON = true
		default:
			return Faults{}, fmt.Errorf("unknown fault %q (valid: %s, all, none); data faults: %s, data", strings.TrimSpace(raw),
				strings.Join(faultNames[:6], ", "), strings.Join(faultNames[6:], ", "))
		}
	}
	return f, nil
}

// String returns the faults as the comma list ParseFaults reads; "none" when no fault is selected.
func (f Faults) String() string {
	on := []bool{f.RateLimit, f.ServerError, f.TokenExpiry, f.EmptyPage, f.EmptyMid, f.Slow, f.Dupes, f.GzipFail, f.ExpiredURL, f.BadJSON}
	var names []string
	for i, b := range on {
		if b {
			names = append(names, faultNames[i])
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}
