package syslog

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

var headerNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestParseHeader(t *testing.T) {
	const kv = "datetime=2017-05-26T16:47:41+0100|aCode=7O7I7MvGP1mj8plHRDuHEA|acc=C0A0|Act=Acc"
	tests := []struct {
		name string
		in   string
		want Header
	}{
		{"rfc5424 full with structured data and BOM",
			"<134>1 2026-01-02T03:04:05.123456Z mta01.example.com mimecast 4242 siem [meta seq=\"1\" note=\"a \\\"q\\\" \\] b\"][x@1 k=\"v\"] \xef\xbb\xbf" + kv,
			Header{Format: HeaderRFC5424, Priority: 134, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
				Hostname: "mta01.example.com", AppName: "mimecast", ProcID: "4242", MsgID: "siem",
				StructuredData: `[meta seq="1" note="a \"q\" \] b"][x@1 k="v"]`, Msg: []byte(kv)}},
		{"rfc5424 nil values", "<14>1 - - - - - - " + kv,
			Header{Format: HeaderRFC5424, Priority: 14, Msg: []byte(kv)}},
		{"rfc5424 offset time, no MSG", "<165>1 2003-10-11T22:14:15.003-07:00 host app - ID47 -",
			Header{Format: HeaderRFC5424, Priority: 165, Timestamp: time.Date(2003, 10, 12, 5, 14, 15, 3000000, time.UTC),
				Hostname: "host", AppName: "app", MsgID: "ID47", Msg: []byte{}}},
		{"rfc5424 MSG starting with a bracket after nil SD", "<14>1 - h a - - - [not sd",
			Header{Format: HeaderRFC5424, Priority: 14, Hostname: "h", AppName: "a", Msg: []byte("[not sd")}},
		{"rfc3164 with tag and pid", "<134>Jan  2 03:04:05 mta01 mimecast[12]: " + kv,
			Header{Format: HeaderRFC3164, Priority: 134, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				Hostname: "mta01", AppName: "mimecast", ProcID: "12", Msg: []byte(kv)}},
		{"rfc3164 December read in the previous year", "<13>Dec 31 23:59:59 h t: x",
			Header{Format: HeaderRFC3164, Priority: 13, Timestamp: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC),
				Hostname: "h", AppName: "t", Msg: []byte("x")}},
		{"rfc3164 zero-padded day, no tag: CEF stays whole", "<134>Feb 07 10:25:00 sky01 CEF:0|Skyformation|P|2.0|send|n|3|",
			Header{Format: HeaderRFC3164, Priority: 134, Timestamp: time.Date(2025, 2, 7, 10, 25, 0, 0, time.UTC),
				Hostname: "sky01", Msg: []byte("CEF:0|Skyformation|P|2.0|send|n|3|")}},
		{"rfc3164 without hostname", "<13>Jan  2 03:00:00 mimecast: {\"a\":1}",
			Header{Format: HeaderRFC3164, Priority: 13, Timestamp: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC),
				AppName: "mimecast", Msg: []byte(`{"a":1}`)}},
		{"rfc3164 with an RFC 3339 time", "<13>2026-01-02T03:00:00.5+01:00 h mimecast: " + kv,
			Header{Format: HeaderRFC3164, Priority: 13, Timestamp: time.Date(2026, 1, 2, 2, 0, 0, 500000000, time.UTC),
				Hostname: "h", AppName: "mimecast", Msg: []byte(kv)}},
		{"rfc3164 tag-less json MSG", "<13>Jan  2 03:00:00 h {\"a\":1}",
			Header{Format: HeaderRFC3164, Priority: 13, Timestamp: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC),
				Hostname: "h", Msg: []byte(`{"a":1}`)}},
		{"PRI only", "<14>" + kv, Header{Format: HeaderPRI, Priority: 14, Msg: []byte(kv)}},
		{"PRI only, empty", "<0>", Header{Format: HeaderPRI, Priority: 0, Msg: []byte{}}},
		{"no header", kv, Header{Format: HeaderNone, Priority: -1, Msg: []byte(kv)}},
		{"no header, CEF with a time prefix", "2021-02-17T10:25:00.123Z sky01 Skyformation CEF:0|x",
			Header{Format: HeaderNone, Priority: -1, Msg: []byte("2021-02-17T10:25:00.123Z sky01 Skyformation CEF:0|x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseHeader([]byte(tt.in), headerNow)
			assertHeader(t, got, tt.want)
		})
	}
}

