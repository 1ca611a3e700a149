package sim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Awareness Training functions. They answer snapshots of the current state (not time windows): values change
// slowly from day to day, and deterministically, so a collector that stores only changes sees few.
const (
	PathATPerformance = "/api/awareness-training/company/get-performance-details"
	PathATSafeScore   = "/api/awareness-training/company/get-safe-score-details"
	PathATWatchlist   = "/api/awareness-training/company/get-watchlist-details"
	PathATCampaigns   = "/api/awareness-training/phishing/campaign/get-campaign"
	PathATUserData    = "/api/awareness-training/phishing/campaign/get-user-data"
)

// atPaths are the Awareness Training functions.
var atPaths = []string{PathATPerformance, PathATSafeScore, PathATWatchlist, PathATCampaigns, PathATUserData}

var departments = []string{"Finance", "Sales", "Engineering", "Human Resources", "Operations", "Legal", "Marketing"}

var trainingVideos = []struct{ title, category string }{
	{"Phishing: Spot the Hook", "Phishing"}, {"Passwords and Passphrases", "Authentication"},
	{"Wire Fraud and the Fake CEO", "Impersonation"}, {"Safe Browsing", "Web"}, {"Sharing Data Safely", "Data Protection"},
	{"Working Remotely", "Remote Work"}, {"Social Engineering on the Phone", "Social Engineering"},
	{"Malicious Attachments", "Malware"},
}

var campaignTemplates = []string{"Password Expiry Notice", "Shared Invoice", "Parcel Delivery Failed", "Payroll Update", "Voicemail Received"}

const (
	atDay        = int64(86400)
	videoWeeks   = 8  // videos of the last weeks listed per user
	campaignDays = 14 // a phishing campaign every two weeks
)

// department is a user's department.
func (s *Sim) department(i int) string {
	return departments[int(unitFloat(s.opts.Seed, "department", uint64(i))*float64(len(departments)))]
}

// userID is a user's Awareness Training id.
func (s *Sim) userID(i int) string {
	return hex.EncodeToString(hashBytes(s.opts.Seed, "at-user", strconv.Itoa(i))[:12])
}

// slowGrade is a letter grade for (user, metric) that stays the same for 8–17 days at a time.
func (s *Sim) slowGrade(i int, metric string, day int64, letters string) byte {
	label := metric + ":" + strconv.Itoa(i)
	period := 8 + int64(unitFloat(s.opts.Seed, "grade-period:"+label, 0)*10)
	phase := int64(unitFloat(s.opts.Seed, "grade-phase:"+label, 0) * float64(period))
	epoch := floorDiv(day+phase, period)
	return letters[int(unitFloat(s.opts.Seed, "grade:"+label, uint64(epoch))*float64(len(letters)))]
}

// safeScore is a user's SAFE score record on a day.
func (s *Sim) safeScore(i int, day int64) map[string]any {
	u := &s.users[i]
	letters := "AABBBCCD"
	if u.risky {
		letters = "DFF"
	}
	grades := map[string]string{}
	worst := byte('A')
	for _, m := range []string{"humanError", "sentiment", "engagement", "knowledge"} {
		g := s.slowGrade(i, m, day, letters)
		grades[m] = string(g)
		worst = max(worst, g)
	}
	risk := string(worst)
	if u.risky {
		risk = "F"
	}
	return map[string]any{
		"emailAddress": u.email, "name": u.name, "department": s.department(i), "risk": risk,
		"humanError": grades["humanError"], "sentiment": grades["sentiment"], "engagement": grades["engagement"],
		"knowledge": grades["knowledge"], "userState": "ACTIVE",
	}
}

