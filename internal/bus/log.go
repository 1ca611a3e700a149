package bus

import (
	"context"
	"fmt"
	"log/slog"
)

// serverLog routes the embedded NATS server's log lines to slog.
type serverLog struct{ l *slog.Logger }

func (s *serverLog) log(level slog.Level, format string, v []any) {
	if !s.l.Enabled(context.Background(), level) {
		return
	}
	s.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (s *serverLog) Noticef(format string, v ...any) { s.log(slog.LevelDebug, format, v) }
func (s *serverLog) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s *serverLog) Fatalf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s *serverLog) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s *serverLog) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s *serverLog) Tracef(format string, v ...any)  { s.log(slog.LevelDebug-4, format, v) }
