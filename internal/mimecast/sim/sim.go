// Package sim is a simulated Mimecast tenant: an HTTP server that speaks the documented API 2.0 (OAuth2 client
// credentials, the /api/... envelope, pagination, rate limits) and the legacy API 1.0 (HMAC-SHA1 signed requests)
// over deterministic, generated data, with switchable faults. castwatch uses it for tests and demonstrations.
//
// Routes:
//
//	POST /oauth/token                       form body client_id, client_secret, grant_type=client_credentials
//	POST /api/audit/get-audit-events        records flat in data[]; dates startDateTime/endDateTime
//	POST /api/audit/get-categories          category codes
//	POST /api/ttp/url/get-logs              data[0].clickLogs[]
//	POST /api/ttp/attachment/get-logs       data[0].attachmentLogs[]
//	POST /api/ttp/impersonation/get-logs    data[0].impersonationLogs[] (+ resultCount)
//	POST /api/dlp/get-logs                  data[0].dlpLogs[]
//	POST /api/gateway/get-held-release-logs data[0].heldReleaseLogs[]; dates start/end
//	POST /api/archive/get-archive-search-logs data[0].logs[]; dates start/end
//	POST /api/awareness-training/company/get-{performance,safe-score,watchlist}-details   snapshots in data[]
//	POST /api/awareness-training/phishing/campaign/get-campaign      campaigns in data[] (body optional)
//	POST /api/awareness-training/phishing/campaign/get-user-data     data[0].items[] of campaign data[0].id
//	POST /api/ttp/threat-intel/get-feed     a STIX bundle per call; next token in x-mc-threat-feed-next-token
//	POST /api/audit/get-siem-logs           API 1.0 SIEM files: one per call, mc-siem-token, isLastToken at the end
//	GET  /siem/v1/batch/events/cg           value[]{url,expiry,size}, @nextPage, isCaughtUp (SIEMTypes)
//	GET  /siem/v1/batch/events/ci           the same for the Cloud Integrated types (CITypes)
//	GET  /siem-files/<signed id>            the pre-signed gzip NDJSON batch files (no Authorization)
//
// The /api/... functions accept a bearer token or an API 1.0 signature (Authorization "MC accessKey:signature",
// x-mc-date, x-mc-req-id, x-mc-app-id; see V1Signature); the SIEM batch routes take bearer tokens only. A product in
// Options.MissingProducts answers HTTP 403 app_forbidden.
//
// Data is generated per UTC hour from the seed, so the records of a past hour never change and advancing the
// clock only reveals more. A mailbox sends or receives about 100 messages a day (working hours of the account's
// zone, quieter at weekends), with spam, viruses, URL and attachment protection, impersonation and DLP hits,
// rejections at receipt, mail without TLS and failed deliveries at plausible rates. Users work from the office of
// their home zone's country and log on from home or a phone in that same country; about a third of them have one
// private address they mail now and then. Each UTC day also holds one of every attack story (Stories): a password
// spray, a logon from a new country followed by a forwarding rule to a public mail provider, malicious links
// clicked by a user with a SAFE score of F, DLP holds and a large message to a personal address. Ground truth is available directly
// (AuditRecords, LogRecords, SIEMEvents, AwarenessRecords, ThreatIntelIndicators, LegacySIEMFiles, Sprays,
// Stories, and APITruth / SIEMTruth for what the data faults serve) so tests can compare what a client collected
// with what the tenant holds. Faults never change the ground truth: a correct client still reaches every record.
//
// The /api/... functions answer newest first (oldestFirst flips the mail logs), filter time inclusively, use a
// default page size of DefaultPageSize and at most Options.PageSizeMax (larger requests are clamped; the
// response's meta.pagination.pageSize says so). Dates are accepted as 2006-01-02T15:04:05-0700 or RFC 3339;
// anything else is HTTP 200 with fail[] (err_validation_...). Page tokens are opaque, signed, bound to the function
// and query that produced them, and pin the result set to the moment of the first page. A follow-up may resend the
// filter with the token or send the token alone. The Awareness Training functions are snapshots of the current
// state that change slowly from day to day.
//
// SIEM batches: one file per type and 15-minute period, listed 15 minutes after the period ends; @nextPage is a
// cursor that stays valid as new batches arrive; file URLs expire an hour after listing (HTTP 403 afterwards).
//
// Transport faults (ParseFaults; "all" selects them): ratelimit (per-path call budget per window, 429 with
// X-RateLimit-* headers, Reset in ms), 5xx (500 internal-error or 503, never more than two in a row on a path),
// tokenexpiry (tokens stop working after Options.TokenUses data calls), emptypage (every result set ends with an
// empty page whose next is the dummy "String"), emptymid (some follow-up pages are first answered empty with a real
// next token), slow (added latency on every call). Rate limiting and 5xx apply to the data routes, not to
// /oauth/token or batch files. Data faults ("data" selects them): dupes, gzipfail, expiredurl, badjson (see Faults).
package sim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultPageSize is the page size used when a request does not set meta.pagination.pageSize.
const DefaultPageSize = 25

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultMailboxes       = 50
	DefaultDays            = 7
	DefaultDomain          = "example.com"
	DefaultClientID        = "castwatch-sim-client"
	DefaultClientSecret    = "castwatch-sim-secret"
	DefaultTokenTTL        = 1799 * time.Second
	DefaultPageSizeMax     = 500
	DefaultServerErrorRate = 0.2
	DefaultRateLimitCalls  = 20
	DefaultRateLimitWindow = time.Second
	DefaultTokenUses       = 3
	DefaultSlowMin         = 50 * time.Millisecond
	DefaultSlowMax         = 200 * time.Millisecond
	DefaultEmptyMidRate    = 0.3
	maxDays                = 90
)

