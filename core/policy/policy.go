// Package policy compiles and evaluates a store's CEL access rules.
//
// A rule is a boolean CEL expression over the variables subject (string),
// claims (map), key (string), prefix (string), key_prefix (string), size
// (int) and content_type (string). Rules are compiled once, when the configuration loads; at request
// time an evaluation error, or any result other than true, denies. The
// package knows nothing about HTTP or configuration files.
package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"
)

// Op names the operation a rule guards.
type Op string

const (
	Upload Op = "upload"
	Read   Op = "read"
	Delete Op = "delete"
	List   Op = "list"
)

// Ops lists every operation, in the order rules are written in config.
var Ops = []Op{Upload, Read, Delete, List}

// Input is what a rule sees. For list, Key and Prefix both hold the
// requested prefix; otherwise Prefix is Key up to and including its last "/".
type Input struct {
	Subject string
	Claims  map[string]any
	// KeyPrefix is the store's key template rendered for this caller up to
	// its first per-upload field ("users/" + the encoded subject + "/"):
	// the caller's own part of the store. Rules compare keys against it,
	// never against a string built from subject, because the key encodes
	// the subject (see keys.EncodeSubject).
	KeyPrefix   string
	Key         string
	Prefix      string
	Size        int64
	ContentType string
}

// costLimit bounds the work one evaluation may do, so that a rule such as a
// huge comprehension cannot stall a request.
const costLimit = 100_000

var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("subject", cel.StringType),
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("key", cel.StringType),
		cel.Variable("prefix", cel.StringType),
		cel.Variable("key_prefix", cel.StringType),
		cel.Variable("size", cel.IntType),
		cel.Variable("content_type", cel.StringType),
	)
})

// CompileError is a rule that does not compile. Line and Column are
// 1-based positions in the rule's source.
type CompileError struct {
	Line, Column int
	Message      string
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
	}
	return e.Message
}

// Program is a compiled rule. The zero value is not usable; a nil *Program
// denies everything.
type Program struct {
	src string
	prg cel.Program
	// partial evaluates with some variables unknown, for May.
	partial cel.Program
	// vars are the variables the rule reads.
	vars map[string]bool
	// concat is true when the rule joins subject into a string with "+".
	concat bool
}

// Compile compiles one rule. An empty (or all-blank) source compiles to a
// rule that always denies, so a store grants nothing it does not spell out.
func Compile(src string) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		src = "false"
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("policy environment: %w", err)
	}
	ast, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) == 0 {
			return nil, &CompileError{Message: iss.Err().Error()}
		}
		first := errs[0]
		ce := &CompileError{Message: first.Message}
		if loc := first.Location; loc != nil {
			ce.Line, ce.Column = loc.Line(), loc.Column()+1
		}
		return nil, ce
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, &CompileError{Line: 1, Column: 1, Message: fmt.Sprintf("rule must be a bool expression, found %s", ast.OutputType())}
	}
	// OptOptimize folds constants and prepares literal lists/maps once, at
	// compile time, instead of on every evaluation.
	prg, err := e.Program(ast, cel.CostLimit(costLimit), cel.InterruptCheckFrequency(100), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &CompileError{Message: err.Error()}
	}
	partial, err := e.Program(ast, cel.CostLimit(costLimit), cel.InterruptCheckFrequency(100), cel.EvalOptions(cel.OptOptimize, cel.OptPartialEval))
	if err != nil {
		return nil, &CompileError{Message: err.Error()}
	}
	vars := map[string]bool{}
	if ce, err := cel.AstToCheckedExpr(ast); err == nil {
		for _, ref := range ce.GetReferenceMap() {
			if n := ref.GetName(); n != "" {
				vars[n] = true
			}
		}
	}
	concat := false
	celast.PreOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != operators.Add {
			return
		}
		for _, a := range e.AsCall().Args() {
			if fromSubject(a) {
				concat = true
			}
		}
	}))
	return &Program{src: src, prg: prg, partial: partial, vars: vars, concat: concat}, nil
}

// fromSubject reports whether e reads the caller's identity as it is, not
// encoded: subject, or the claim it comes from (claims.sub,
// claims["sub"]), alone or inside a call such as string(subject).
func fromSubject(e celast.Expr) bool {
	found := false
	celast.PreOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		switch x.Kind() {
		case celast.IdentKind:
			found = found || x.AsIdent() == "subject"
		case celast.SelectKind:
			s := x.AsSelect()
			found = found || (s.FieldName() == "sub" && s.Operand().Kind() == celast.IdentKind && s.Operand().AsIdent() == "claims")
		case celast.CallKind:
			c := x.AsCall()
			if c.FunctionName() == operators.Index && len(c.Args()) == 2 {
				obj, idx := c.Args()[0], c.Args()[1]
				found = found || (obj.Kind() == celast.IdentKind && obj.AsIdent() == "claims" &&
					idx.Kind() == celast.LiteralKind && idx.AsLiteral().Value() == "sub")
			}
		}
	}))
	return found
}

