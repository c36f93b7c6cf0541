package host

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// FieldsKey is the group that holds a relayed plugin line's own attributes
// in a SlogLogger's output.
const FieldsKey = "fields"

// SlogLogger returns a host Logger (Options.Logger) that writes through h,
// so that host events and the plugins' relayed lines share the gateway's
// log schema: h's time, level and msg keys; a plugin attribute (the
// logger's first name, which the host gives after the plugin) and the
// store the host adds with With; host event attributes beside them. A line
// go-plugin relays from a plugin's hclog JSON log keeps the plugin's
// timestamp as the record's time (no second timestamp attribute) and its
// own attributes nested under FieldsKey ("@module" provider, the plugin
// library's logger name, dropped). go-plugin's events name the executable
// as "plugin"; that becomes "path". Durations are logged as their String.
// The level is h's: the lowest level h is enabled for.
func SlogLogger(h slog.Handler) hclog.Logger {
	return &slogLogger{h: h}
}

type slogLogger struct {
	h      slog.Handler
	plugin string
	args   []any // from With
}

var _ hclog.Logger = (*slogLogger)(nil)

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (l *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || !l.h.Enabled(context.Background(), slogLevel(level)) {
		return
	}
	r := slog.NewRecord(time.Now(), slogLevel(level), msg, 0)
	if l.plugin != "" {
		r.AddAttrs(slog.String("plugin", l.plugin))
	}
	r.AddAttrs(attrs(l.args)...)
	if at, fields, ok := relayed(args); ok {
		r.Time = at
		if len(fields) > 0 {
			r.AddAttrs(slog.Attr{Key: FieldsKey, Value: slog.GroupValue(attrs(fields)...)})
		}
	} else {
		for _, a := range attrs(args) {
			if a.Key == "plugin" && l.plugin != "" {
				a.Key = "path" // go-plugin's events name the executable so
			}
			r.AddAttrs(a)
		}
	}
	_ = l.h.Handle(context.Background(), r)
}

// relayed recognises a line go-plugin relays from a plugin's JSON log: its
// attributes end with "timestamp" and the plugin's time. It returns that
// time and the plugin's attributes without it and without "@module".
func relayed(args []any) (time.Time, []any, bool) {
	n := len(args)
	if n < 2 || n%2 != 0 || args[n-2] != "timestamp" {
		return time.Time{}, nil, false
	}
	s, _ := args[n-1].(string)
	at, err := time.Parse(hclog.TimeFormat, s)
	if err != nil {
		return time.Time{}, nil, false
	}
	fields := make([]any, 0, n-2)
	for i := 0; i < n-2; i += 2 {
		if args[i] != "@module" {
			fields = append(fields, args[i], args[i+1])
		}
	}
	return at, fields, true
}

// attrs turns hclog's key/value pairs into slog attributes, as hclog
// itself would print them: a missing last value is EXTRA_VALUE_AT_END.
func attrs(args []any) []slog.Attr {
	out := make([]slog.Attr, 0, (len(args)+1)/2)
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			out = append(out, slog.Any("EXTRA_VALUE_AT_END", args[i]))
			break
		}
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		switch v := args[i+1].(type) {
		case time.Duration:
			out = append(out, slog.String(key, v.String()))
		case hclog.Format:
			if f, ok := firstString(v); ok {
				out = append(out, slog.String(key, fmt.Sprintf(f, v[1:]...)))
			} else {
				out = append(out, slog.Any(key, []any(v)))
			}
		case error:
			out = append(out, slog.String(key, v.Error()))
		default:
			out = append(out, slog.Any(key, v))
		}
	}
	return out
}

func firstString(v []any) (string, bool) {
	if len(v) == 0 {
		return "", false
	}
	s, ok := v[0].(string)
	return s, ok
}

func (l *slogLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *slogLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *slogLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *slogLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *slogLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *slogLogger) enabled(level hclog.Level) bool {
	return l.h.Enabled(context.Background(), slogLevel(level))
}

func (l *slogLogger) IsTrace() bool { return l.enabled(hclog.Trace) }
func (l *slogLogger) IsDebug() bool { return l.enabled(hclog.Debug) }
func (l *slogLogger) IsInfo() bool  { return l.enabled(hclog.Info) }
func (l *slogLogger) IsWarn() bool  { return l.enabled(hclog.Warn) }
func (l *slogLogger) IsError() bool { return l.enabled(hclog.Error) }

func (l *slogLogger) ImpliedArgs() []any { return l.args }

func (l *slogLogger) With(args ...any) hclog.Logger {
	c := *l
	c.args = append(append([]any(nil), l.args...), args...)
	return &c
}

func (l *slogLogger) Name() string { return l.plugin }

// Named names the plugin, once: the names go-plugin adds below it (the
// executable's, "stdio") would only repeat what plugin says.
func (l *slogLogger) Named(name string) hclog.Logger {
	if l.plugin != "" {
		return l
	}
	return l.ResetNamed(name)
}

func (l *slogLogger) ResetNamed(name string) hclog.Logger {
	c := *l
	c.plugin = name
	return &c
}

// SetLevel does nothing: the level is the handler's.
func (l *slogLogger) SetLevel(hclog.Level) {}

func (l *slogLogger) GetLevel() hclog.Level {
	for _, lv := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if l.enabled(lv) {
			return lv
		}
	}
	return hclog.Off
}

func (l *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

func (l *slogLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return stdWriter{l, level}
}

// stdWriter logs each line written to it as a message.
type stdWriter struct {
	log   hclog.Logger
	level hclog.Level
}

func (w stdWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w.log.Log(w.level, line)
		}
	}
	return len(b), nil
}
