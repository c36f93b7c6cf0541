package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/hooks"
)

func newHooksCmd(g *globalFlags) *cobra.Command {
	test := &cobra.Command{
		Use:   "test STORE",
		Short: "Send a signed ping event to a store's hook and print what came back",
		Long: `Load the configuration as serve would, then send the store's hook
(stores.STORE.hooks, over the top-level hooks block) one "ping" event, signed
like every delivery (Standard Webhooks: webhook-id, webhook-timestamp and one
webhook-signature per configured secret), with the hook's retries and
timeout. Print the outcome, the status, the webhook-id and the receiver's
answer. Exit 0 when the receiver accepted the ping (2xx with an empty or
JSON body), 1 otherwise. The ping is sent whatever the hook's events.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("hooks test takes one store name")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g, cmd)
			if err != nil {
				return redactedError{err}
			}
			name := args[0]
			sc, ok := cfg.Stores[name]
			if !ok {
				return fmt.Errorf("no store %q (stores: %s)", name, strings.Join(cfg.StoreNames(), ", "))
			}
			h, err := hooks.New(name, sc.Hooks)
			if err != nil {
				return err
			}
			if h == nil {
				return fmt.Errorf("stores.%s has no hook: set stores.%s.hooks.url, or hooks.url for every store", name, name)
			}
			return pingHook(cmd, h, sc.Hooks)
		},
	}
	return groupCmd("hooks", "Webhook commands", test)
}

// pingHook delivers a ping to h and prints the result on stdout.
func pingHook(cmd *cobra.Command, h *hooks.Hook, hc config.HooksConfig) error {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "POST %s (%d secret(s), timeout %s)\n", config.RedactURL(hc.URL), len(hc.SigningSecrets()), h.Timeout())
	started := time.Now()
	ans, err := hooks.NewSender(hooks.Options{}).Deliver(cmd.Context(), h, hooks.Event{Type: hooks.Ping})
	elapsed := time.Since(started).Round(time.Millisecond)
	var he *hooks.Error
	if errors.As(err, &he) {
		fmt.Fprintf(out, "webhook-id: %s\n%s", he.ID, describe(he.Outcome, he.Status, he.Attempts, elapsed))
		if he.Outcome == hooks.Unavailable {
			fmt.Fprintf(out, ", a client would be told to retry after %s", he.RetryAfter)
		}
		fmt.Fprintf(out, "\n%s\n", he.Message)
		return fmt.Errorf("the hook did not accept the ping (%s)", he.Outcome)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "webhook-id: %s\n%s\n", ans.ID, describe(hooks.Accepted, ans.Status, ans.Attempts, elapsed))
	if ans.Body == nil {
		fmt.Fprintln(out, "(no answer body)")
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, ans.Body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(ans.Body)
	}
	fmt.Fprintln(out, pretty.String())
	return nil
}

func describe(o hooks.Outcome, status, attempts int, elapsed time.Duration) string {
	s := string(o)
	if status != 0 {
		s += fmt.Sprintf(": HTTP %d", status)
	}
	plural := "s"
	if attempts == 1 {
		plural = ""
	}
	return s + fmt.Sprintf(" after %d attempt%s in %s", attempts, plural, elapsed)
}
