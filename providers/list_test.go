package providers

import (
	"slices"
	"testing"
)

// Page keeps the keys under the prefix after the cursor, sorted, at most
// PageSize of them, and names the last one as the cursor when more remain.
func TestListRequestPage(t *testing.T) {
	keys := []string{"b/2", "a/1", "b/1", "b/3", "c/1", "b/"}
	for _, tc := range []struct {
		req  ListRequest
		page []string
		next string
	}{
		{ListRequest{Prefix: "b/", Limit: 2}, []string{"b/", "b/1"}, "b/1"},
		{ListRequest{Prefix: "b/", Cursor: "b/1", Limit: 2}, []string{"b/2", "b/3"}, ""},
		{ListRequest{Prefix: "b/", Cursor: "b/3", Limit: 2}, nil, ""},
		{ListRequest{Limit: 0}, []string{"a/1", "b/", "b/1", "b/2", "b/3", "c/1"}, ""},
		{ListRequest{Prefix: "z", Limit: 5}, nil, ""},
	} {
		page, next := tc.req.Page(slices.Values(keys))
		if !slices.Equal(page, tc.page) || next != tc.next {
			t.Errorf("%+v: %q next %q, want %q next %q", tc.req, page, next, tc.page, tc.next)
		}
	}
	if got := (ListRequest{Limit: 0}).PageSize(); got != MaxPageSize {
		t.Errorf("PageSize of Limit 0 = %d", got)
	}
	if got := (ListRequest{Limit: 7}).PageSize(); got != 7 {
		t.Errorf("PageSize of Limit 7 = %d", got)
	}
}
