package core

import (
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// Rotating tokens.secret and the HS256 secret without downtime: an upload
// created under the old secret completes on a gateway that lists the new
// secret first and the old one second, a session token signed with the old
// HS256 key still verifies there, and both stop working once the old
// secret is dropped.
func TestSecretRotation(t *testing.T) {
	const (
		newTok = "rotated-token-secret-0123456789abcdef"
		newHS  = "rotated-hs256-secret-0123456789abcdef"
	)
	old := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	old.start(old.fake)
	alice := old.token("alice", nil)
	data := []byte("uploaded across a rotation")
	up := old.uploadSingle(t, alice, data, nil)
	id := up["upload_id"].(string)

	// The same config with both secrets rotated: new first, old second.
	body := func(tokens, hs string) string {
		return `
auth:
  jwt: { ` + hs + `, issuer: valet-test, audience: valet }
` + tokens + `
stores:
  media:
    provider: fake
    limits: { content_types: ["text/plain"] }
    rules: { upload: 'true', read: 'true', delete: 'true' }
`
	}
	rotated := &harness{t: t, fake: old.fake, logs: &testenv.Buffer{},
		cfg: loadBody(t, body(`tokens: { secrets: ["`+newTok+`", "`+tokSecret+`"] }`, `hs256_secrets: ["`+newHS+`", "`+hsSecret+`"]`))}
	rotated.start(old.fake)
	if r := rotated.do("GET", "/v1/stores", alice, nil); r.status != 200 {
		t.Fatalf("old HS256 token after rotation: %d %s", r.status, r.body)
	}
	fresh := rotated.token("alice", nil) // signed with the new key
	if r := rotated.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil); r.status != 200 {
		t.Fatalf("complete of an upload sealed under the old secret: %d %s", r.status, r.body)
	}
	// A new upload id is sealed with the new secret: the old gateway cannot
	// open it, the rotated one can.
	r := rotated.do("POST", "/v1/stores/media/uploads", fresh, map[string]any{"filename": "b.txt", "content_type": "text/plain", "size": len(data)})
	if r.status != 201 {
		t.Fatalf("create after rotation: %d %s", r.status, r.body)
	}
	up2 := r.json(t)
	if r := old.do("DELETE", "/v1/stores/media/uploads/"+up2["upload_id"].(string), alice, nil); r.code() != "upload_not_found" {
		t.Fatalf("the old gateway opened an id sealed with the new secret: %d %s", r.status, r.body)
	}

	// The old secrets dropped.
	dropped := &harness{t: t, fake: old.fake, logs: &testenv.Buffer{},
		cfg: loadBody(t, body(`tokens: { secrets: ["`+newTok+`"] }`, `hs256_secrets: ["`+newHS+`"]`))}
	dropped.start(old.fake)
	if r := dropped.do("GET", "/v1/stores", alice, nil); r.status != 401 {
		t.Fatalf("old HS256 token after the old key was dropped: %d %s", r.status, r.body)
	}
	if r := dropped.do("GET", "/v1/stores", fresh, nil); r.status != 200 {
		t.Fatalf("new HS256 token: %d %s", r.status, r.body)
	}
	if r := dropped.do("DELETE", "/v1/stores/media/uploads/"+id, fresh, nil); r.code() != "upload_not_found" {
		t.Fatalf("id sealed under a dropped secret: %d %s", r.status, r.body)
	}
	if r := dropped.do("DELETE", "/v1/stores/media/uploads/"+up2["upload_id"].(string), fresh, nil); r.status != 204 {
		t.Fatalf("abort of an id sealed with the new secret: %d %s", r.status, r.body)
	}
}