// TestParseHeaderMalformed checks that a header that breaks its grammar is no header: the whole message is the
// MSG.
func TestParseHeaderMalformed(t *testing.T) {
	tests := []struct{ name, in string }{
		{"PRI too large", "<192>1 - - - - - - x"},
		{"PRI with leading zero", "<013>Jan  2 03:00:00 h t: x"},
		{"PRI of four digits", "<1000>x"},
		{"PRI not closed", "<13 Jan  2 03:00:00 h t: x"},
		{"empty PRI", "<>x"},
		{"rfc5424 bad timestamp", "<14>1 2026-13-02T03:04:05Z h a - - - x"},
		{"rfc5424 missing fields", "<14>1 2026-01-02T03:04:05Z h a"},
		{"rfc5424 unterminated structured data", `<14>1 - h a - - [id k="v] x`},
		{"rfc5424 structured data without quotes", `<14>1 - h a - - [id k=v] x`},
		{"rfc5424 no space after structured data", `<14>1 - h a - - [id]x`},
		{"rfc5424 app name too long", "<14>1 - h " + string(bytes.Repeat([]byte("a"), 49)) + " - - - x"},
		{"rfc5424 control character in hostname", "<14>1 - h\x01 a - - - x"},
		{"rfc3164 bad day", "<13>Feb 30 03:00:00 h t: x"},
		{"rfc3164 bad clock", "<13>Jan  2 25:00:00 h t: x"},
		{"rfc3164 nothing after the time", "<13>Jan  2 03:00:00"},
		{"rfc3164 no host", "<13>Jan  2 03:00:00 "},
		{"rfc3339 time broken", "<13>2026-01-0203:00:00Z h t: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseHeader([]byte(tt.in), headerNow)
			assertHeader(t, got, Header{Format: HeaderNone, Priority: -1, Msg: []byte(tt.in)})
		})
	}
}

func TestHeaderFacilitySeverity(t *testing.T) {
	tests := []struct {
		pri, facility, severity int
	}{{134, 16, 6}, {0, 0, 0}, {191, 23, 7}, {-1, -1, -1}}
	for _, tt := range tests {
		h := Header{Priority: tt.pri}
		if h.Facility() != tt.facility || h.Severity() != tt.severity {
			t.Errorf("priority %d: facility %d severity %d, want %d %d", tt.pri, h.Facility(), h.Severity(), tt.facility, tt.severity)
		}
	}
}

func assertHeader(t *testing.T, got, want Header) {
	t.Helper()
	if !bytes.Equal(got.Msg, want.Msg) {
		t.Errorf("msg = %q, want %q", got.Msg, want.Msg)
	}
	got.Msg, want.Msg = nil, nil
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("timestamp = %v, want %v", got.Timestamp, want.Timestamp)
	}
	got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("header = %+v, want %+v", got, want)
	}
}

// FuzzParseHeader checks that any input parses without panic, that the MSG is always the tail of the input
// (nothing but the header and a BOM is cut), that a message without a header keeps every byte, and that the
// priority is in range.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"<134>1 2026-01-02T03:04:05.123Z mta01 mimecast - siem [meta seq=\"1\"] \xef\xbb\xbfdatetime=x|aCode=y",
		"<13>Jan  2 03:00:00 h mimecast[1]: {\"a\":1}",
		"<13>2026-01-02T03:00:00Z h t: x",
		"<14>CEF:0|a|b|c|d|e|f|",
		"<14>1 - h a - - [id k=\"v\\]\"] x",
		"exabeam_host=h date=2021-02-17T10:15:30+0000|mcType=auditLog",
		"<192>", "<", "<1>", "<13>Feb 29 00:00:00 h t:",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h := ParseHeader(in, headerNow)
		if !bytes.HasSuffix(in, h.Msg) {
			t.Fatalf("msg %q is not the tail of %q", h.Msg, in)
		}
		switch h.Format {
		case HeaderNone:
			if !bytes.Equal(h.Msg, in) || h.Priority != -1 {
				t.Fatalf("no header but msg %q priority %d", h.Msg, h.Priority)
			}
		case HeaderRFC5424, HeaderRFC3164, HeaderPRI:
			if h.Priority < 0 || h.Priority > 191 {
				t.Fatalf("priority %d", h.Priority)
			}
			if len(h.Msg) >= len(in) {
				t.Fatalf("%s header but msg %q as long as the input", h.Format, h.Msg)
			}
		default:
			t.Fatalf("format %q", h.Format)
		}
		if h.Format == HeaderRFC3164 && startsBSDTime(in[bytes.IndexByte(in, '>')+1:]) &&
			h.Timestamp.After(headerNow.Add(24*time.Hour)) {
			t.Fatalf("bsd time %v more than a day after the clock", h.Timestamp)
		}
	})
}