// videoResults returns a user's training videos of the last weeks as they stand on a day.
func (s *Sim) videoResults(i int, day int64) []map[string]any {
	u := &s.users[i]
	// Each user gets a video a week, on their own weekday, so that only some users change on any day.
	shift := int64(unitFloat(s.opts.Seed, "video-day", uint64(i)) * 7)
	week := floorDiv(day-shift, 7)
	var out []map[string]any
	for w := week - videoWeeks + 1; w <= week; w++ {
		sent := time.Unix((w*7+shift)*atDay+9*3600, 0).UTC()
		if sent.Unix() > day*atDay+atDay-1 {
			continue
		}
		label := strconv.Itoa(i) + ":" + strconv.FormatInt(w, 10)
		v := trainingVideos[floorMod(w, int64(len(trainingVideos)))]
		pCorrect, pWatch := 0.8, 0.85
		if u.risky {
			pCorrect, pWatch = 0.35, 0.5
		}
		status, viewed := "Not Watched", any(nil)
		if unitFloat(s.opts.Seed, "video-watch:"+label, 0) < pWatch {
			at := sent.Add(time.Duration(unitFloat(s.opts.Seed, "video-delay:"+label, 0)*6*24) * time.Hour)
			if at.Unix() <= day*atDay+atDay-1 {
				viewed = formatAPI(at)
				status = "Incorrect"
				if unitFloat(s.opts.Seed, "video-correct:"+label, 0) < pCorrect {
					status = "Correct"
				}
			}
		}
		out = append(out, map[string]any{
			"title": v.title, "category": v.category, "timeSent": formatAPI(sent), "timeViewed": viewed,
			"status": status, "ack": status != "Not Watched",
		})
	}
	return out
}

// performance is a user's training performance record on a day.
func (s *Sim) performance(i int, day int64, details bool) map[string]any {
	u := &s.users[i]
	vids := s.videoResults(i, day)
	n := map[string]int{}
	for _, v := range vids {
		n[v["status"].(string)]++
	}
	rec := map[string]any{
		"email": u.email, "name": u.name, "department": s.department(i), "numCorrect": n["Correct"],
		"numIncorrect": n["Incorrect"], "numNotWatched": n["Not Watched"], "userState": "ACTIVE", "userId": s.userID(i),
	}
	if details {
		rec["userDetails"] = vids
	}
	return rec
}

// watchlist is a user's watchlist record on a day: how many recent videos were answered wrongly or not watched.
func (s *Sim) watchlist(i int, day int64) map[string]any {
	u := &s.users[i]
	count := 0
	for _, v := range s.videoResults(i, day) {
		if v["status"] != "Correct" {
			count++
		}
	}
	return map[string]any{"email": u.email, "name": u.name, "department": s.department(i), "watchlistCount": count,
		"userState": "ACTIVE", "userId": s.userID(i)}
}

// campaign is one phishing simulation.
type campaign struct {
	id       string
	index    int64
	launch   time.Time
	template string
}

// campaigns returns the campaigns launched by at (from four weeks before the data start), oldest first.
func (s *Sim) campaigns(at time.Time) []campaign {
	var out []campaign
	first := floorDiv(s.origin.Add(-28*24*time.Hour).Unix()/atDay, campaignDays)
	for k := first; ; k++ {
		launch := time.Unix((k*campaignDays+5)*atDay+10*3600, 0).UTC() // Tuesdays 10:00 UTC
		if launch.After(at) {
			return out
		}
		if launch.Before(s.origin.Add(-28 * 24 * time.Hour)) {
			continue
		}
		out = append(out, campaign{
			id:       hex.EncodeToString(hashBytes(s.opts.Seed, "campaign", strconv.FormatInt(k, 10))[:12]),
			index:    k,
			launch:   launch,
			template: campaignTemplates[floorMod(k, int64(len(campaignTemplates)))],
		})
	}
}

// phishResult is one user's reaction to one campaign (times are zero when it did not happen).
type phishResult struct {
	opened, clicked, submitted, reported time.Time
	ip                                   string
}

func (s *Sim) phishResult(i int, c campaign) phishResult {
	u := &s.users[i]
	label := strconv.Itoa(i) + ":" + c.id
	f := func(what string) float64 { return unitFloat(s.opts.Seed, "phish-"+what+":"+label, 0) }
	pOpen, pClick, pSubmit, pReport := 0.6, 0.08, 0.3, 0.3
	if u.risky {
		pOpen, pClick, pSubmit, pReport = 0.95, 0.75, 0.6, 0.02
	}
	var r phishResult
	if f("open") < pOpen {
		r.opened = c.launch.Add(time.Duration(10+f("open-delay")*60*48) * time.Minute)
		if f("click") < pClick {
			r.clicked = r.opened.Add(time.Duration(5+f("click-delay")*300) * time.Second)
			r.ip = u.office
			if f("submit") < pSubmit {
				r.submitted = r.clicked.Add(time.Duration(20+f("submit-delay")*200) * time.Second)
			}
		} else if f("report") < pReport {
			r.reported = r.opened.Add(time.Duration(1+f("report-delay")*30) * time.Minute)
		}
	}
	return r
}

