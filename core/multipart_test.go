package core

import (
	"errors"
	"testing"

	"github.com/valetgw/valet/providers"
)

func TestPlanParts(t *testing.T) {
	s3 := providers.Capabilities{MinPartSize: 5 << 20, MaxPartSize: 5 << 30, MaxParts: 10000}
	tests := []struct {
		name       string
		size, pref int64
		caps       providers.Capabilities
		wantSize   int64
		wantCount  int
		wantErr    bool
	}{
		{"store size", 64 << 20, 16 << 20, s3, 16 << 20, 4, false},
		{"raised to provider min", 64 << 20, 1 << 20, s3, 5 << 20, 13, false},
		{"lowered to provider max", 64 << 20, 64 << 20, providers.Capabilities{MaxPartSize: 8 << 20}, 8 << 20, 8, false},
		{"too many parts", 100 << 20, 1 << 20, providers.Capabilities{MaxParts: 10}, 10 << 20, 10, false},
		{"uneven", 10<<20 + 1, 5 << 20, s3, 5 << 20, 3, false},
		{"one part", 1, 5 << 20, s3, 5 << 20, 1, false},
		{"impossible", 1 << 40, 1 << 20, providers.Capabilities{MaxParts: 2, MaxPartSize: 1 << 30}, 0, 0, true},
		{"zero size", 0, 1, s3, 0, 0, true},
	}
	for _, tt := range tests {
		ps, n, err := planParts(tt.size, tt.pref, tt.caps)
		if (err != nil) != tt.wantErr || ps != tt.wantSize || n != tt.wantCount {
			t.Errorf("%s: got %d x %d, %v; want %d x %d", tt.name, ps, n, err, tt.wantSize, tt.wantCount)
			continue
		}
		if err != nil {
			if tt.size > 0 && !errors.Is(err, errTooManyParts) {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var total int64
		for i := 1; i <= n; i++ {
			l := partLen(tt.size, ps, n, i)
			if l <= 0 || l > ps {
				t.Errorf("%s: part %d has %d bytes", tt.name, i, l)
			}
			total += l
		}
		if total != tt.size {
			t.Errorf("%s: parts sum to %d, want %d", tt.name, total, tt.size)
		}
	}
}
