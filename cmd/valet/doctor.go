package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// checkStatus is one check's verdict.
type checkStatus string

const (
	checkOK      checkStatus = "ok"
	checkFailed  checkStatus = "fail"
	checkSkipped checkStatus = "skipped"
)

// checkResult is one line of `valet doctor`: what was checked, what was
// found and, for a failure, the fix in one sentence. Found never holds a
// secret, a signature or a signed URL's query.
type checkResult struct {
	Check  string      `json:"check"`
	Status checkStatus `json:"status"`
	Found  string      `json:"found"`
	Fix    string      `json:"fix,omitempty"`
}

// storeReport is one store's checks, in the order they ran.
type storeReport struct {
	Store    string        `json:"store"`
	Provider string        `json:"provider"`
	Checks   []checkResult `json:"checks"`
}

// doctorReport is what `valet doctor --json` prints.
type doctorReport struct {
	// OK is true when no check failed.
	OK bool `json:"ok"`
	// Config is the configuration check, which every store depends on.
	Config checkResult   `json:"config"`
	Stores []storeReport `json:"stores"`
}

func (r *doctorReport) failures() int {
	n := 0
	if r.Config.Status == checkFailed {
		n++
	}
	for _, s := range r.Stores {
		for _, c := range s.Checks {
			if c.Status == checkFailed {
				n++
			}
		}
	}
	return n
}

func newDoctorCmd(g *globalFlags) *cobra.Command {
	var (
		asJSON  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor [STORE...]",
		Short: "Check each store from this host: credentials, clock, a signed round trip, bucket CORS, the public endpoint",
		Long: `Check each store (all of them, or those named) from the host this runs on,
and print one line per check: ✔, ✘ or skipped, what was found, and for
each ✘ the fix in one sentence. The exit status is non-zero when a check
fails.

  config       the configuration loads and validates, as valet config check
  plugin       the store's plugin starts and accepts its config
  endpoint     the host in signed URLs resolves and answers HTTP from here
               (browsers must reach it too)
  clock        the storage server's Date against this host's clock, with
               the skew at which signatures start failing
  credentials  a HEAD of a probe key through the provider (not found is
               fine) and a signed GET of it are accepted; how long the
               credentials remain valid, where the provider knows
  roundtrip    a probe object is PUT with the recipe's headers, HEADed,
               read with a signed GET and a Range GET, and deleted with a
               signed DELETE, exactly as a browser would
  cors ORIGIN  for each server.cors_origins entry: a real preflight of the
               signed PUT with the headers valet.js sends, the allowed
               origin on a real PUT and GET, and ETag exposed to the page
  cleanup      the probe object is gone

The probe object lives under the reserved prefix .valet-doctor/ and is
removed even when a step fails. Like valet presign, doctor calls the
provider directly: the store's key template and rules do not apply to it.
A local store's plugin binds its listen address; next to a running gateway
give doctor another one (VALET_STORES__NAME__CONFIG__LISTEN=127.0.0.1:0).`,
		Example: `  valet doctor -c valet.yaml
  valet doctor -c valet.yaml media --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return usageError{fmt.Errorf("--timeout must be positive")}
			}
			rep := runDoctor(cmd, g, args, timeout)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := writeDoctorText(out, rep); err != nil {
				return err
			}
			if n := rep.failures(); n > 0 {
				return fmt.Errorf("doctor: %d check(s) failed", n)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the checks as JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound on each storage request and plugin call")
	return cmd
}

// runDoctor loads the config and checks each store asked for.
func runDoctor(cmd *cobra.Command, g *globalFlags, stores []string, timeout time.Duration) *doctorReport {
	rep := &doctorReport{Stores: []storeReport{}}
	cfg, err := loadConfig(g, cmd)
	if err != nil {
		rep.Config = checkResult{Check: "config", Status: checkFailed, Found: redactedError{err}.Error(),
			Fix: "fix the named key in the config file or environment (valet config check shows the same)"}
		return rep
	}
	src := "defaults and VALET_* environment"
	if g.config != "" {
		src = g.config
	}
	rep.Config = checkResult{Check: "config", Status: checkOK, Found: fmt.Sprintf("%s: valid, %d store(s)", src, len(cfg.Stores))}
	if len(stores) == 0 {
		stores = sortedKeys(cfg.Stores)
	}
	h, err := newHost(cfg, cmd.ErrOrStderr(), nil)
	if err != nil {
		rep.Config = checkResult{Check: "config", Status: checkFailed, Found: err.Error(), Fix: "fix plugins.* in the config"}
		return rep
	}
	defer h.Close()
	for _, name := range stores {
		sc, ok := cfg.Stores[name]
		if !ok {
			rep.Stores = append(rep.Stores, storeReport{Store: name, Checks: []checkResult{{
				Check: "config", Status: checkFailed, Found: fmt.Sprintf("no store %q in the config (stores: %s)", name, strings.Join(sortedKeys(cfg.Stores), ", ")),
				Fix: "name a store from the config, or add stores." + name,
			}}})
			continue
		}
		d := &storeDoctor{cmd: cmd, h: h, cfg: cfg, name: name, sc: sc, timeout: timeout}
		rep.Stores = append(rep.Stores, storeReport{Store: name, Provider: sc.Provider, Checks: d.run(cmd.Context())})
	}
	rep.OK = rep.failures() == 0
	return rep
}

// writeDoctorText prints the report for a person.
func writeDoctorText(w io.Writer, rep *doctorReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(indent string, c checkResult) {
		found := c.Found
		if c.Status == checkSkipped {
			found = "skipped: " + found
		}
		fmt.Fprintf(tw, "%s%s %s\t%s\n", indent, statusMark(c.Status), c.Check, oneLine(found))
		if c.Fix != "" {
			fmt.Fprintf(tw, "%s  \t  fix: %s\n", indent, oneLine(c.Fix))
		}
	}
	line("", rep.Config)
	for _, s := range rep.Stores {
		if err := tw.Flush(); err != nil {
			return err
		}
		title := "store " + s.Store
		if s.Provider != "" {
			title += " (" + s.Provider + ")"
		}
		fmt.Fprintln(w, title)
		for _, c := range s.Checks {
			line("  ", c)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "all checks passed"
	if n := rep.failures(); n > 0 {
		verdict = fmt.Sprintf("%d check(s) failed", n)
	}
	_, err := fmt.Fprintln(w, verdict)
	return err
}

func statusMark(s checkStatus) string {
	switch s {
	case checkOK:
		return "✔"
	case checkFailed:
		return "✘"
	default:
		return "-"
	}
}

// oneLine keeps a multi-line error on its line of the report.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