// userData is a user's record of one campaign as it stands at at.
func (s *Sim) userData(i int, c campaign, all []campaign, at time.Time) map[string]any {
	u := &s.users[i]
	r := s.phishResult(i, c)
	when := func(t time.Time) any {
		if t.IsZero() || t.After(at) {
			return nil
		}
		return formatAPI(t)
	}
	status := "SENT"
	for _, st := range []struct {
		t    time.Time
		name string
	}{{r.opened, "OPENED"}, {r.clicked, "CLICKED"}, {r.submitted, "SUBMITTED"}, {r.reported, "REPORTED"}} {
		if !st.t.IsZero() && !st.t.After(at) {
			status = st.name
		}
	}
	sent, clicked := 0, 0
	for _, o := range all {
		if o.index > c.index {
			break
		}
		sent++
		if t := s.phishResult(i, o).clicked; !t.IsZero() && !t.After(at) {
			clicked++
		}
	}
	perf := s.performance(i, floorDiv(at.Unix(), atDay), false)
	rec := map[string]any{
		"timeReported": when(r.reported), "name": u.name, "email": u.email, "templateName": c.template, "status": status,
		"numCampaignsClicked": clicked, "numCampaignsSent": sent, "numCorrectAnswers": perf["numCorrect"],
		"numTrainingModulesAssigned": videoWeeks, "numIncorrectAnswers": perf["numIncorrect"], "userState": "ACTIVE",
		"clickedIp": nil, "reactionTime": nil, "timeOpened": when(r.opened), "department": s.department(i),
		"timeScheduled": formatAPI(c.launch), "timeClicked": when(r.clicked), "numCampaignsScanned": 0,
		"numCampaignsClickedScanned": 0, "timeScanned": nil, "timeSubmitted": when(r.submitted),
	}
	if when(r.clicked) != nil {
		rec["clickedIp"] = r.ip
		rec["reactionTime"] = r.clicked.Sub(r.opened).Milliseconds()
	}
	return rec
}

// campaignRecord is a campaign as get-campaign lists it at at.
func (s *Sim) campaignRecord(c campaign, all []campaign, at time.Time) map[string]any {
	n := map[string]int{}
	for i := range s.users {
		r := s.phishResult(i, c)
		for name, t := range map[string]time.Time{"numOpened": r.opened, "numClicked": r.clicked, "numSubmitted": r.submitted, "numReported": r.reported} {
			if !t.IsZero() && !t.After(at) {
				n[name]++
			}
		}
	}
	status := "COMPLETE"
	if at.Sub(c.launch) < 7*24*time.Hour {
		status = "ACTIVE"
	}
	return map[string]any{
		"id": c.id, "name": fmt.Sprintf("%s %s", c.template, c.launch.Format("2006-01-02")), "templateName": c.template,
		"launchDate": formatAPI(c.launch), "status": status, "numSent": len(s.users), "numOpened": n["numOpened"],
		"numClicked": n["numClicked"], "numSubmitted": n["numSubmitted"], "numReported": n["numReported"],
	}
}

// atFilter is data[0] of the Awareness Training functions (the fields the tenant acts on).
type atFilter struct {
	ID                 *string `json:"id"`
	IncludeUserDetails *bool   `json:"includeUserDetails"`
	FilterBy           []struct {
		FieldName string `json:"fieldName"`
		Value     string `json:"value"`
	} `json:"filterBy"`
}

// atRecords returns the records of an Awareness Training function at at, in the order served.
func (s *Sim) atRecords(path string, f atFilter, at time.Time) ([]map[string]any, *validationError) {
	day := floorDiv(at.Unix(), atDay)
	var out []map[string]any
	switch path {
	case PathATSafeScore:
		var risks []string
		for _, fb := range f.FilterBy {
			if strings.EqualFold(fb.FieldName, "type") {
				risks = append(risks, strings.ToUpper(fb.Value))
			}
		}
		for i := range s.users {
			if rec := s.safeScore(i, day); len(risks) == 0 || slices.Contains(risks, rec["risk"].(string)) {
				out = append(out, rec)
			}
		}
	case PathATPerformance:
		details := f.IncludeUserDetails == nil || *f.IncludeUserDetails
		for i := range s.users {
			out = append(out, s.performance(i, day, details))
		}
	case PathATWatchlist:
		for i := range s.users {
			out = append(out, s.watchlist(i, day))
		}
	case PathATCampaigns:
		all := s.campaigns(at)
		for k := len(all) - 1; k >= 0; k-- {
			out = append(out, s.campaignRecord(all[k], all, at))
		}
	case PathATUserData:
		if f.ID == nil || *f.ID == "" {
			return nil, &validationError{codeNull, "id must not be null"}
		}
		all := s.campaigns(at)
		k := slices.IndexFunc(all, func(c campaign) bool { return c.id == *f.ID })
		if k < 0 {
			return nil, &validationError{"err_campaign_not_found", "no campaign with id " + *f.ID}
		}
		for i := range s.users {
			out = append(out, s.userData(i, all[k], all, at))
		}
	}
	return out, nil
}

