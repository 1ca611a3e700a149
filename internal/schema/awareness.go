package schema

// The four Awareness Training tables are snapshots: each poll returns the current state of every user, so their
// keys identify a user (and, for user data, a campaign) and the store keeps the latest row per key (see
// IsSnapshot). Their event time is TimeGenerated, the time the snapshot was taken.

var awarenessPerformance = recordTable{
	name: "Awareness_Performance_Details_CL",
	cols: append(append(cols(String, "email", "name", "department"),
		cols(Real, "numIncorrect", "numCorrect", "numNotWatched")...),
		Column{"userDetails", Dynamic}, Column{"userState", String}, Column{"userId", String}),
	required:  []string{"email"},
	key:       []string{"email"},
	eventTime: "TimeGenerated",
}

// AwarenessPerformance is Awareness_Performance_Details_CL: training video results per user from
// POST /api/awareness-training/company/get-performance-details (records in data[]).
var AwarenessPerformance = awarenessPerformance.table()

var awarenessSafeScore = recordTable{
	name: "Awareness_SafeScore_Details_CL",
	cols: cols(String, "emailAddress", "name", "department", "risk", "humanError", "sentiment", "engagement",
		"knowledge", "userState"),
	required:  []string{"emailAddress"},
	key:       []string{"emailAddress"},
	eventTime: "TimeGenerated",
}

// AwarenessSafeScore is Awareness_SafeScore_Details_CL: SAFE score grades per user from
// POST /api/awareness-training/company/get-safe-score-details (records in data[]).
var AwarenessSafeScore = awarenessSafeScore.table()

var awarenessWatchlist = recordTable{
	name: "Awareness_Watchlist_Details_CL",
	cols: append(cols(String, "email", "name", "department"),
		Column{"watchlistCount", Real}, Column{"userState", String}, Column{"userId", String}),
	required:  []string{"email"},
	key:       []string{"email"},
	eventTime: "TimeGenerated",
}

// AwarenessWatchlist is Awareness_Watchlist_Details_CL: watchlist counts per user from
// POST /api/awareness-training/company/get-watchlist-details (records in data[]).
var AwarenessWatchlist = awarenessWatchlist.table()

var awarenessUserData = recordTable{
	name: "Awareness_User_Data_CL",
	cols: append(append(append(append(append(
		[]Column{{"timeReported", DateTime}},
		cols(String, "name", "email", "templateName", "department", "status")...),
		cols(Real, "numCampaignsSent", "numCampaignsClicked", "numTrainingModulesAssigned", "numCampaignsScanned",
			"numCampaignsClickedScanned", "numCorrectAnswers", "numIncorrectAnswers")...),
		Column{"userState", String}),
		cols(DateTime, "timeScheduled", "timeScanned", "timeSubmitted")...),
		Column{"clickedIp", String}, Column{"reactionTime", Real}, Column{"timeOpened", DateTime},
		Column{"timeClicked", DateTime}, Column{"items", String},
		// castwatch addition: the campaign the row belongs to (the API item does not carry it; the collector adds
		// it with WithField), so that one row per user and campaign can be kept.
		Column{"campaignId", String}),
	required:  []string{"campaignId", "email"},
	key:       []string{"campaignId", "email"},
	eventTime: "TimeGenerated",
}

// AwarenessUserData is Awareness_User_Data_CL: phishing campaign results per user and campaign from
// POST /api/awareness-training/phishing/campaign/get-user-data (records in data[0].items), plus a campaignId
// column.
var AwarenessUserData = awarenessUserData.table()
