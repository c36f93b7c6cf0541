package core

import (
	"errors"
	"fmt"
	"strings"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/hooks"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
)

// Check compiles what every store of cfg needs at request time, its key
// template, its rules and its hook, checks what the authenticator requires of its
// settings, and reports every problem, each naming its config
// key (stores.NAME.rules.OP: LINE:COL: message). The server does the same
// when it loads or reloads a config; `valet config check` calls Check.
func Check(cfg *config.Config) error {
	errs := AuthConfig(cfg.Auth).Check()
	for _, name := range cfg.StoreNames() {
		if _, err := compileStore(name, cfg.Stores[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// compiled is a store's template, rules and hook, ready for requests.
type compiled struct {
	tmpl  *keys.Template
	rules *policy.Rules
	// hook is the store's webhook, nil without one; deliver with a
	// hooks.Sender.
	hook *hooks.Hook
}

// compileStore parses the key template, compiles the rules and the hook
// once, and refuses rules that would not keep callers apart.
func compileStore(name string, sc config.StoreConfig) (compiled, error) {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("stores.%s.%s: %s", name, key, fmt.Sprintf(format, args...)))
	}
	tmpl, terr := keys.ParseTemplate(sc.KeyTemplate)
	if terr != nil {
		add("key_template", "%v", terr)
	}
	rules, rerr := policy.CompileRules(sc.Rules.Upload, sc.Rules.Read, sc.Rules.Delete, sc.Rules.List)
	if rerr != nil {
		errs = append(errs, fmt.Errorf("stores.%s.%w", name, rerr))
	}
	if terr == nil && rerr == nil {
		// key_prefix keeps callers apart only when {subject} lies inside it.
		if rules.Uses("key_prefix") && !tmpl.SubjectInPrefix() {
			if strings.Contains(tmpl.String(), "{subject}") {
				add("key_template", "the rules use key_prefix, but {subject} does not come first, before {uuid}, {date}, {filename} and {ext}, followed by \"/\", so key_prefix (%q here) would not keep callers apart", tmpl.Prefix("SUBJECT"))
			} else {
				add("key_template", "the rules use key_prefix, but the template has no {subject}, so key_prefix is %q for every caller; write that prefix in the rule if every caller may use it", tmpl.Prefix("SUBJECT"))
			}
		}
		for _, op := range policy.Ops {
			if rules.For(op).BuildsFromSubject() {
				add("rules."+string(op), "builds a string from subject (as in \"users/\" + subject + \"/\"); keys hold the subject percent-encoded, so such a string is not the caller's prefix and another subject can match it: compare with key_prefix instead, e.g. key.startsWith(key_prefix)")
			}
		}
	}
	hook, herr := hooks.New(name, sc.Hooks)
	if herr != nil {
		errs = append(errs, herr)
	}
	if len(errs) > 0 {
		return compiled{}, errors.Join(errs...)
	}
	return compiled{tmpl: tmpl, rules: rules, hook: hook}, nil
}
