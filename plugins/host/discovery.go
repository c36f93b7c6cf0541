package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/providers"
)

// ExternalPrefix is the file name prefix of external plugin binaries.
const ExternalPrefix = "valet-plugin-"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Found is one external plugin binary seen by Discover.
type Found struct {
	Name string
	Path string
	// SHA256 is the lowercase hex digest of the file, the value to pin.
	SHA256 string
	// Shadowed is true when a directory earlier in the list holds a plugin
	// of the same name, so this file would never be run.
	Shadowed bool
}

// target finds what runs plugin name: a process to attach to, or its
// executable and arguments, read into a sealed copy when it is pinned.
func (h *Host) target(name string) (target, error) {
	if r, ok := h.opts.Reattach[name]; ok {
		rc, err := r.Config()
		if err != nil {
			return target{}, err
		}
		h.log.Warn("attaching to a plugin process started elsewhere", "plugin", name, plugins.ReattachEnv, r.Network+":"+r.Addr, "pid", r.Pid)
		return target{exe: name, attach: rc}, nil
	}
	exe, args, err := h.resolve(name)
	if err != nil {
		return target{}, err
	}
	// A pinned binary is read and checked once here; every launch of this
	// plugin, restarts included, executes that sealed copy.
	img, err := h.sealPinned(name, exe)
	if err != nil {
		return target{}, err
	}
	return target{exe: exe, img: img, args: args}, nil
}

// resolve checks a plugin name and finds its executable and arguments.
func (h *Host) resolve(name string) (string, []string, error) {
	if !nameRE.MatchString(name) {
		return "", nil, providers.Errorf(providers.InvalidArgument, "plugin name %q must be lowercase letters, digits, '-' or '_'", name)
	}
	if slices.Contains(h.opts.Builtins, name) {
		return h.opts.Executable, []string{"plugin", "serve", name}, nil
	}
	for _, dir := range h.opts.PluginDirs {
		p := filepath.Join(dir, ExternalPrefix+name)
		if isExecutable(p) {
			return p, nil, nil
		}
	}
	if len(h.opts.PluginDirs) == 0 {
		return "", nil, providers.Errorf(providers.NotFound, "plugin %q is not built in and no plugin directories are configured", name)
	}
	return "", nil, providers.Errorf(providers.NotFound, "plugin %q is not built in and no executable %s%s was found in %s",
		name, ExternalPrefix, name, strings.Join(h.opts.PluginDirs, ", "))
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func fileSHA256(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// Discover lists the external plugin binaries (executable regular files
// named valet-plugin-NAME) in dirs, in search order. Missing directories are
// skipped; other read errors are returned with what was found so far.
func Discover(dirs []string) ([]Found, error) {
	var out []Found
	seen := map[string]bool{}
	var errs []error
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin directory %s: %w", dir, err))
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), ExternalPrefix)
			p := filepath.Join(dir, e.Name())
			if !ok || !nameRE.MatchString(name) || !isExecutable(p) {
				continue
			}
			sum, err := fileSHA256(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("plugin %s: %w", p, err))
				continue
			}
			out = append(out, Found{Name: name, Path: p, SHA256: sum, Shadowed: seen[name]})
			seen[name] = true
		}
	}
	return out, errors.Join(errs...)
}