// Options configures a simulated tenant. Zero values take the defaults above.
type Options struct {
	// Seed makes the data and the fault pattern: the same Seed, Mailboxes, Days and Start give the same records.
	Seed int64
	// Mailboxes is the number of users in the tenant.
	Mailboxes int
	// Days is how far back data reaches from Start.
	Days int
	// Start is the moment the tenant was "switched on"; data spans [Start-Days, Now()]. Default: Now() at New.
	Start time.Time
	// Now is the tenant clock: records up to Now() are visible; tokens expire by it. Default time.Now.
	Now func() time.Time
	// Wall is the clock for rate-limit windows (which clients wait out in real time). Default time.Now.
	Wall func() time.Time
	// Faults selects the injected faults.
	Faults Faults
	// TokenTTL is the bearer token lifetime (expires_in). Default 1799 s.
	TokenTTL time.Duration
	// ClientID and ClientSecret are the only accepted OAuth2 client credentials.
	ClientID, ClientSecret string
	// PageSizeMax caps meta.pagination.pageSize. Default 500.
	PageSizeMax int
	// Domain is the tenant's mail domain (user addresses are name@Domain).
	Domain string

	// ServerErrorRate is the share of data calls answered with 500/503 under the 5xx fault. Default 0.2.
	ServerErrorRate float64
	// RateLimitCalls is the per-path call budget per RateLimitWindow under the ratelimit fault. Default 20.
	RateLimitCalls int
	// RateLimitWindow is the rate-limit window. Default 1 s.
	RateLimitWindow time.Duration
	// TokenUses is how many data calls a token serves under the tokenexpiry fault. Default 3.
	TokenUses int
	// SlowMin and SlowMax bound the latency added to each call under the slow fault. Default 50–200 ms.
	SlowMin, SlowMax time.Duration
	// EmptyMidRate is the share of follow-up pages first answered empty under the emptymid fault. Default 0.3.
	EmptyMidRate float64

	// AccessKey and SecretKey (base64) are the API 1.0 binding the tenant accepts in HMAC-signed requests.
	AccessKey, SecretKey string
	// AppID and AppKey are the registered API 1.0 application (x-mc-app-id and the key in the signed data).
	AppID, AppKey string
	// QuietUntil makes the days that begin before it benign: no attack stories and no password sprays on them
	// (behaviour models can learn a clean baseline first). Zero: every day has its stories.
	QuietUntil time.Time
	// MissingProducts lists products the tenant is not licensed for (Product* constants); their endpoints answer
	// HTTP 403 app_forbidden.
	MissingProducts []string
}

