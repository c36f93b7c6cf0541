package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Answer is what an accepting receiver answered.
type Answer struct {
	// ID is the delivery's webhook-id; empty when nothing was delivered (no
	// hook, or an event it does not want).
	ID string
	// Status is the receiver's 2xx status.
	Status int
	// Body is the receiver's JSON answer, compacted, at most MaxAnswerBytes
	// long; nil when it answered nothing. upload.complete returns it to the
	// client.
	Body json.RawMessage
	// Metadata is what an upload.create answer asked to add to the object
	// ({"metadata": {...}}), checked with CheckMetadata; nil otherwise.
	Metadata map[string]string
	// Attempts is how many requests it took.
	Attempts int
}

// Outcome is how a delivery ended; it labels the metrics and the log line.
type Outcome string

// The outcomes of a delivery.
const (
	// Accepted: the receiver answered 2xx with an acceptable body.
	Accepted Outcome = "accepted"
	// Rejected: the receiver answered 4xx (other than 408 and 429): it
	// refuses the event. Not retried.
	Rejected Outcome = "rejected"
	// Unavailable: every attempt timed out, failed on the network or got
	// 5xx, 408 or 429. The client should retry later.
	Unavailable Outcome = "unavailable"
	// InvalidAnswer: the receiver answered 2xx with a body that is too
	// large or not JSON (or upload.create metadata that breaks the rules),
	// or answered a redirect, which is not followed. Not retried.
	InvalidAnswer Outcome = "invalid_answer"
)

// Sentinel errors, matched by errors.Is against an *Error of that outcome.
var (
	ErrRejected      = errors.New("hook rejected the event")
	ErrUnavailable   = errors.New("hook unavailable")
	ErrInvalidAnswer = errors.New("hook gave an invalid answer")
)

// Error is a delivery that did not end Accepted. Its text holds no secret,
// signature or URL and may be logged; Message may be shown to the client.
type Error struct {
	Outcome Outcome
	// ID is the webhook-id.
	ID string
	// Status is the last HTTP status received, 0 if none.
	Status int
	// Message says what happened. For Rejected it is the receiver's own
	// {"message": ...}, sanitised and cut to MaxMessageBytes, or a
	// sentence naming the status when it gave none.
	Message string
	// RetryAfter, for Unavailable, is when the client should try again:
	// the receiver's Retry-After when it sent one (at most MaxRetryAfter),
	// else DefaultRetryAfter.
	RetryAfter time.Duration
	// Attempts is how many requests were made.
	Attempts int
}

func (e *Error) Error() string { return fmt.Sprintf("hook %s: %s", e.Outcome, e.Message) }

// Is matches the sentinel of e's outcome.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRejected:
		return e.Outcome == Rejected
	case ErrUnavailable:
		return e.Outcome == Unavailable
	case ErrInvalidAnswer:
		return e.Outcome == InvalidAnswer
	}
	return false
}

// Limits on what a receiver's answer may be.
const (
	// MaxAnswerBytes bounds the body of any answer; a larger 2xx body is an
	// InvalidAnswer.
	MaxAnswerBytes = 16 << 10
	// MaxMessageBytes bounds a rejection's message.
	MaxMessageBytes = 512
	// DefaultRetryAfter is Error.RetryAfter when the receiver sent none.
	DefaultRetryAfter = 2 * time.Second
	// MaxRetryAfter caps the receiver's Retry-After passed to the client.
	MaxRetryAfter = time.Minute
)

// cleanMessage makes a receiver's message fit to show: valid UTF-8, no
// control or format characters, spaces collapsed, at most MaxMessageBytes
// (cut on a character boundary).
func cleanMessage(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxMessageBytes {
		cut := MaxMessageBytes
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
