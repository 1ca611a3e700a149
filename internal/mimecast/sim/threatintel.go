package sim

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PathThreatIntel is the threat-intel feed function (API 1.0 route, STIX bundles).
const PathThreatIntel = "/api/ttp/threat-intel/get-feed"

// Threat-intel feed types.
const (
	FeedCustomer = "malware_customer"
	FeedGrid     = "malware_grid"
)

// threatFeedChunk is the longest span of sightings one get-feed answer covers.
const threatFeedChunk = 6 * time.Hour

// threatFeedToken is the header carrying the continuation token.
const threatFeedToken = "x-mc-threat-feed-next-token"

// sighting is one indicator observation: a file hash (or URL) seen at a time.
type sighting struct {
	t       time.Time
	kind    string // sha256 or url
	value   string
	name    string // file name or URL (the malware object's name)
	idLabel string // makes the STIX ids
}

// sightings returns the sightings of a feed in unix hour h, oldest first.
func (s *Sim) sightings(feed string, h int64) []sighting {
	var out []sighting
	if feed == FeedCustomer {
		for _, msg := range s.mailFlow(h).msgs {
			if msg.verdict == "badattachment" || msg.verdict == "av" {
				out = append(out, sighting{t: msg.t.Add(3 * time.Second), kind: "sha256", value: msg.fileHash,
					name: msg.attachment, idLabel: msg.aggregateID})
			}
		}
		sortSightings(out)
		return out
	}
	r := rngFor(s.opts.Seed, "grid-feed", h)
	for k := range 2 + r.IntN(5) {
		t := time.Unix(h*3600, 0).UTC().Add(time.Duration(r.IntN(3600)) * time.Second)
		label := strconv.FormatInt(h, 10) + ":" + strconv.Itoa(k)
		if r.IntN(4) == 0 {
			u := fmt.Sprintf("http://%s.example/%s", pick(r, []string{"login-verify", "secure-docs", "pay-update", "cdn-files"}),
				hex.EncodeToString(hashBytes(s.opts.Seed, "grid-url", label)[:4]))
			out = append(out, sighting{t: t, kind: "url", value: u, name: u, idLabel: label})
			continue
		}
		sum := sha256.Sum256(hashBytes(s.opts.Seed, "grid-hash", label))
		name := fmt.Sprintf(pick(r, []string{"invoice_%d.pdf.exe", "Urgent info! - %d", "payment_%d.zip", "doc_%d.docm"}), 100+r.IntN(900))
		out = append(out, sighting{t: t, kind: "sha256", value: hex.EncodeToString(sum[:]), name: name, idLabel: label})
	}
	sortSightings(out)
	return out
}

func sortSightings(l []sighting) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].t.Before(l[j-1].t); j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