// AwarenessRecords returns the records an Awareness Training function (PathATPerformance with user details,
// PathATSafeScore, PathATWatchlist, PathATCampaigns, PathATUserData for campaignID) serves at time at, in order.
func (s *Sim) AwarenessRecords(path string, at time.Time, campaignID string) ([]json.RawMessage, error) {
	if !slices.Contains(atPaths, path) {
		return nil, fmt.Errorf("unknown awareness training function %q", path)
	}
	f := atFilter{}
	if path == PathATUserData {
		f.ID = &campaignID
	}
	recs, verr := s.atRecords(path, f, at)
	if verr != nil {
		return nil, fmt.Errorf("awareness records: %w", verr)
	}
	return marshalAll(recs), nil
}

// handleAwareness serves the Awareness Training functions. The body may be empty (Sentinel sends none to
// get-campaign); follow-up pages may send the token alone.
func (s *Sim) handleAwareness(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyKB<<10))
	var req apiRequest
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"meta": map[string]any{"status": http.StatusBadRequest},
			"data": []any{},
			"fail": []any{map[string]any{"errors": []any{map[string]any{
				"code": codeBadBody, "message": "request body is not valid JSON", "retryable": false}}}},
		})
		return
	}
	var key json.RawMessage
	if len(req.Data) > 0 {
		key = req.Data[0]
	}
	size, verr := s.parsePageSize(req.Meta.Pagination.PageSize)
	if verr != nil {
		s.writeFail(w, key, verr)
		return
	}
	extra := "{}"
	if len(key) > 0 {
		var m map[string]any
		if json.Unmarshal(key, &m) != nil {
			s.writeFail(w, key, &validationError{codeBadBody, "data[0] is not a valid filter object"})
			return
		}
		b, _ := json.Marshal(m)
		extra = string(b)
	}
	c := cursor{Q: auditQuery{Path: path, Extra: extra}, AsOf: s.opts.Now().Unix()}
	if tok := req.Meta.Pagination.PageToken; tok != "" {
		tc, err := s.decodeCursor(tok)
		switch {
		case err != nil:
			s.writeFail(w, key, &validationError{codePageToken, err.Error()})
			return
		case tc.Q.Path != path || (len(key) > 0 && tc.Q.Extra != extra):
			s.writeFail(w, key, &validationError{codePageToken, "page token belongs to a different query"})
			return
		}
		c = tc
	}
	var f atFilter
	_ = json.Unmarshal([]byte(c.Q.Extra), &f)
	recs, verr := s.atRecords(path, f, time.Unix(c.AsOf, 0).UTC())
	if verr != nil {
		s.writeFail(w, key, verr)
		return
	}
	s.writePage(w, c, size, len(recs), func(lo, hi int) any {
		if path == PathATUserData {
			return []any{map[string]any{"items": recs[lo:hi]}}
		}
		return recs[lo:hi]
	})
}

// AwarenessUserDataByCampaign is every campaign's user data as of t, each record with its campaignId added, as
// castwatch's Awareness Training collector stores it (the user-data function is called once per campaign).
func (s *Sim) AwarenessUserDataByCampaign(t time.Time) ([]json.RawMessage, error) {
	camps, err := s.AwarenessRecords(PathATCampaigns, t, "")
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, c := range camps {
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(c, &head); err != nil {
			return nil, err
		}
		recs, err := s.AwarenessRecords(PathATUserData, t, head.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			withID, err := schema.WithField(r, "campaignId", head.ID)
			if err != nil {
				return nil, err
			}
			out = append(out, withID)
		}
	}
	return out, nil
}