// quiet reports whether UTC day (days since 1970) is a benign day without stories (see Options.QuietUntil).
func (s *Sim) quiet(day int64) bool {
	return !s.opts.QuietUntil.IsZero() && time.Unix(day*86400, 0).Before(s.opts.QuietUntil)
}

// Products the tenant's endpoints belong to (for Options.MissingProducts).
const (
	ProductAudit       = "audit"       // get-audit-events, get-categories
	ProductTTP         = "ttp"         // TTP URL, attachment and impersonation logs
	ProductDLP         = "dlp"         // DLP logs
	ProductSIEM        = "siem"        // SIEM batch routes (cg, ci) and get-siem-logs
	ProductAwareness   = "awareness"   // Awareness Training functions
	ProductGateway     = "gateway"     // held-release logs
	ProductArchive     = "archive"     // archive search logs
	ProductThreatIntel = "threatintel" // threat-intel feed
)

// products lists the known product names.
var products = []string{ProductAudit, ProductTTP, ProductDLP, ProductSIEM, ProductAwareness, ProductGateway, ProductArchive, ProductThreatIntel}

// Stats counts what the tenant served and which faults it injected.
type Stats struct {
	// Calls is every HTTP request received.
	Calls int
	// TokensIssued counts successful POST /oauth/token calls.
	TokensIssued int
	// BadCredentials counts token requests refused with InvalidClientIdentifier.
	BadCredentials int
	// Unauthorized counts data calls refused for a missing or unknown bearer token.
	Unauthorized int
	// TokenExpired counts data calls refused with token_expired.
	TokenExpired int
	// RateLimited counts HTTP 429 answers.
	RateLimited int
	// ServerErrors counts injected HTTP 500/503 answers.
	ServerErrors int
	// ValidationFailures counts HTTP 200 answers carrying fail[].
	ValidationFailures int
	// Pages counts data pages served (including empty ones).
	Pages int
	// EmptyPages counts dummy last pages ("next":"String") served under the emptypage fault.
	EmptyPages int
	// EmptyMidPages counts empty mid-result pages served under the emptymid fault.
	EmptyMidPages int
	// Slowed counts calls that were delayed under the slow fault.
	Slowed int
	// DuplicateURLs counts batch listings that repeated a file URL under the dupes fault.
	DuplicateURLs int
	// ExpiredURLs counts batch-file downloads refused with 403 because the URL had expired.
	ExpiredURLs int
	// FileFailures counts batch-file downloads that failed (500 or truncated gzip) under the gzipfail fault.
	FileFailures int
	// Forbidden counts calls refused with app_forbidden because the tenant lacks the product.
	Forbidden int
	// BadSignatures counts API 1.0 calls refused with err_xdk_invalid_signature.
	BadSignatures int
	// BindingExpired counts API 1.0 calls refused with 418 err_xdk_binding_expired.
	BindingExpired int
}