// stixID makes a STIX id with a UUID-shaped suffix.
func (s *Sim) stixID(kind, label string) string {
	b := hashBytes(s.opts.Seed, "stix", kind, label)
	h := hex.EncodeToString(b[:16])
	return kind + "--" + h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// stixObjects returns the malware, indicator and relationship objects of one sighting.
func (s *Sim) stixObjects(feed string, sg sighting) (malware, indicator, rel map[string]any) {
	ts := sg.t.UTC().Format("2006-01-02T15:04:05.000Z")
	label := feed + ":" + sg.idLabel
	pattern := fmt.Sprintf("[file:hashes.'SHA-256' = '%s']", sg.value)
	if sg.kind == "url" {
		pattern = fmt.Sprintf("[url:value = '%s']", sg.value)
	}
	mid, iid := s.stixID("malware", label), s.stixID("indicator", label)
	malware = map[string]any{"type": "malware", "id": mid, "created": ts, "modified": ts, "name": sg.name, "labels": []string{"virus"}}
	indicator = map[string]any{"type": "indicator", "id": iid, "created": ts, "modified": ts,
		"labels": []string{"malicious-activity"}, "pattern": pattern, "valid_from": ts}
	rel = map[string]any{"type": "relationship", "id": s.stixID("relationship", label), "created": ts, "modified": ts,
		"relationship_type": "indicates", "source_ref": iid, "target_ref": mid}
	return malware, indicator, rel
}

// feedObjects returns the STIX objects of a feed's sightings in [from, to), oldest first.
func (s *Sim) feedObjects(feed string, from, to time.Time, indicatorsOnly bool) []map[string]any {
	var out []map[string]any
	if !to.After(from) {
		return nil
	}
	for h := floorDiv(from.Unix(), 3600); h <= floorDiv(to.Add(-time.Millisecond).Unix(), 3600); h++ {
		for _, sg := range s.sightings(feed, h) {
			if sg.t.Before(from) || !sg.t.Before(to) || sg.t.Before(s.origin) {
				continue
			}
			m, i, r := s.stixObjects(feed, sg)
			if indicatorsOnly {
				out = append(out, i)
			} else {
				out = append(out, m, i, r)
			}
		}
	}
	return out
}

// ThreatIntelIndicators returns the indicator objects of a feed (FeedCustomer or FeedGrid) sighted in [from, to)
// and visible now, oldest first, as get-feed serves them.
func (s *Sim) ThreatIntelIndicators(feed string, from, to time.Time) ([]json.RawMessage, error) {
	if feed != FeedCustomer && feed != FeedGrid {
		return nil, fmt.Errorf("unknown threat-intel feed %q", feed)
	}
	lo, hi, ok := s.visible(from, to)
	if !ok {
		return nil, nil
	}
	return marshalAll(s.feedObjects(feed, lo, hi, true)), nil
}

// feedCursor is a get-feed continuation token: the feed, the next sighting time to serve and the window end.
type feedCursor struct {
	Feed  string `json:"f"`
	After int64  `json:"a"` // unix ms, inclusive
	End   int64  `json:"e"` // unix ms, exclusive; 0 = open
}

// handleThreatIntel serves POST /api/ttp/threat-intel/get-feed: one STIX bundle per call covering at most
// threatFeedChunk of sightings; the next token is in x-mc-threat-feed-next-token. When nothing new is available
// the bundle is empty and the header repeats the token sent.
func (s *Sim) handleThreatIntel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Data []struct {
			FeedType string `json:"feedType"`
			FileType string `json:"fileType"`
			Start    string `json:"start"`
			End      string `json:"end"`
			Token    string `json:"token"`
			Compress bool   `json:"compress"`
		} `json:"data"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyKB<<10))
	if err := json.Unmarshal(body, &req); err != nil {
		v1Fail(w, http.StatusBadRequest, codeBadBody, "request body is not valid JSON")
		return
	}
	fail := func(code, msg string) {
		var key json.RawMessage
		var raw struct {
			Data []json.RawMessage `json:"data"`
		}
		if json.Unmarshal(body, &raw) == nil && len(raw.Data) > 0 {
			key = raw.Data[0]
		}
		s.writeFail(w, key, &validationError{code, msg})
	}
	if len(req.Data) == 0 {
		fail(codeNull, "data must not be null")
		return
	}
	q := req.Data[0]
	if q.FeedType != FeedCustomer && q.FeedType != FeedGrid {
		fail("err_validation_invalid_feed_type", "feedType must be malware_customer or malware_grid")
		return
	}
	if q.FileType != "" && q.FileType != "stix" {
		fail("err_validation_invalid_file_type", "only fileType stix is available")
		return
	}
	now := s.opts.Now().UTC()
	c := feedCursor{Feed: q.FeedType, After: s.origin.UnixMilli()}
	if q.Start != "" {
		t, err := parseAPIDate(q.Start)
		if err != nil {
			fail(codeDateFormat, "start is not a valid date")
			return
		}
		c.After = max(t.UnixMilli(), c.After)
	}
	if q.End != "" {
		t, err := parseAPIDate(q.End)
		if err != nil {
			fail(codeDateFormat, "end is not a valid date")
			return
		}
		c.End = t.UnixMilli()
	}
	if q.Token != "" {
		var tc feedCursor
		if !s.verify(q.Token, base64.RawURLEncoding, &tc) || tc.Feed != q.FeedType {
			fail("err_threat_intel_invalid_token", "token is not valid for this feed")
			return
		}
		c = tc
	}
	hi := min(c.After+threatFeedChunk.Milliseconds(), now.UnixMilli())
	if c.End != 0 {
		hi = min(hi, c.End)
	}
	var objects []map[string]any
	next := c
	if hi > c.After {
		objects = s.feedObjects(q.FeedType, time.UnixMilli(c.After).UTC(), time.UnixMilli(hi).UTC(), false)
		next.After = hi
	}
	tok := s.sign(next, base64.RawURLEncoding)
	if next == c && q.Token != "" {
		tok = q.Token
	}
	if objects == nil {
		objects = []map[string]any{}
	}
	bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": s.stixID("bundle", tok), "spec_version": "2.0", "objects": objects})
	name := q.FeedType + "_stix_" + strings.Replace(now.Format("20060102150405.000"), ".", "", 1) + ".stix"
	w.Header().Set(threatFeedToken, tok)
	s.count(func(st *Stats) { st.Pages++ })
	if q.Compress {
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		fw, _ := zw.Create(name)
		_, _ = fw.Write(bundle)
		_ = zw.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+strings.TrimSuffix(name, ".stix")+`.zip"`)
		_, _ = w.Write(zb.Bytes())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(bundle)
}
