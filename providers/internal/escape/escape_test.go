package escape

import "testing"

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in        string
		keepSlash bool
		want      string
	}{
		{"plain-A_z.0~", false, "plain-A_z.0~"},
		{"a b/c", false, "a%20b%2Fc"},
		{"a b/c", true, "a%20b/c"},
		{"ü+%", true, "%C3%BC%2B%25"},
		{"", false, ""},
	} {
		if got := String(tc.in, tc.keepSlash); got != tc.want {
			t.Errorf("String(%q, %v) = %q, want %q", tc.in, tc.keepSlash, got, tc.want)
		}
		if got := string(Append([]byte("x"), tc.in, tc.keepSlash)); got != "x"+tc.want {
			t.Errorf("Append(x, %q, %v) = %q, want x%s", tc.in, tc.keepSlash, got, tc.want)
		}
	}
}
