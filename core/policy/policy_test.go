package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// ruleCase is a rule and the verdict it should give.
type ruleCase struct {
	rule string
	want bool
}

func mustCompile(t *testing.T, rule string) *Program {
	t.Helper()
	p, err := Compile(rule)
	if err != nil {
		t.Fatalf("Compile(%q): %v", rule, err)
	}
	return p
}

func TestAllow(t *testing.T) {
	ctx := context.Background()
	in := Input{Subject: "alice", Claims: map[string]any{"role": "admin", "n": 3}, Key: "users/alice/x.mp4", Prefix: "users/alice/", Size: 10, ContentType: "video/mp4"}
	tests := []ruleCase{
		{`true`, true},
		{`false`, false},
		{``, false},
		{`key.startsWith("users/" + subject + "/")`, true},
		{`key.startsWith("users/bob/")`, false},
		{`claims.role == "admin"`, true},
		{`claims.missing == "x"`, false}, // evaluation error denies
		{`size <= 10 && content_type.startsWith("video/")`, true},
		{`prefix == "users/alice/"`, true},
		{`size > 10`, false},
	}
	for _, tt := range tests {
		err := mustCompile(t, tt.rule).Allow(ctx, in)
		if got := err == nil; got != tt.want {
			t.Errorf("%q: allowed=%v (err %v), want %v", tt.rule, got, err, tt.want)
		}
	}
}

func TestEvalErrorIsNotPlainDenial(t *testing.T) {
	err := mustCompile(t, `claims.missing == "x"`).Allow(context.Background(), Input{})
	if err == nil || errors.Is(err, ErrDenied) {
		t.Fatalf("want evaluation error, got %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ rule, want string }{
		{`subject ==`, "1:"},
		{`nope == "x"`, "1:1: undeclared reference to 'nope'"},
		{`key`, "must be a bool"},
		{"true &&\n  bogus", "2:3:"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.rule)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%q) = %v, want error containing %q", tt.rule, err, tt.want)
		}
	}
	_, err := CompileRules("true", "true", "oops(", "true")
	if err == nil || !strings.HasPrefix(err.Error(), "rules.delete: 1:") {
		t.Fatalf("CompileRules error = %v", err)
	}
}

func TestCostLimit(t *testing.T) {
	p := mustCompile(t, `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, true)))))`)
	if err := p.Allow(context.Background(), Input{}); err == nil {
		t.Fatal("expensive rule allowed; want cost limit denial")
	}
}

// May is false only when the rule cannot be true for this caller whatever
// the request-specific variables are.
func TestMay(t *testing.T) {
	ctx := context.Background()
	in := Input{Subject: "alice", Claims: map[string]any{"role": "viewer"}}
	tests := []ruleCase{
		{`true`, true},
		{`false`, false},
		{``, false},
		{`size > 0`, true},
		{`size > 0 && content_type.startsWith("video/")`, true},
		{`size <= 2 * 1024 * 1024 * 1024 || claims.role == "editor"`, true},
		{`size > 0 && claims.role == "editor"`, false},
		{`claims.role == "editor"`, false},
		{`claims.role == "viewer" && key.startsWith("users/" + subject + "/")`, true},
		{`subject == "bob" && size < 10`, false},
		{`claims.missing == "x"`, false}, // an error for this caller denies
		{`prefix.startsWith("users/" + subject + "/")`, true},
	}
	for _, tt := range tests {
		if got := mustCompile(t, tt.rule).May(ctx, in, RequestVars...); got != tt.want {
			t.Errorf("May(%q) = %v, want %v", tt.rule, got, tt.want)
		}
	}
	var nilProg *Program
	if nilProg.May(ctx, in, RequestVars...) {
		t.Error("nil program may")
	}
	// With nothing unknown, May is Allow.
	p, _ := Compile(`size > 0`)
	if p.May(ctx, in) {
		t.Error("size > 0 with size 0 known")
	}
}
