package lists

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writePeers(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "peers.csv")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadPeers(t *testing.T, content string) (*Set, error) {
	t.Helper()
	s, err := New(Options{Logger: quiet, PeerGroups: writePeers(t, content)})
	if err != nil {
		t.Fatal(err)
	}
	return s, s.Load(context.Background())
}

func TestPeerGroupsOverrideBase(t *testing.T) {
	s, err := loadPeers(t, "\uFEFFUser, Group\n# contractors are their own group\nAnn@Corp.example, Contractors\nbob@corp.example,Finance\n")
	if err != nil {
		t.Fatal(err)
	}
	p := s.PeerGroups()
	p.SetBase(map[string]string{"ann@corp.example": "Engineering", "Carl@corp.example": "Sales", "": "x", "dan@corp.example": " "})
	for user, want := range map[string]string{
		"ann@corp.example":  "Contractors", // the file overrides the base
		"ANN@corp.example":  "Contractors",
		"bob@corp.example":  "Finance", // only in the file
		"carl@corp.example": "Sales",   // only in the base
		"dan@corp.example":  "",        // empty group in the base is ignored
		"eve@corp.example":  "",
	} {
		if got := p.Group(user); got != want {
			t.Errorf("Group(%q) = %q, want %q", user, got, want)
		}
	}
	st := s.Status()
	last := st[len(st)-1]
	if last.Name != "peer_groups" || last.Kind != KindPeerGroups || last.Entries != 2 || last.Invalid != 0 {
		t.Errorf("status: %+v", last)
	}
}

func TestPeerGroupsInvalidRows(t *testing.T) {
	s, err := loadPeers(t, "user,group\nann@corp.example,Finance\nbob@corp.example\n,Sales\nann@corp.example,Legal\ncarl@corp.example,Sales,extra\ndan@corp.example,Legal\n")
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()[len(s.Status())-1]
	want := []InvalidEntry{
		{Line: 3, Text: "bob@corp.example", Reason: "expected 2 fields (user,group), got 1"},
		{Line: 4, Text: ",Sales", Reason: "user and group must not be empty"},
		{Line: 5, Text: "ann@corp.example,Legal", Reason: "user already listed on line 2"},
		{Line: 6, Text: "carl@corp.example,Sales,extra", Reason: "expected 2 fields (user,group), got 3"},
	}
	if st.Entries != 2 || st.Invalid != 4 || !slices.Equal(st.InvalidEntries, want) {
		t.Errorf("status: %+v", st)
	}
	if g := s.PeerGroups().Group("ann@corp.example"); g != "Finance" {
		t.Errorf("the first row of a user wins: %q", g)
	}
}

func TestPeerGroupsFileErrors(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"", "lists: peer_groups: empty file: expected the header user,group"},
		{"name,department\nann,Finance\n", `lists: peer_groups: line 1: header is "name,department", expected user,group`},
		{"user,group\nann,\"Fin\nance\n", `lists: peer_groups: line 2: extraneous or missing " in quoted-field`},
	} {
		_, err := loadPeers(t, c.content)
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: %v, want %s", c.content, err, c.want)
		}
	}
}

func TestNilPeerGroups(t *testing.T) {
	var p *PeerGroups
	if p.Group("ann") != "" {
		t.Error("nil PeerGroups must know no user")
	}
	var zero PeerGroups
	if zero.Group("ann") != "" {
		t.Error("empty PeerGroups must know no user")
	}
}
