package syslog

import (
	"context"
	"testing"
)

// BenchmarkMessage reads one RFC 5424 message holding a legacy SIEM key_value line: header, then rawlog on
// the MSG. Each message goes through rawlog.Run on its own reader, whose buffers dominate the allocations.
func BenchmarkMessage(b *testing.B) {
	l, err := New(Config{UDP: "127.0.0.1:0", Tenant: "bench"}, &testSink{}, WithClock(testClock))
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("<134>1 2026-01-02T03:04:05.123Z mta01 mimecast - siem - datetime=2017-05-26T16:47:41+0100|aCode=7O7I7MvGP1mj8plHRDuHEA|acc=C0A0|SpamLimit=0|IP=123.123.123.123|Dir=Internal|MsgId=<81ce15$8r2j59@mail01.example.com>|Subject=message subject|headerFrom=from@mimecast.com|Sender=from@mimecast.com|Rcpt=auser@mimecast.com|SpamInfo=[]|Act=Acc|TlsVer=TLSv1|SpamScore=1")
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		items := l.items(context.Background(), message{source: "bench", seq: 1, data: msg})
		if len(items) != 1 || items[0].Row == nil {
			b.Fatalf("items %+v", items)
		}
	}
}
