package syslog

import (
	"errors"
	"io"
	"strings"
	"testing"
)

type wantFrame struct {
	data      string
	size      int64
	tooLarge  bool
	truncated bool
}

// readFrames reads every frame of src and the error that ended the stream.
func readFrames(t *testing.T, src io.Reader, max, keep int) ([]wantFrame, error) {
	t.Helper()
	fr := newFrameReader(src, max, keep)
	var out []wantFrame
	for i := 0; i < 1000; i++ {
		f, err := fr.next()
		if err != nil {
			return out, err
		}
		out = append(out, wantFrame{string(f.data), f.size, f.tooLarge, f.truncated})
	}
	t.Fatal("no end of stream")
	return nil, nil
}

func TestFrameReader(t *testing.T) {
	long := strings.Repeat("x", 30)
	tests := []struct {
		name  string
		input string
		err   error // what ends the stream after the input
		want  []wantFrame
	}{
		{"newline frames", "<13>a\n<13>b\r\nc\n", io.EOF,
			[]wantFrame{{"<13>a", 5, false, false}, {"<13>b", 5, false, false}, {"c", 1, false, false}}},
		{"last line without newline at a clean end", "a\nb", io.EOF,
			[]wantFrame{{"a", 1, false, false}, {"b", 1, false, false}}},
		{"octet counted, newline inside the message", "5 ab\ncd3 xyz", io.EOF,
			[]wantFrame{{"ab\ncd", 5, false, false}, {"xyz", 3, false, false}}},
		{"framings mixed per frame", "3 abc<13>d\n2 ef\n", io.EOF,
			[]wantFrame{{"abc", 3, false, false}, {"<13>d", 5, false, false}, {"ef", 2, false, false}, {"", 0, false, false}}},
		{"digits without a space are a newline frame", "2021-02-17 h CEF:0|x\n", io.EOF,
			[]wantFrame{{"2021-02-17 h CEF:0|x", 20, false, false}}},
		{"leading zero is no octet count", "05 abcde\n", io.EOF, []wantFrame{{"05 abcde", 8, false, false}}},
		{"eleven digits is no octet count", "12345678901 a\n", io.EOF, []wantFrame{{"12345678901 a", 13, false, false}}},
		{"message exactly at the limit", strings.Repeat("y", 20) + "\n20 " + strings.Repeat("z", 20), io.EOF,
			[]wantFrame{{strings.Repeat("y", 20), 20, false, false}, {strings.Repeat("z", 20), 20, false, false}}},
		{"oversize newline frame, then a normal one", long + "\nok\n", io.EOF,
			[]wantFrame{{"xxxx", 30, true, false}, {"ok", 2, false, false}}},
		{"oversize newline frame with CR", strings.Repeat("x", 21) + "\r\nok\n", io.EOF,
			[]wantFrame{{"xxxx", 21, true, false}, {"ok", 2, false, false}}},
		{"oversize octet frame, then a normal one", "30 " + long + "2 ok", io.EOF,
			[]wantFrame{{"xxxx", 30, true, false}, {"ok", 2, false, false}}},
		{"octet frame cut by the end of stream", "10 abc", io.EOF, []wantFrame{{"abc", 3, false, true}}},
		{"oversize octet frame cut", "99 " + long, io.EOF, []wantFrame{{"xxxx", 99, true, true}}},
		{"newline frame cut by a read error", "a\nbc", errReset, []wantFrame{{"a", 1, false, false}, {"bc", 2, false, true}}},
		{"read error between frames", "a\n", errReset, []wantFrame{{"a", 1, false, false}}},
		{"empty stream", "", io.EOF, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := io.MultiReader(strings.NewReader(tt.input), errReader{tt.err})
			got, err := readFrames(t, src, 20, 4)
			if !errors.Is(err, tt.err) {
				t.Errorf("stream ended with %v, want %v", err, tt.err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("frames %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("frame %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

var errReset = errors.New("connection reset")

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestFrameReaderOversizeNotHeld streams a 64 MiB octet-counted frame and a 64 MiB line through a reader that
// records the largest read asked of it: the frames are read through in buffer-sized pieces, never held whole.
func TestFrameReaderOversizeNotHeld(t *testing.T) {
	const size = 64 << 20
	const max = 1024
	src := &maxReadSize{r: io.MultiReader(
		strings.NewReader("67108864 "), &repeatReader{b: 'a', n: size},
		&repeatReader{b: 'b', n: size}, strings.NewReader("\n<13>after\n"))}
	got, err := readFrames(t, src, max, 16)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	want := []wantFrame{{strings.Repeat("a", 16), size, true, false}, {strings.Repeat("b", 16), size, true, false}, {"<13>after", 9, false, false}}
	if len(got) != len(want) {
		t.Fatalf("frames %+v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("frame %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if src.max > max+2 {
		t.Errorf("a read asked for %d bytes, more than the %d-byte buffer", src.max, max+2)
	}
}

type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

type maxReadSize struct {
	r   io.Reader
	max int
}

func (m *maxReadSize) Read(p []byte) (int, error) {
	m.max = max(m.max, len(p))
	return m.r.Read(p)
}