// BuildsFromSubject reports whether the rule joins subject (or its claim,
// claims.sub, or either inside a call) into a string with "+", as in
// key.startsWith("users/" + subject + "/"). Keys hold the
// subject encoded (keys.EncodeSubject), so such a string is not the
// caller's prefix: rules compare keys with key_prefix instead.
func (p *Program) BuildsFromSubject() bool { return p != nil && p.concat }

// Uses reports whether the rule reads the variable name.
func (p *Program) Uses(name string) bool { return p != nil && p.vars[name] }

// Uses reports whether any of the rules reads the variable name.
func (r *Rules) Uses(name string) bool {
	for _, op := range Ops {
		if r.For(op).Uses(name) {
			return true
		}
	}
	return false
}

// Source returns the rule's source text.
func (p *Program) Source() string {
	if p == nil {
		return ""
	}
	return p.src
}

// ErrDenied is returned by Allow when a rule evaluates to false.
var ErrDenied = errors.New("policy: denied")

// Allow evaluates the rule. It returns nil only when the rule evaluates to
// true; ErrDenied when it evaluates to false; and any other error (also a
// denial) when evaluation fails, for example on a missing claim.
func (p *Program) Allow(ctx context.Context, in Input) error {
	if p == nil || p.prg == nil {
		return ErrDenied
	}
	act := &activation{in: in}
	if act.in.Claims == nil {
		act.in.Claims = noClaims
	}
	out, _, err := p.prg.ContextEval(ctx, act)
	if err != nil {
		return fmt.Errorf("policy: evaluation failed: %w", err)
	}
	if b, ok := out.Value().(bool); ok && b {
		return nil
	}
	return ErrDenied
}

// RequestVars are the variables that depend on the request rather than on
// the caller: the object's key and prefix, the upload's size and type.
var RequestVars = []string{"key", "prefix", "size", "content_type"}

// May reports whether the rule can allow some request by this caller: it
// evaluates with the variables named in unknown (e.g. RequestVars) left
// unknown, and is false only when the rule is definitely not true whatever
// they are (it is false, or fails, for this subject and claims alone). An
// unknown result counts as "may". The values in for the unknown variables
// are ignored.
func (p *Program) May(ctx context.Context, in Input, unknown ...string) bool {
	if p == nil || p.partial == nil {
		return false
	}
	if in.Claims == nil {
		in.Claims = noClaims
	}
	patterns := make([]*cel.AttributePatternType, len(unknown))
	for i, name := range unknown {
		patterns[i] = cel.AttributePattern(name)
	}
	vars, err := cel.PartialVars(&activation{in: in}, patterns...)
	if err != nil {
		return false
	}
	out, _, err := p.partial.ContextEval(ctx, vars)
	if err != nil {
		return false
	}
	if types.IsUnknown(out) {
		return true
	}
	b, ok := out.Value().(bool)
	return ok && b
}

// noClaims stands in for a nil claims map; rules only read it.
var noClaims = map[string]any{}

// activation resolves the rule variables straight from an Input, which
// spares building a map per evaluation.
type activation struct{ in Input }

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "subject":
		return a.in.Subject, true
	case "claims":
		return a.in.Claims, true
	case "key":
		return a.in.Key, true
	case "prefix":
		return a.in.Prefix, true
	case "key_prefix":
		return a.in.KeyPrefix, true
	case "size":
		return a.in.Size, true
	case "content_type":
		return a.in.ContentType, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Rules holds a store's compiled rules.
type Rules struct {
	Upload, Read, Delete, List *Program
}

// For returns the rule guarding op (nil, which denies, for an unknown op).
func (r *Rules) For(op Op) *Program {
	if r == nil {
		return nil
	}
	switch op {
	case Upload:
		return r.Upload
	case Read:
		return r.Read
	case Delete:
		return r.Delete
	case List:
		return r.List
	}
	return nil
}

// CompileRules compiles the four rules of a store. The error names the
// failing rule as "rules.OP: LINE:COL: message".
func CompileRules(upload, read, del, list string) (*Rules, error) {
	var r Rules
	for _, x := range []struct {
		op  Op
		src string
		dst **Program
	}{{Upload, upload, &r.Upload}, {Read, read, &r.Read}, {Delete, del, &r.Delete}, {List, list, &r.List}} {
		p, err := Compile(x.src)
		if err != nil {
			return nil, fmt.Errorf("rules.%s: %w", x.op, err)
		}
		*x.dst = p
	}
	return &r, nil
}
