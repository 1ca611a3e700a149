package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// frame is one message read from a TCP stream.
type frame struct {
	// data is the message without its framing; for a tooLarge frame only its first bytes.
	data []byte
	// size is the message's full length in bytes.
	size int64
	// tooLarge says the message was longer than the limit; it was read through and not kept.
	tooLarge bool
	// truncated says the connection failed inside the frame; data is what arrived.
	truncated bool
}

// frameReader splits a TCP stream into syslog messages (RFC 6587): octet-counted frames ("LEN SP MSG", LEN of
// 1 to 10 digits without a leading zero) and newline-terminated ones, told apart per frame by their first bytes.
// It never holds more than max+2 bytes of a message: a longer one is read through in buffer-sized pieces.
type frameReader struct {
	br   *bufio.Reader
	max  int
	keep int
}

func newFrameReader(r io.Reader, max, keep int) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, max+2), max: max, keep: min(keep, max)}
}

// next reads the next frame. It returns io.EOF when the stream ended cleanly between frames, and another error
// when reading failed between frames. A newline frame cut by a clean end of stream is a whole message (senders
// often omit the last newline); one cut by a read error, and an octet-counted frame cut by anything, is
// truncated.
func (f *frameReader) next() (frame, error) {
	if n, ok := f.octetCount(); ok {
		return f.counted(n)
	}
	line, err := f.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		fr := frame{data: bytes.Clone(line[:f.keep]), size: int64(len(line)), tooLarge: true}
		prev := line[len(line)-1]
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > 0 {
				prev = line[len(line)-1]
			}
			line, err = f.br.ReadSlice('\n')
			fr.size += int64(len(line))
		}
		if err == nil {
			fr.size-- // the newline
			if bytes.HasSuffix(line, []byte("\r\n")) || (len(line) == 1 && prev == '\r') {
				fr.size--
			}
		}
		return fr, nil
	}
	switch {
	case err == nil:
		line = line[:len(line)-1]
	case len(line) == 0:
		return frame{}, err
	case !errors.Is(err, io.EOF):
		return frame{data: bytes.Clone(line), size: int64(len(line)), truncated: true}, nil
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) > f.max {
		return frame{data: bytes.Clone(line[:f.keep]), size: int64(len(line)), tooLarge: true}, nil
	}
	return frame{data: bytes.Clone(line), size: int64(len(line))}, nil
}

// octetCount looks at the next bytes without consuming them unless they are "LEN SP". It asks the stream for
// one byte at a time, so a short newline-terminated message never waits for bytes that will not come.
func (f *frameReader) octetCount() (int64, bool) {
	for i := 1; i <= 11; i++ {
		p, err := f.br.Peek(i)
		if err != nil || len(p) < i {
			return 0, false
		}
		c := p[i-1]
		switch {
		case i == 1 && (c < '1' || c > '9'):
			return 0, false
		case c == ' ':
			n, err := strconv.ParseInt(string(p[:i-1]), 10, 64)
			if err != nil {
				return 0, false
			}
			_, _ = f.br.Discard(i)
			return n, true
		case c < '0' || c > '9':
			return 0, false
		}
	}
	return 0, false
}

// counted reads an octet-counted frame of n bytes.
func (f *frameReader) counted(n int64) (frame, error) {
	if n > int64(f.max) {
		buf := make([]byte, f.keep)
		got, err := io.ReadFull(f.br, buf)
		fr := frame{data: buf[:got], size: n, tooLarge: true}
		if err == nil {
			_, err = f.br.Discard(int(n - int64(got)))
		}
		fr.truncated = err != nil
		return fr, nil
	}
	buf := make([]byte, n)
	got, err := io.ReadFull(f.br, buf)
	if err != nil {
		return frame{data: buf[:got], size: int64(got), truncated: true}, nil
	}
	return frame{data: buf, size: n}, nil
}
