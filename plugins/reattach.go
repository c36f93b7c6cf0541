package plugins

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/hashicorp/go-plugin"

	"github.com/valetgw/valet/plugins/internal/wire"
)

// ReattachEnv names the variable that makes the gateway attach to plugins
// that are already running (served with WithDebug) instead of starting
// them: a JSON object from plugin name to Reattach, for example
//
//	VALET_PLUGIN_REATTACH='{"mystore":{"network":"unix","addr":"/tmp/plugin123","pid":4242}}'
const ReattachEnv = "VALET_PLUGIN_REATTACH"

// Reattach says where a plugin served with WithDebug or WithTest listens.
type Reattach struct {
	Network string `json:"network"` // "unix" or "tcp"
	Addr    string `json:"addr"`
	Pid     int    `json:"pid"`
}

// ParseReattach decodes the value of ReattachEnv. An empty value is no
// plugin.
func ParseReattach(v string) (map[string]Reattach, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var m map[string]Reattach
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object from plugin name to {network, addr, pid}: %v", ReattachEnv, err)
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := m[name].Config(); err != nil {
			return nil, fmt.Errorf("%s: plugin %q: %v", ReattachEnv, name, err)
		}
	}
	return m, nil
}

// Env is the ReattachEnv setting that attaches plugin name to r.
func (r Reattach) Env(name string) string {
	b, _ := json.Marshal(map[string]Reattach{name: r})
	return ReattachEnv + "='" + string(b) + "'"
}

// Config is r as go-plugin's reattach configuration. Test is set, so that
// the host never kills a process it did not start.
func (r Reattach) Config() (*plugin.ReattachConfig, error) {
	var addr net.Addr
	var err error
	switch r.Network {
	case "unix":
		addr, err = net.ResolveUnixAddr("unix", r.Addr)
	case "tcp":
		addr, err = net.ResolveTCPAddr("tcp", r.Addr)
	default:
		return nil, fmt.Errorf("network %q: want unix or tcp", r.Network)
	}
	if err != nil || r.Addr == "" {
		return nil, fmt.Errorf("address %q: %v", r.Addr, err)
	}
	if r.Pid <= 0 {
		return nil, fmt.Errorf("pid %d: want the plugin's process id", r.Pid)
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.ProtocolGRPC,
		ProtocolVersion: wire.ProtocolVersion,
		Addr:            addr,
		Pid:             r.Pid,
		Test:            true,
	}, nil
}

func reattachOf(rc *plugin.ReattachConfig) Reattach {
	return Reattach{Network: rc.Addr.Network(), Addr: rc.Addr.String(), Pid: rc.Pid}
}
