package core

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strconv"

	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/hooks"
	"github.com/valetgw/valet/core/uploadid"
	"github.com/valetgw/valet/providers"
)

// deliver sends ev to the store's hook (nothing without one, or for an
// event it does not want) and maps a failed delivery to the catalog:
// refused is hook_rejected with status refused and the receiver's message,
// unavailable is hook_unavailable with Retry-After, and an unusable answer
// hook_invalid_answer. The delivery's own timeout bounds it, not the
// request's provider deadline: a receiver may take its whole timeout, and
// an event that happened is told even if the client has gone.
func (st *Store) deliver(ctx context.Context, ev hooks.Event, refused int) (hooks.Answer, error) {
	if !st.hook.Wants(ev.Type) {
		return hooks.Answer{}, nil
	}
	a, err := st.hooks.Deliver(context.WithoutCancel(ctx), st.hook, ev)
	if err == nil {
		return a, nil
	}
	var he *hooks.Error
	if !errors.As(err, &he) {
		return a, &failure{problem: apiError("hook_invalid_answer", "the hook's event could not be built"), cause: err}
	}
	switch he.Outcome {
	case hooks.Rejected:
		return a, &failure{problem: withStatus(apiError("hook_rejected", he.Message), refused), cause: err}
	case hooks.Unavailable:
		p := apiError("hook_unavailable", "the application's hook is unavailable; retry after Retry-After")
		p.RetryAfter = he.RetryAfter
		return a, &failure{problem: p, cause: err}
	default:
		return a, &failure{problem: apiError("hook_invalid_answer", he.Message), cause: err}
	}
}

// hookCreate delivers upload.create for an upload about to be signed and
// returns its metadata: the client's, with what the hook's answer added
// (the hook's value wins a name both give), checked again as a whole.
func (st *Store) hookCreate(ctx context.Context, who auth.Principal, tok uploadid.Upload, md map[string]string) (map[string]string, error) {
	var size *int64 // nil when the client declared none (a Companion upload)
	if tok.Size >= 0 {
		size = &tok.Size
	}
	a, err := st.deliver(ctx, hooks.Event{Type: hooks.UploadCreate, Data: hooks.Data{
		Key: tok.Key, Size: size, ContentType: tok.ContentType, ChecksumSHA256: tok.ChecksumSHA256, Metadata: md, Subject: who.Subject,
	}}, http.StatusForbidden)
	if err != nil || len(a.Metadata) == 0 {
		return md, err
	}
	merged := make(map[string]string, len(md)+len(a.Metadata))
	maps.Copy(merged, md)
	maps.Copy(merged, a.Metadata)
	if err := hooks.CheckMetadata(merged); err != nil {
		return nil, apiError("hook_invalid_answer", "the hook's metadata with the client's: "+err.Error())
	}
	return merged, nil
}

// hookComplete delivers upload.complete for a verified object o of upload
// u (id is the upload id the client sent, so that every retry of complete
// carries the same webhook-id) and returns the hook's answer. A refusal
// deletes the object only as settle would delete a mismatch: when ours
// (this complete assembled it) or the key is this upload's alone, else
// only what notOurs allows, so that a refusal never deletes an object the
// caller could not delete; and only while the object is still the one the
// hook was told of (stillThere).
func (st *Store) hookComplete(ctx context.Context, who auth.Principal, id string, u uploadid.Upload, o providers.Object, ours bool) (hooks.Answer, error) {
	size := o.Size
	a, err := st.deliver(ctx, hooks.Event{Type: hooks.UploadComplete, Data: hooks.Data{
		Key: o.Key, Size: &size, ContentType: o.ContentType, ETag: o.ETag, ChecksumSHA256: u.ChecksumSHA256,
		Metadata: o.Metadata, Subject: who.Subject, UploadID: id,
	}}, http.StatusUnprocessableEntity)
	var f *failure
	if err == nil || !errors.As(err, &f) || f.problem.Code != "hook_rejected" {
		return a, err
	}
	if why := st.notOurs(ctx, who, u, o, ours); why != "" {
		f.problem.Detail += " (" + why + ")"
		return a, err
	}
	ctx = context.WithoutCancel(ctx)
	now, derr := st.stillThere(ctx, u.Key, o)
	if derr == nil && now == sameObject {
		_, derr = st.provider.Delete(ctx, providers.DeleteRequest{Key: u.Key})
	}
	if derr != nil {
		// The client is told; the application refused the object, so a
		// retry of complete must not succeed while it stands.
		return a, &failure{problem: apiError("provider_error", "the hook refused the upload, and deleting the object failed; delete it"), cause: errors.Join(err, derr)}
	}
	switch now {
	case objectGone:
		f.problem.Detail += " (the object is no longer there)"
	case objectReplaced:
		f.problem.Detail += " (another object replaced it at the key while the hook was asked, and was left in place)"
	}
	return a, err
}

// What stillThere finds at a key.
const (
	sameObject     = iota // the version the hook was told of
	objectGone            // nothing
	objectReplaced        // another version
)

// stillThere says whether the object at key is still o, the version a hook
// was just told of. The hook may take its whole timeout, and meanwhile
// another upload or client may replace the object; the hook neither
// refused that one nor approved its deletion, so it must not be deleted on
// the strength of the hook's answer. The same version is the same ETag,
// size and modification time (fingerprint). A window of one provider round
// trip remains between this HEAD and the delete after it, which only a
// conditional delete in the provider contract would close.
func (st *Store) stillThere(ctx context.Context, key string, o providers.Object) (int, error) {
	now, err := st.provider.Head(ctx, providers.HeadRequest{Key: key})
	switch {
	case providers.CodeOf(err) == providers.NotFound:
		return objectGone, nil
	case err != nil:
		return 0, err
	case fingerprint(now) != fingerprint(o):
		return objectReplaced, nil
	}
	return sameObject, nil
}

// hookDelete delivers object.delete for o before it is deleted, so that a
// refusal or an unreachable hook keeps it; its identity is the key with the
// object's ETag and modification time, the same on every retry of the
// delete and different for a later object under the key.
func (st *Store) hookDelete(ctx context.Context, who auth.Principal, o providers.Object) error {
	size := o.Size
	_, err := st.deliver(ctx, hooks.Event{
		Type:     hooks.ObjectDelete,
		Identity: "key\x00" + o.Key + "\x00etag\x00" + o.ETag + "\x00mtime\x00" + strconv.FormatInt(o.LastModified.UnixNano(), 10),
		Data:     hooks.Data{Key: o.Key, Size: &size, ContentType: o.ContentType, ETag: o.ETag, Metadata: o.Metadata, Subject: who.Subject},
	}, http.StatusUnprocessableEntity)
	return err
}
