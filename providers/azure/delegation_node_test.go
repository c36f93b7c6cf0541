package azure

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

// TestUserDelegationSASMatchesNodeSDK signs user delegation SAS through the
// provider (azure_ad mode, with a fixed delegation key in place of Entra ID)
// and with the Node SDK's generateBlobSASQueryParameters at the same pinned
// version, and compares sig. No Azure server verifies these here (Azurite
// issues no delegation keys without OAuth and TLS), so agreement of the two
// official SDKs is the check that the pinned layout is right.
func TestUserDelegationSASMatchesNodeSDK(t *testing.T) {
	testenv.LookPath(t, "node")
	pkg := testenv.NodeModule(t, "@azure/storage-blob")
	script := filepath.Join(testenv.Root(), "e2e", "azure_node", "sas.mjs")

	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	p := newProvider(func() time.Time { return now })
	s, err := parseConfig(rawConfig(t, map[string]any{"account_name": "acct1", "container": "media", "credential": "azure_ad"}))
	if err != nil {
		t.Fatal(err)
	}
	var keyStart, keyExpiry time.Time
	p.cfg = &store{settings: s, keys: newDelegationCache(func(_ context.Context, start, expiry time.Time) (*service.UserDelegationCredential, error) {
		keyStart, keyExpiry = start, expiry
		return udcFixture(t, start, expiry), nil
	}, p.now)}

	type udk struct {
		OID     string `json:"oid"`
		TID     string `json:"tid"`
		Start   string `json:"start"`
		Expiry  string `json:"expiry"`
		Service string `json:"service"`
		Version string `json:"version"`
		Value   string `json:"value"`
	}
	type sasCase struct {
		Account   string `json:"account"`
		Container string `json:"container"`
		Blob      string `json:"blob"`
		SP        string `json:"sp"`
		SE        string `json:"se"`
		SPR       string `json:"spr"`
		SV        string `json:"sv"`
		RSCD      string `json:"rscd,omitempty"`
		RSCT      string `json:"rsct,omitempty"`
		UDK       *udk   `json:"udk"`
		goSig     string
	}
	var cases []sasCase
	ctx := context.Background()
	for _, key := range []string{"a.txt", "dir/a b+c~ü(1).bin", `q"uote/日本.mp4`} {
		var rs []providers.Recipe
		g, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: 10 * time.Minute, ResponseContentType: "video/mp4", ResponseContentDisposition: `inline; filename="` + key + `"`})
		if err != nil {
			t.Fatal(err)
		}
		pu, err := p.SignPut(ctx, providers.PutRequest{Key: key, Size: 1, TTL: time.Hour, CreateOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		d, err := p.SignDelete(ctx, providers.SignDeleteRequest{Key: key, TTL: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, g, pu, d)
		for _, r := range rs {
			u, _ := url.Parse(r.URL)
			q := u.Query()
			if q.Get("skoid") != "oid" || q.Get("skt") != keyStart.Format(time.RFC3339) || q.Get("ske") != keyExpiry.Format(time.RFC3339) {
				t.Fatalf("delegation fields: skoid=%q skt=%q ske=%q", q.Get("skoid"), q.Get("skt"), q.Get("ske"))
			}
			cases = append(cases, sasCase{Account: "acct1", Container: "media", Blob: strings.TrimPrefix(u.Path, "/media/"),
				SP: q.Get("sp"), SE: q.Get("se"), SPR: q.Get("spr"), SV: q.Get("sv"), RSCD: q.Get("rscd"), RSCT: q.Get("rsct"),
				UDK:   &udk{OID: q.Get("skoid"), TID: q.Get("sktid"), Start: q.Get("skt"), Expiry: q.Get("ske"), Service: q.Get("sks"), Version: q.Get("skv"), Value: testKey},
				goSig: q.Get("sig")})
		}
	}
	in, _ := json.Marshal(cases)
	out := testenv.NodeScript(t, in, script, pkg)
	var res []struct {
		Sig string `json:"sig"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("node output: %d results for %d cases (%v)", len(res), len(cases), err)
	}
	for i, c := range cases {
		if c.SV != SASVersion || c.SPR != "https" {
			t.Fatalf("case %d: sv=%q spr=%q", i, c.SV, c.SPR)
		}
		if res[i].Sig != c.goSig {
			t.Errorf("case %d (%q sp=%s): Go and Node user delegation signatures differ", i, c.Blob, c.SP)
		}
	}
	if !t.Failed() {
		t.Logf("%d user delegation SAS cases: Go sig == Node sig at sv=%s", len(cases), SASVersion)
	}
}
