package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/providers"
)

// corsMaxAge is how long a browser may cache a preflight answer under the
// rule valet cors computes.
const corsMaxAge = 3600

// corsExposed are the response headers the rule exposes: ETag (valet.js
// reads each part's), and those a player or a ranged download reads.
var corsExposed = []string{"ETag", "Content-Length", "Content-Range", "Accept-Ranges"}

// corsMetaProbe is the metadata name signed into the probe recipes, so the
// metadata header's name can be told apart and widened to a prefix. It is
// one word: Azure encodes a hyphen in a metadata name.
const corsMetaProbe = "valetcorsprobe"

func newCORSCmd(g *globalFlags) *cobra.Command {
	return groupCmd("cors", "Show or set the bucket CORS rules a store's browser uploads and downloads need",
		newCORSShowCmd(g), newCORSApplyCmd(g))
}

func newCORSShowCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "show STORE",
		Short: "Print the CORS rule the store needs for server.cors_origins, and the bucket's current rules",
		Long: `Compute the CORS rule the store's bucket needs for the browser origins in
server.cors_origins (or the gateway's own origin when that lists none): the
methods Valet signs (GET, HEAD, PUT, DELETE where signed deletes are
supported, POST where POST policies are), the exact request headers of the
provider's recipes for a single PUT and a part (found by signing real ones)
and Range, the exposed ETag, Content-Length, Content-Range and
Accept-Ranges, and a max age. Then print the bucket's current rules and
whether they already allow it. Nothing is changed.`,
		Example: "  valet cors show -c valet.yaml media",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := runCORS(cmd, g, args[0], timeout, false)
			if err != nil {
				return err
			}
			return printCORS(cmd.OutOrStdout(), rep, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound on each plugin call")
	return cmd
}

