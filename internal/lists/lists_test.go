package lists

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/config"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func writeList(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loaded builds a Set whose named list reads content from a file, and loads it.
func loaded(t *testing.T, name, content string, extend bool) *Set {
	t.Helper()
	s, err := New(Options{Logger: quiet, Sources: map[string]Source{name: {File: writeList(t, content), Extend: extend}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func statusOf(t *testing.T, s *Set, name string) ListStatus {
	t.Helper()
	i := slices.IndexFunc(s.Status(), func(st ListStatus) bool { return st.Name == name })
	if i < 0 {
		t.Fatalf("no status for %s", name)
	}
	return s.Status()[i]
}

func TestNamesMatchConfig(t *testing.T) {
	if !slices.Equal(Names(), config.KnownLists) {
		t.Fatalf("lists.Names() and config.KnownLists differ:\n%v\n%v", Names(), config.KnownLists)
	}
	if k, ok := KindOf(TorExitNodes); !ok || k != KindIP {
		t.Errorf("KindOf(tor_exit_nodes) = %q %v", k, ok)
	}
	if _, ok := KindOf("nope"); ok {
		t.Error("KindOf(nope) must be false")
	}
}

func TestIPList(t *testing.T) {
	s := loaded(t, BlocklistedIPs, `# published blocklist
198.51.100.7
203.0.113.0/24 ; SBL123
10.1.0.0/16    # internal test range
2001:db8:abcd::/48
2001:db8::1
::ffff:192.0.2.9
fe80::1%eth0
not-an-ip
300.1.1.1
203.0.113.0/33
1.2.3.4 extra words
`, false)
	for ip, want := range map[string]bool{
		"198.51.100.7":        true,
		"198.51.100.8":        false,
		"203.0.113.200":       true,
		"203.0.114.1":         false,
		"10.1.255.255":        true,
		"10.2.0.1":            false,
		"2001:db8:abcd:1::5":  true,
		"2001:db8:abce::1":    false,
		"2001:db8::1":         true,
		"2001:DB8::0:1":       true,
		"::ffff:198.51.100.7": true,
		"192.0.2.9":           true,
		"fe80::1":             true,
		" 198.51.100.7 ":      true,
		"garbage":             false,
		"":                    false,
	} {
		if got := s.HasIP(BlocklistedIPs, ip); got != want {
			t.Errorf("HasIP(%q) = %v, want %v", ip, got, want)
		}
	}
	st := statusOf(t, s, BlocklistedIPs)
	if st.Entries != 7 || st.Invalid != 4 || st.Kind != KindIP || st.LastError != "" || st.LastLoaded.IsZero() || st.NextRefresh.IsZero() {
		t.Errorf("status: %+v", st)
	}
	wantInvalid := []InvalidEntry{
		{Line: 9, Text: "not-an-ip", Reason: "not an IP address or CIDR network"},
		{Line: 10, Text: "300.1.1.1", Reason: "not an IP address or CIDR network"},
		{Line: 11, Text: "203.0.113.0/33", Reason: "not an IP address or CIDR network"},
		{Line: 12, Text: "1.2.3.4 extra words", Reason: "not an IP address or CIDR network"},
	}
	if !slices.Equal(st.InvalidEntries, wantInvalid) {
		t.Errorf("invalid entries:\n got %+v\nwant %+v", st.InvalidEntries, wantInvalid)
	}
	if s.HasIP(TorExitNodes, "198.51.100.7") {
		t.Error("another IP list must not match")
	}
}

func TestTorExitListFormat(t *testing.T) {
	s := loaded(t, TorExitNodes, `@type tordnsel 1.0
Downloaded 2026-05-01 10:02:03
ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
Published 2026-04-30 18:20:14
LastStatus 2026-05-01 08:00:00
ExitAddress 192.0.2.50 2026-05-01 08:09:26
ExitNode 0091174DE56EB1ADA88A25EB23A2E5E0ED9B4D26
Published 2026-04-30 20:11:52
LastStatus 2026-05-01 09:00:00
ExitAddress 2001:db8::50 2026-05-01 09:06:41
ExitAddress 192.0.2.51 2026-05-01 09:07:12
`, false)
	for _, ip := range []string{"192.0.2.50", "192.0.2.51", "2001:db8::50"} {
		if !s.HasIP(TorExitNodes, ip) {
			t.Errorf("exit %s not found", ip)
		}
	}
	if s.HasIP(TorExitNodes, "192.0.2.52") {
		t.Error("192.0.2.52 is no exit")
	}
	st := statusOf(t, s, TorExitNodes)
	// "Downloaded …" is no Tor exit list keyword: it is reported, not silently dropped.
	if st.Entries != 3 || st.Invalid != 1 || st.InvalidEntries[0].Line != 2 {
		t.Errorf("status: %+v", st)
	}
}

func TestCountryList(t *testing.T) {
	s := loaded(t, SuspiciousCountries, "KP\nir\n  Ru  \nXYZ\nD1\n", false)
	for code, want := range map[string]bool{"KP": true, "kp": true, "IR": true, "ru": true, "DE": false, "": false, "K": false} {
		if got := s.HasCountry(SuspiciousCountries, code); got != want {
			t.Errorf("HasCountry(%q) = %v, want %v", code, got, want)
		}
	}
	if st := statusOf(t, s, SuspiciousCountries); st.Entries != 3 || st.Invalid != 2 {
		t.Errorf("status: %+v", st)
	}
}

func TestDomainList(t *testing.T) {
	s := loaded(t, CompetitorDomains, "Rival.example\n*.other-corp.test\n@third.test.\nlocalhost\nbad domain.test\nfoo..test\n", false)
	for d, want := range map[string]bool{
		"rival.example":          true,
		"RIVAL.EXAMPLE":          true,
		"mail.rival.example":     true,
		"a.b.Rival.Example.":     true,
		"ceo@Rival.Example":      true,
		"notrival.example":       false,
		"rival.example.evil.net": false,
		"other-corp.test":        true,
		"x.other-corp.test":      true,
		"third.test":             true,
		"example":                false,
		"":                       false,
	} {
		if got := s.HasDomain(CompetitorDomains, d); got != want {
			t.Errorf("HasDomain(%q) = %v, want %v", d, got, want)
		}
	}
	st := statusOf(t, s, CompetitorDomains)
	if st.Entries != 3 || st.Invalid != 3 {
		t.Errorf("status: %+v", st)
	}
	if st.InvalidEntries[0] != (InvalidEntry{Line: 4, Text: "localhost", Reason: "not a domain (needs at least two labels, e.g. example.com)"}) {
		t.Errorf("first invalid: %+v", st.InvalidEntries[0])
	}
}

func TestUserList(t *testing.T) {
	s := loaded(t, Executives, "CEO@Corp.example\nJane   Doe\n# board\ncfo@corp.example\n", false)
	for u, want := range map[string]bool{
		"ceo@corp.example":  true,
		"Ceo@CORP.example":  true,
		"jane doe":          true,
		"Jane\tDoe":         true,
		"jane":              false,
		"cto@corp.example":  false,
		"ceo@corp.example2": false,
	} {
		if got := s.HasUser(Executives, u); got != want {
			t.Errorf("HasUser(%q) = %v, want %v", u, got, want)
		}
	}
	if s.HasUser(PrivilegedUsers, "ceo@corp.example") {
		t.Error("privileged_users is empty by default")
	}
}

func TestKeywordList(t *testing.T) {
	s := loaded(t, JobSearchKeywords, "CV\ncover letter\nrésumé\nresume\njob offer\njob\n---\n", false)
	for text, want := range map[string]string{
		"my CV attached":          "cv",
		"cv":                      "cv",
		"see my_cv.pdf":           "cv",
		"cvs and cvv":             "",
		"Cover-Letter final.docx": "cover letter",
		"cover  letters":          "",
		"coverletter":             "",
		"RÉSUMÉ for review":       "résumé",
		"Resume the meeting":      "resume",
		"the job offer from them": "job offer",
		"a job":                   "job",
		"no match here":           "",
		"":                        "",
		"offer a job offer":       "job offer",
	} {
		got, ok := s.MatchKeyword(JobSearchKeywords, text)
		if got != want || ok != (want != "") {
			t.Errorf("MatchKeyword(%q) = %q %v, want %q", text, got, ok, want)
		}
	}
	if st := statusOf(t, s, JobSearchKeywords); st.Entries != 6 || st.Invalid != 1 || st.InvalidEntries[0].Reason != "no letters or digits" {
		t.Errorf("status: %+v", st)
	}
}

func TestExtensionList(t *testing.T) {
	s := loaded(t, SourceCodeExtensions, ".GO\npy\n.tar gz\n.\n", false)
	for ext, want := range map[string]bool{".go": true, "go": true, ".Go": true, "PY": true, ".rs": false, "": false, ".": false} {
		if got := s.HasExtension(SourceCodeExtensions, ext); got != want {
			t.Errorf("HasExtension(%q) = %v, want %v", ext, got, want)
		}
	}
	if st := statusOf(t, s, SourceCodeExtensions); st.Entries != 2 || st.Invalid != 2 {
		t.Errorf("status: %+v", st)
	}
}

func TestBuiltInDefaults(t *testing.T) {
	s, err := New(Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  bool
		want bool
	}{
		{"gmail", s.HasDomain(PublicMailDomains, "someone@GMail.com"), true},
		{"yahoo.co.uk", s.HasDomain(PublicMailDomains, "yahoo.co.uk"), true},
		{"company domain", s.HasDomain(PublicMailDomains, "corp.example"), false},
		{"mailinator", s.HasDomain(DisposableDomains, "x@mailinator.com"), true},
		{"gmail not disposable", s.HasDomain(DisposableDomains, "gmail.com"), false},
		{"go source", s.HasExtension(SourceCodeExtensions, ".go"), true},
		{"pdf not source", s.HasExtension(SourceCodeExtensions, ".pdf"), false},
		{"tor empty", s.HasIP(TorExitNodes, "192.0.2.1"), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}
	if kw, ok := s.MatchKeyword(PrivacyKeywords, "Please find the Social Security Number below"); !ok || kw != "social security number" {
		t.Errorf("privacy keyword: %q %v", kw, ok)
	}
	if kw, ok := s.MatchKeyword(JobSearchKeywords, "Attached: my CV"); !ok || kw != "cv" {
		t.Errorf("job keyword: %q %v", kw, ok)
	}
	for _, st := range s.Status() {
		wantSource := "none"
		if slices.Contains([]string{PublicMailDomains, DisposableDomains, PrivacyKeywords, JobSearchKeywords, SourceCodeExtensions}, st.Name) {
			wantSource = "built-in"
			if st.Entries < 10 {
				t.Errorf("%s: only %d built-in entries", st.Name, st.Entries)
			}
		} else if st.Entries != 0 {
			t.Errorf("%s: must be empty by default, has %d", st.Name, st.Entries)
		}
		if st.Source != wantSource || st.Invalid != 0 || !st.NextRefresh.IsZero() {
			t.Errorf("%s: status %+v", st.Name, st)
		}
	}
}

func TestReplaceAndExtend(t *testing.T) {
	replaced := loaded(t, PublicMailDomains, "corp-mail.example\n", false)
	if replaced.HasDomain(PublicMailDomains, "gmail.com") || !replaced.HasDomain(PublicMailDomains, "corp-mail.example") {
		t.Error("replace mode must drop the built-in default")
	}
	extended := loaded(t, PublicMailDomains, "corp-mail.example\n", true)
	if !extended.HasDomain(PublicMailDomains, "gmail.com") || !extended.HasDomain(PublicMailDomains, "corp-mail.example") {
		t.Error("extend mode must keep the built-in default")
	}
	st := statusOf(t, extended, PublicMailDomains)
	if !strings.HasPrefix(st.Source, "built-in + ") || st.Entries != statusOf(t, replaced, PublicMailDomains).Entries+len(mustDefault(t, PublicMailDomains)) {
		t.Errorf("extend status: %+v", st)
	}
}

func mustDefault(t *testing.T, name string) map[string]struct{} {
	t.Helper()
	s, err := New(Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return s.lists[name].cur.Load().keys
}

func TestKindMismatchAndNil(t *testing.T) {
	s := loaded(t, Executives, "ceo@corp.example\n", false)
	if s.HasDomain(Executives, "ceo@corp.example") || s.HasIP("unknown", "1.2.3.4") {
		t.Error("a lookup of the wrong kind or an unknown list must be false")
	}
	var nilSet *Set
	if nilSet.HasUser(Executives, "x") || nilSet.Status() != nil || nilSet.Load(context.Background()) != nil {
		t.Error("nil Set")
	}
	if _, ok := nilSet.MatchKeyword(PrivacyKeywords, "ssn"); ok {
		t.Error("nil Set keyword")
	}
	if nilSet.PeerGroups().Group("x") != "" {
		t.Error("nil Set peer groups")
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New(Options{Sources: map[string]Source{
		"tor_exits":         {File: "x"},
		TorExitNodes:        {File: "x", URL: "https://h/x"},
		Executives:          {},
		RansomwareIPs:       {URL: "file:///etc/hosts"},
		SuspiciousCountries: {File: "x", Refresh: -time.Second},
	}})
	want := strings.Join([]string{
		`lists: executives: set file or url`,
		`lists: ransomware_ips: url "file:///etc/hosts": must be an http or https URL`,
		`lists: suspicious_countries: refresh -1s must not be negative`,
		`lists: tor_exit_nodes: set file or url, not both`,
		`lists: tor_exits: unknown list (known: ` + strings.Join(Names(), ", ") + `)`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("New:\n got %v\nwant %s", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "executives.txt")
	s, err := New(Options{Logger: quiet, Sources: map[string]Source{Executives: {File: missing}}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Load(context.Background())
	want := "lists: executives: cannot read " + missing + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("Load: %v, want %s", err, want)
	}
	if st := statusOf(t, s, Executives); st.LastError != strings.TrimPrefix(want, "lists: ") || !st.LastLoaded.IsZero() {
		t.Errorf("status: %+v", st)
	}
}

func TestFileReloadKeepsContentWhenUnreadable(t *testing.T) {
	path := writeList(t, "ceo@corp.example\n")
	s, err := New(Options{Logger: quiet, Sources: map[string]Source{Executives: {File: path}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("cfo@corp.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx); err != nil || !s.HasUser(Executives, "cfo@corp.example") || s.HasUser(Executives, "ceo@corp.example") {
		t.Fatalf("reload: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx); err == nil {
		t.Fatal("a removed file must be an error")
	}
	if !s.HasUser(Executives, "cfo@corp.example") {
		t.Error("an unreadable source must keep the previous content")
	}
	if st := statusOf(t, s, Executives); !strings.Contains(st.LastError, "no such file or directory") || st.Entries != 1 {
		t.Errorf("status: %+v", st)
	}
}

// feedServer serves a list whose body, status and ETag the test changes.
type feedServer struct {
	mu          sync.Mutex
	body        string
	status      int
	requests    atomic.Int32
	conditional atomic.Int32
}

func (f *feedServer) set(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	status, body := f.status, f.body
	f.mu.Unlock()
	etag := fmt.Sprintf(`"%x-%d"`, sha256.Sum256([]byte(body)), status)
	if r.Header.Get("If-None-Match") == etag && status == http.StatusOK {
		f.conditional.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func TestURLRefresh(t *testing.T) {
	fs := &feedServer{status: http.StatusOK, body: "ExitAddress 192.0.2.1 2026-05-01 08:00:00\n"}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s, err := New(Options{Logger: quiet, Client: srv.Client(), Sources: map[string]Source{TorExitNodes: {URL: srv.URL + "/exits"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Load(ctx); err != nil || !s.HasIP(TorExitNodes, "192.0.2.1") {
		t.Fatalf("first load: %v", err)
	}

	// Unchanged content: a conditional request, answered 304, keeps the entries.
	if err := s.Load(ctx); err != nil || fs.conditional.Load() != 1 || !s.HasIP(TorExitNodes, "192.0.2.1") {
		t.Fatalf("304: err %v, conditional %d", err, fs.conditional.Load())
	}

	// Changed content: new entries replace the old ones.
	fs.set(http.StatusOK, "192.0.2.2\n198.51.100.0/24\n")
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if s.HasIP(TorExitNodes, "192.0.2.1") || !s.HasIP(TorExitNodes, "192.0.2.2") || !s.HasIP(TorExitNodes, "198.51.100.77") {
		t.Fatal("refresh did not install the new content")
	}

	// Server error: Load does not fail for a URL, the previous entries stay, the status tells.
	before := statusOf(t, s, TorExitNodes)
	fs.set(http.StatusInternalServerError, "oops")
	if err := s.Load(ctx); err != nil {
		t.Fatalf("a URL failure must not fail Load: %v", err)
	}
	if !s.HasIP(TorExitNodes, "192.0.2.2") {
		t.Error("a server error must keep the previous entries")
	}
	st := statusOf(t, s, TorExitNodes)
	wantErr := "tor_exit_nodes: GET " + srv.URL + "/exits: 500 Internal Server Error"
	if st.LastError != wantErr || st.Entries != 2 || !st.LastLoaded.Equal(before.LastLoaded) || st.Source != srv.URL+"/exits" {
		t.Errorf("status after error: %+v (want error %q)", st, wantErr)
	}
	if d := time.Until(st.NextRefresh); d > retryAfterError || d <= 0 {
		t.Errorf("a failed source must be retried within %s, next in %s", retryAfterError, d)
	}

	// Recovery clears the error.
	fs.set(http.StatusOK, "192.0.2.3\n")
	if err := s.Load(ctx); err != nil || !s.HasIP(TorExitNodes, "192.0.2.3") || statusOf(t, s, TorExitNodes).LastError != "" {
		t.Fatalf("recovery: %v %+v", err, statusOf(t, s, TorExitNodes))
	}
}

func TestURLSizeLimit(t *testing.T) {
	fs := &feedServer{status: http.StatusOK, body: strings.Repeat("192.0.2.1\n", 100)}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s, err := New(Options{Logger: quiet, Client: srv.Client(), MaxBytes: 500, Sources: map[string]Source{BlocklistedIPs: {URL: srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Load(context.Background())
	if st := statusOf(t, s, BlocklistedIPs); st.LastError != "blocklisted_ips: GET "+srv.URL+": larger than 500 bytes" || st.Entries != 0 {
		t.Errorf("status: %+v", st)
	}
}

func TestRunRefreshesOnInterval(t *testing.T) {
	fs := &feedServer{status: http.StatusOK, body: "192.0.2.1\n"}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s, err := New(Options{Logger: quiet, Client: srv.Client(), Sources: map[string]Source{RansomwareIPs: {URL: srv.URL, Refresh: 20 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, func() bool { return s.HasIP(RansomwareIPs, "192.0.2.1") })
	fs.set(http.StatusOK, "192.0.2.9\n")
	waitFor(t, func() bool { return s.HasIP(RansomwareIPs, "192.0.2.9") && !s.HasIP(RansomwareIPs, "192.0.2.1") })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentLookupsDuringRefresh is meant for -race: lookups run while the content is swapped repeatedly.
func TestConcurrentLookupsDuringRefresh(t *testing.T) {
	fs := &feedServer{status: http.StatusOK, body: "192.0.2.1\n"}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	path := writeList(t, "ceo@corp.example\n")
	s, err := New(Options{Logger: quiet, Client: srv.Client(), PeerGroups: writePeers(t, "user,group\nann@corp.example,Finance\n"),
		Sources: map[string]Source{TorExitNodes: {URL: srv.URL}, Executives: {File: path}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				s.HasIP(TorExitNodes, "192.0.2.1")
				s.HasUser(Executives, "ceo@corp.example")
				s.MatchKeyword(PrivacyKeywords, "my salary")
				s.PeerGroups().Group("ann@corp.example")
				_ = s.Status()
			}
		})
	}
	for i := range 50 {
		fs.set(http.StatusOK, fmt.Sprintf("192.0.2.%d\n", i%250+1))
		if err := s.Load(ctx); err != nil {
			t.Error(err)
		}
		s.PeerGroups().SetBase(map[string]string{"bob@corp.example": fmt.Sprint("dept", i)})
	}
	stop.Store(true)
	wg.Wait()
	if !s.HasIP(TorExitNodes, "192.0.2.50") {
		t.Error("last content not installed")
	}
}

func TestLookupsDoNotAllocate(t *testing.T) {
	s := loaded(t, BlocklistedIPs, "198.51.100.0/24\n2001:db8::/32\n192.0.2.1\n", false)
	s.PeerGroups().SetBase(map[string]string{"ann@corp.example": "Finance"})
	lookups := map[string]func(){
		"ip":     func() { s.HasIP(BlocklistedIPs, "2001:db8::77") },
		"domain": func() { s.HasDomain(PublicMailDomains, "Someone@Mail.Yahoo.CO.UK") },
		"keyword": func() {
			s.MatchKeyword(PrivacyKeywords, "Re: Payroll and SALARY details for Q3, see the attached file")
		},
		"accented":  func() { s.MatchKeyword(JobSearchKeywords, "Mon RÉSUMÉ ci-joint") },
		"extension": func() { s.HasExtension(SourceCodeExtensions, ".GO") },
		"user":      func() { s.HasUser(Executives, "CEO@Corp.Example") },
		"country":   func() { s.HasCountry(SuspiciousCountries, "kp") },
		"peer":      func() { s.PeerGroups().Group("Ann@Corp.Example") },
	}
	for name, f := range lookups {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s lookup allocates %.1f times", name, n)
		}
	}
}

func BenchmarkLookups(b *testing.B) {
	s, err := New(Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("domain", func(b *testing.B) {
		for b.Loop() {
			s.HasDomain(PublicMailDomains, "someone@mail.example.co.uk")
		}
	})
	b.Run("keyword", func(b *testing.B) {
		for b.Loop() {
			s.MatchKeyword(PrivacyKeywords, "Re: quarterly planning meeting notes and the action items for next week")
		}
	})
}