// Sim is a simulated Mimecast tenant. It is safe for concurrent use.
type Sim struct {
	opts   Options
	origin time.Time // Start - Days: no record is older
	users  []user
	admins int    // users[:admins] are administrators
	key    []byte // signs page tokens

	acct    *time.Location // the account's zone
	hq      string         // the office of the account's own country (the tenant's mail servers)
	integIP string         // address of the SIEM/threat-intel integration

	mu        sync.Mutex
	stats     Stats
	tokens    map[string]*token
	tokenN    uint64
	callN     map[string]uint64 // per-path data call counter (fault decisions)
	faultRun  map[string]int    // per-path consecutive injected 5xx
	windows   map[string]*rateWindow
	buckets   map[int64][]event // generated hours, immutable once made
	mail      map[int64]mailHour
	files     map[string]siemFileData // batch files by type|period
	listings  map[string]int          // how often each batch file was listed (expiredurl)
	downloads map[string]int          // how often each batch file was fetched (gzipfail)
	ci        map[int64]map[string][]logRec
	days      map[int64]daySpray
	plans     map[int64]dayPlan

	results map[string][]any // result sets by cursor (resultSet)

	bindingExpired bool // API 1.0 calls answer 418 (ExpireBinding)
}

type token struct {
	expires time.Time
	uses    int
}

type rateWindow struct {
	start time.Time
	used  int
}