func newCORSApplyCmd(g *globalFlags) *cobra.Command {
	var asJSON, yes bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply STORE",
		Short: "Set the bucket CORS rules the store needs (a dry run without --yes)",
		Long: `Compute the rule as valet cors show does and print the change to the
bucket's rules: rules naming none of the configured origins are kept, those
naming one are replaced by the computed rule. Without --yes nothing is
changed. With --yes the rules are written (S3 PutBucketCors, the GCS
bucket's CORS, the Azure storage account's Blob service properties, which
apply to all its containers) and read back. Where the server cannot take
bucket CORS (MinIO, or the local store, whose CORS is its config), it says
so and what to set instead, and exits non-zero.`,
		Example: `  valet cors apply -c valet.yaml media
  valet cors apply -c valet.yaml media --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := runCORS(cmd, g, args[0], timeout, yes)
			if err != nil {
				return err
			}
			if perr := printCORS(cmd.OutOrStdout(), rep, asJSON); perr != nil {
				return perr
			}
			if rep.Error != "" {
				return errors.New("cors apply: " + rep.Error)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "write the rules (without it, only print the change)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound on each plugin call")
	return cmd
}

// corsRule is a providers.CORSRule as valet cors prints it.
type corsRule struct {
	AllowedOrigins []string `json:"allowed_origins"`
	AllowedMethods []string `json:"allowed_methods"`
	AllowedHeaders []string `json:"allowed_headers"`
	ExposeHeaders  []string `json:"expose_headers"`
	MaxAgeSeconds  int      `json:"max_age_seconds"`
}

func toCORSRule(r providers.CORSRule) corsRule {
	nz := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return corsRule{nz(r.AllowedOrigins), nz(r.AllowedMethods), nz(r.AllowedHeaders), nz(r.ExposeHeaders), r.MaxAgeSeconds}
}

func (r corsRule) provider() providers.CORSRule {
	return providers.CORSRule{AllowedOrigins: r.AllowedOrigins, AllowedMethods: r.AllowedMethods,
		AllowedHeaders: r.AllowedHeaders, ExposeHeaders: r.ExposeHeaders, MaxAgeSeconds: r.MaxAgeSeconds}
}

// corsReport is what valet cors show and apply print (--json).
type corsReport struct {
	Store    string   `json:"store"`
	Provider string   `json:"provider"`
	Origins  []string `json:"origins"`
	// OriginsFrom says where Origins came from.
	OriginsFrom string `json:"origins_from"`
	// Needed is the rule the store needs; Notes say what it could not
	// cover.
	Needed corsRule `json:"needed"`
	Notes  []string `json:"notes,omitempty"`
	// Current is the bucket's rules, nil when the provider cannot tell
	// (CurrentError says why).
	Current      []corsRule `json:"current"`
	CurrentError string     `json:"current_error,omitempty"`
	// Satisfied is true when the current rules already allow what Needed
	// does, for every origin.
	Satisfied bool `json:"satisfied"`
	// Plan is the rules apply writes; Remove and Add the difference.
	Plan   []corsRule `json:"plan,omitempty"`
	Remove []corsRule `json:"remove,omitempty"`
	Add    []corsRule `json:"add,omitempty"`
	// Apply is whether this was apply, Applied whether rules were written.
	Apply   bool `json:"apply"`
	Applied bool `json:"applied"`
	// Error is why apply could not set the rules, with what to set instead.
	Error string `json:"error,omitempty"`
}

// runCORS computes the report for store, and with write sets the plan.
func runCORS(cmd *cobra.Command, g *globalFlags, store string, timeout time.Duration, write bool) (*corsReport, error) {
	if timeout <= 0 {
		return nil, usageError{fmt.Errorf("--timeout must be positive")}
	}
	cfg, err := loadConfig(g, cmd)
	if err != nil {
		return nil, err
	}
	sc, ok := cfg.Stores[store]
	if !ok {
		return nil, usageError{fmt.Errorf("no store %q in the config (stores: %s)", store, strings.Join(sortedKeys(cfg.Stores), ", "))}
	}
	h, err := newHost(cfg, cmd.ErrOrStderr(), nil)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ctx := cmd.Context()
	sctx, cancel := context.WithTimeout(ctx, max(timeout, 30*time.Second))
	defer cancel()
	p, err := startStore(sctx, h, cfg, store)
	if err != nil {
		return nil, redactedError{err}
	}
	defer p.Close()
	info, err := p.Info(sctx)
	if err != nil {
		return nil, fmt.Errorf("store %s: Info: %w", store, redactedError{err})
	}
	d := &storeDoctor{cmd: cmd, h: h, cfg: cfg, name: store, sc: sc, timeout: timeout, p: p, info: info,
		probe: probePrefix + randomHex(8) + "/cors.bin"}
	rep := &corsReport{Store: store, Provider: sc.Provider, Apply: write}
	rep.Origins, rep.OriginsFrom = d.origins()
	if len(rep.Origins) == 0 {
		return nil, fmt.Errorf("store %s: no browser origin: set server.cors_origins (or server.public_url)", store)
	}
	if !info.Capabilities.CORS {
		return nil, fmt.Errorf("store %s: provider %s cannot read or write bucket CORS (no CORS capability): configure CORS where the bucket is served", store, info.Name)
	}
	rule, notes, err := d.neededRule(ctx, rep.Origins)
	if err != nil {
		return nil, err
	}
	rep.Needed, rep.Notes = toCORSRule(rule), notes

	cur, err := d.getCORS(ctx)
	if err != nil {
		if providers.CodeOf(err) != providers.Unimplemented {
			return nil, fmt.Errorf("store %s: GetCORS: %w", store, redactedError{err})
		}
		rep.CurrentError = providers.AsError(err).Message
	} else {
		rep.Current = []corsRule{}
		for _, r := range cur {
			rep.Current = append(rep.Current, toCORSRule(r))
		}
		rep.Satisfied = satisfies(cur, rule)
		plan := planRules(cur, rule)
		for _, r := range plan {
			rep.Plan = append(rep.Plan, toCORSRule(r))
		}
		for _, r := range cur {
			if !slices.ContainsFunc(plan, func(p providers.CORSRule) bool { return sameCORSRule(p, r) }) {
				rep.Remove = append(rep.Remove, toCORSRule(r))
			}
		}
		for _, r := range plan {
			if !slices.ContainsFunc(cur, func(c providers.CORSRule) bool { return sameCORSRule(c, r) }) {
				rep.Add = append(rep.Add, toCORSRule(r))
			}
		}
	}
	if rep.Current == nil {
		// The provider cannot tell its rules: the plan is the computed
		// rule alone, which a server without bucket CORS refuses, saying
		// why.
		rep.Plan = []corsRule{rep.Needed}
		rep.Add = rep.Plan
	}
	if rep.Satisfied {
		// Nothing to change: the current rules already allow it.
		rep.Plan, rep.Add, rep.Remove = rep.Current, nil, nil
	}
	if !write || rep.Satisfied {
		return rep, nil
	}
	var plan []providers.CORSRule
	for _, r := range rep.Plan {
		plan = append(plan, r.provider())
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := p.PutCORS(pctx, providers.PutCORSRequest{Rules: plan}); err != nil {
		if providers.CodeOf(err) != providers.Unimplemented {
			return nil, fmt.Errorf("store %s: PutCORS: %w", store, redactedError{err})
		}
		rep.Error = providers.AsError(err).Message + "; the rule to set there: " + describeRule(rule)
		return rep, nil
	}
	rep.Applied = true
	after, err := d.getCORS(ctx)
	if err != nil {
		return nil, fmt.Errorf("store %s: reading the rules back: %w", store, redactedError{err})
	}
	rep.Current = []corsRule{}
	for _, r := range after {
		rep.Current = append(rep.Current, toCORSRule(r))
	}
	if rep.Satisfied = satisfies(after, rule); !rep.Satisfied {
		rep.Error = "the rules read back do not allow what was written"
	}
	return rep, nil
}

func (d *storeDoctor) getCORS(ctx context.Context) ([]providers.CORSRule, error) {
	res, err := within(ctx, d, d.p.GetCORS, providers.GetCORSRequest{})
	return res.Rules, err
}

// neededRule is the rule for origins: the methods the store's provider
// signs and the request headers of its real recipes (a single PUT with a
// content type, metadata, each bound checksum and create-only; a part), as
// valet.js sends them and a browser asks for them.
func (d *storeDoctor) neededRule(ctx context.Context, origins []string) (providers.CORSRule, []string, error) {
	caps := d.info.Capabilities
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPut}
	if caps.SignDelete {
		methods = append(methods, http.MethodDelete)
	}
	if caps.PostPolicy {
		methods = append(methods, http.MethodPost)
	}
	var notes []string
	// range: players and ranged downloads. content-type: XMLHttpRequest
	// sends the file's type as Content-Type when the recipe sets none (as
	// on Azure), and a browser asks for it whenever the type is not a
	// CORS-safelisted one.
	headers := []string{"content-type", "range"}
	add := func(names []string) {
		for _, n := range names {
			if !slices.Contains(headers, n) {
				headers = append(headers, n)
			}
		}
	}
	// Every algorithm an upload may declare is probed, not only the bound
	// ones: a recipe may still carry an unbound checksum's header (Azure
	// sends Content-MD5, which it checks but does not bind), and the
	// browser's preflight asks for it all the same. A store that refuses
	// an unbound algorithm gives no header for it.
	for _, alg := range []providers.ChecksumAlgorithm{"", providers.SHA256, providers.MD5, providers.CRC32C} {
		req := providers.PutRequest{Key: d.probe, ContentType: probeType, Size: 64,
			Metadata: map[string]string{corsMetaProbe: "1"}, CreateOnly: caps.BindsCreateOnly, TTL: d.ttl(d.sc.Limits.PutTTL)}
		if alg != "" {
			req.Checksum = &providers.Checksum{Algorithm: alg, Value: probeDigest(alg)}
		}
		r, err := within(ctx, d, d.p.SignPut, req)
		if err != nil && alg != "" && !caps.Binds(alg) {
			continue
		}
		if err != nil {
			return providers.CORSRule{}, nil, fmt.Errorf("store %s: SignPut of a probe (checksum %q): %w", d.name, alg, redactedError{err})
		}
		names, note := d.widenMeta(preflightHeaders(r.Headers))
		add(names)
		if note != "" && !slices.Contains(notes, note) {
			notes = append(notes, note)
		}
	}
	if part, partHeaders, partNote := d.partRecipe(ctx); part != nil {
		add(partHeaders)
	} else if partNote != "" && caps.Multipart {
		return providers.CORSRule{}, nil, fmt.Errorf("store %s: %s", d.name, partNote)
	}
	slices.Sort(headers)
	return providers.CORSRule{AllowedOrigins: origins, AllowedMethods: methods, AllowedHeaders: headers,
		ExposeHeaders: corsExposed, MaxAgeSeconds: corsMaxAge}, notes, nil
}

// widenMeta replaces the probe's metadata header with its prefix and a
// wildcard (x-amz-meta-*), since uploads carry any metadata name; GCS takes
// no wildcard, so there the header is left out and a note says so.
func (d *storeDoctor) widenMeta(names []string) ([]string, string) {
	var out []string
	note := ""
	for _, n := range names {
		prefix, ok := strings.CutSuffix(n, corsMetaProbe)
		if !ok {
			out = append(out, n)
			continue
		}
		if d.info.Name == "gcs" {
			note = fmt.Sprintf("GCS takes no wildcard in CORS headers: an upload with metadata sends %sNAME, which must be added to the rule for each NAME the application uses", prefix)
			continue
		}
		out = append(out, prefix+"*")
	}
	return out, note
}

// probeDigest is a well-formed digest of the algorithm, for a recipe only:
// the probe is never uploaded.
func probeDigest(alg providers.ChecksumAlgorithm) string {
	switch alg {
	case providers.MD5:
		return "1B2M2Y8AsgTpgAmY7PhCfg=="
	case providers.CRC32C:
		return "AAAAAA=="
	}
	return "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

// satisfies reports whether, for each origin of need, some rule allows it
// with every method and request header of need and exposes its headers.
func satisfies(rules []providers.CORSRule, need providers.CORSRule) bool {
	for _, o := range need.AllowedOrigins {
		ok := slices.ContainsFunc(rules, func(r providers.CORSRule) bool {
			return (slices.Contains(r.AllowedOrigins, o) || slices.Contains(r.AllowedOrigins, "*")) &&
				allIn(need.AllowedMethods, r.AllowedMethods, false) && allIn(need.AllowedHeaders, r.AllowedHeaders, true) &&
				allIn(need.ExposeHeaders, r.ExposeHeaders, true)
		})
		if !ok {
			return false
		}
	}
	return true
}

// allIn reports whether every value of want is in list (or list has "*";
// header names compare in any case; a wildcard such as x-amz-meta-* covers
// its prefix).
func allIn(want, list []string, headers bool) bool {
	for _, w := range want {
		if !slices.ContainsFunc(list, func(l string) bool {
			if l == "*" || l == w || headers && strings.EqualFold(l, w) {
				return true
			}
			p, ok := strings.CutSuffix(strings.ToLower(l), "*")
			return headers && ok && strings.HasPrefix(strings.ToLower(w), p)
		}) {
			return false
		}
	}
	return true
}

// planRules keeps the rules that name none of need's origins and adds need.
func planRules(cur []providers.CORSRule, need providers.CORSRule) []providers.CORSRule {
	var out []providers.CORSRule
	for _, r := range cur {
		if !slices.ContainsFunc(r.AllowedOrigins, func(o string) bool { return slices.Contains(need.AllowedOrigins, o) }) {
			out = append(out, r)
		}
	}
	return append(out, need)
}

func sameCORSRule(a, b providers.CORSRule) bool {
	eq := func(x, y []string) bool {
		x, y = slices.Clone(x), slices.Clone(y)
		for i := range x {
			x[i] = strings.ToLower(x[i])
		}
		for i := range y {
			y[i] = strings.ToLower(y[i])
		}
		slices.Sort(x)
		slices.Sort(y)
		return slices.Equal(slices.Compact(x), slices.Compact(y))
	}
	return eq(a.AllowedOrigins, b.AllowedOrigins) && eq(a.AllowedMethods, b.AllowedMethods) &&
		eq(a.AllowedHeaders, b.AllowedHeaders) && eq(a.ExposeHeaders, b.ExposeHeaders) && a.MaxAgeSeconds == b.MaxAgeSeconds
}

// describeRule is a rule in one line, for the operator to set by hand.
func describeRule(r providers.CORSRule) string {
	return fmt.Sprintf("allow origins %s, methods %s, request headers %s; expose %s; max age %d s",
		strings.Join(r.AllowedOrigins, ", "), strings.Join(r.AllowedMethods, ", "), orNone(r.AllowedHeaders),
		strings.Join(r.ExposeHeaders, ", "), r.MaxAgeSeconds)
}

func printCORS(w io.Writer, rep *corsReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "store %s (%s), origins from %s\n", rep.Store, rep.Provider, rep.OriginsFrom)
	fmt.Fprintf(&b, "needed:\n  %s\n", describeRule(rep.Needed.provider()))
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if rep.Current == nil {
		fmt.Fprintf(&b, "current: unknown: %s\n", rep.CurrentError)
	} else {
		fmt.Fprintf(&b, "current: %d rule(s)\n", len(rep.Current))
		for _, r := range rep.Current {
			fmt.Fprintf(&b, "  %s\n", describeRule(r.provider()))
		}
		if rep.Satisfied {
			b.WriteString("✔ the current rules allow what the store needs\n")
		} else {
			b.WriteString("✘ the current rules do not allow what the store needs\n")
		}
	}
	if rep.Apply {
		switch {
		case rep.Error != "":
			fmt.Fprintf(&b, "✘ not applied: %s\n", rep.Error)
		case rep.Applied:
			b.WriteString("✔ applied; the rules read back allow what the store needs\n")
		case rep.Satisfied:
			b.WriteString("nothing to change\n")
		default:
			b.WriteString("change (dry run: nothing changed; run with --yes to apply):\n")
			for _, r := range rep.Remove {
				fmt.Fprintf(&b, "  - %s\n", describeRule(r.provider()))
			}
			for _, r := range rep.Add {
				fmt.Fprintf(&b, "  + %s\n", describeRule(r.provider()))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