// New validates opts, applies defaults and builds the tenant.
func New(opts Options) (*Sim, error) {
	if opts.Mailboxes < 0 {
		return nil, fmt.Errorf("mailboxes must not be negative, got %d", opts.Mailboxes)
	}
	if opts.Days < 0 || opts.Days > maxDays {
		return nil, fmt.Errorf("days must be between 0 and %d, got %d", maxDays, opts.Days)
	}
	if opts.PageSizeMax < 0 {
		return nil, fmt.Errorf("page size max must not be negative, got %d", opts.PageSizeMax)
	}
	if opts.ServerErrorRate < 0 || opts.ServerErrorRate > 0.9 {
		return nil, fmt.Errorf("server error rate must be between 0 and 0.9, got %g", opts.ServerErrorRate)
	}
	if opts.EmptyMidRate < 0 || opts.EmptyMidRate > 1 {
		return nil, fmt.Errorf("empty mid rate must be between 0 and 1, got %g", opts.EmptyMidRate)
	}
	if opts.SlowMin < 0 || opts.SlowMax < opts.SlowMin && opts.SlowMax != 0 {
		return nil, fmt.Errorf("slow latency range %s..%s is invalid", opts.SlowMin, opts.SlowMax)
	}
	for _, p := range opts.MissingProducts {
		if !slices.Contains(products, p) {
			return nil, fmt.Errorf("unknown product %q (valid: %s)", p, strings.Join(products, ", "))
		}
	}
	if opts.SecretKey != "" {
		if _, err := base64.StdEncoding.DecodeString(opts.SecretKey); err != nil {
			return nil, fmt.Errorf("secret key must be base64: %w", err)
		}
	}
	if opts.Mailboxes == 0 {
		opts.Mailboxes = DefaultMailboxes
	}
	if opts.Days == 0 {
		opts.Days = DefaultDays
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Wall == nil {
		opts.Wall = time.Now
	}
	if opts.Start.IsZero() {
		opts.Start = opts.Now()
	}
	opts.Start = opts.Start.UTC().Truncate(time.Second)
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.PageSizeMax == 0 {
		opts.PageSizeMax = DefaultPageSizeMax
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.ServerErrorRate == 0 {
		opts.ServerErrorRate = DefaultServerErrorRate
	}
	if opts.RateLimitCalls <= 0 {
		opts.RateLimitCalls = DefaultRateLimitCalls
	}
	if opts.RateLimitWindow <= 0 {
		opts.RateLimitWindow = DefaultRateLimitWindow
	}
	if opts.TokenUses <= 0 {
		opts.TokenUses = DefaultTokenUses
	}
	if opts.SlowMin == 0 && opts.SlowMax == 0 {
		opts.SlowMin, opts.SlowMax = DefaultSlowMin, DefaultSlowMax
	}
	if opts.SlowMax < opts.SlowMin {
		opts.SlowMax = opts.SlowMin
	}
	if opts.EmptyMidRate == 0 {
		opts.EmptyMidRate = DefaultEmptyMidRate
	}
	for _, d := range []struct {
		v   *string
		def string
	}{
		{&opts.AccessKey, DefaultAccessKey}, {&opts.SecretKey, DefaultSecretKey}, {&opts.AppID, DefaultAppID}, {&opts.AppKey, DefaultAppKey},
	} {
		if *d.v == "" {
			*d.v = d.def
		}
	}
	s := &Sim{
		opts:      opts,
		origin:    opts.Start.Add(-time.Duration(opts.Days) * 24 * time.Hour),
		key:       hashBytes(opts.Seed, "page-token-key"),
		tokens:    map[string]*token{},
		callN:     map[string]uint64{},
		faultRun:  map[string]int{},
		windows:   map[string]*rateWindow{},
		buckets:   map[int64][]event{},
		mail:      map[int64]mailHour{},
		files:     map[string]siemFileData{},
		listings:  map[string]int{},
		downloads: map[string]int{},
		ci:        map[int64]map[string][]logRec{},
		days:      map[int64]daySpray{},
		plans:     map[int64]dayPlan{},
		results:   map[string][]any{},
	}
	s.users = makeUsers(opts.Seed, opts.Mailboxes, opts.Domain)
	markHabits(opts.Seed, s.users)
	markPersonal(opts.Seed, s.users)
	s.acct = accountZone(opts.Seed)
	for s.admins < len(s.users) && s.users[s.admins].admin {
		s.admins++
	}
	offices := officeIPs(opts.Seed)
	s.hq = offices[zoneNet(s.acct.String(), s.acct.String()).code]
	for i := range s.users {
		s.users[i].office = offices[s.users[i].net.code]
	}
	// The integration runs in the cloud region of the country of the administrator it acts for.
	s.integIP = s.hq
	if len(s.users) > 0 {
		s.integIP = s.users[0].net.cloud.draw(rngFor(opts.Seed, "integration", 0))
	}
	return s, nil
}

// Options returns the effective options after defaults.
func (s *Sim) Options() Options { return s.opts }

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Mailboxes returns the tenant's user addresses in a stable order.
func (s *Sim) Mailboxes() []string {
	out := make([]string, len(s.users))
	for i, u := range s.users {
		out[i] = u.email
	}
	return out
}

// Handler returns the tenant's HTTP API.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token", s.handleToken)
	mux.Handle(PathAuditEvents, s.dataCall(ProductAudit, http.MethodPost, s.handleAuditEvents))
	mux.Handle("/api/audit/get-categories", s.dataCall(ProductAudit, http.MethodPost, s.handleAuditCategories))
	for path := range logListKeys {
		mux.Handle(path, s.dataCall(logProducts[path], http.MethodPost, s.handleLogs))
	}
	for _, path := range atPaths {
		mux.Handle(path, s.dataCall(ProductAwareness, http.MethodPost, s.handleAwareness))
	}
	mux.Handle(PathThreatIntel, s.dataCall(ProductThreatIntel, http.MethodPost, s.handleThreatIntel))
	mux.Handle(PathSIEMLogs, s.dataCall(ProductSIEM, http.MethodPost, s.handleSIEMLogs))
	mux.Handle(PathSIEMBatchCG, s.dataCall(ProductSIEM, http.MethodGet, s.siemBatch(siemRouteCG)))
	mux.Handle(PathSIEMBatchCI, s.dataCall(ProductSIEM, http.MethodGet, s.siemBatch(siemRouteCI)))
	mux.HandleFunc(siemFilePrefix, s.handleSIEMFile)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{
			"meta": map[string]any{"status": http.StatusNotFound},
			"data": []any{},
			"fail": []any{flatFail("not_found", "No route for "+r.URL.Path)},
		})
	})
	return s.withCommon(mux)
}

// Serve answers the API on ln until ctx is done, then shuts down gracefully.
func (s *Sim) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("simulated tenant: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("simulated tenant shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("simulated tenant: %w", err)
	}
	return nil
}

// ListenAndServe listens on addr (host:port) and serves the API until ctx is done.
func (s *Sim) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("simulated tenant listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}
