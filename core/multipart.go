package core

import (
	"errors"
	"fmt"
	"math"

	"github.com/valetgw/valet/providers"
)

// MaxPartsPerBatch bounds how many part recipes one call signs.
const MaxPartsPerBatch = 100

// firstBatch is how many part recipes come with a new multipart upload.
const firstBatch = 10

// defaultMaxParts applies when a provider claims no part-count limit.
const defaultMaxParts = 10000

var errTooManyParts = errors.New("object too large for the provider's part limits")

// planParts picks a part size and count for size bytes: the store's
// preferred size, raised to the provider's minimum, lowered to its maximum,
// and raised (in whole MiB) when the count would exceed MaxParts.
func planParts(size, preferred int64, c providers.Capabilities) (partSize int64, count int, err error) {
	if size <= 0 {
		return 0, 0, errors.New("multipart needs a positive size")
	}
	ps := preferred
	if ps <= 0 {
		ps = 16 << 20
	}
	if c.MinPartSize > ps {
		ps = c.MinPartSize
	}
	if c.MaxPartSize > 0 && ps > c.MaxPartSize {
		ps = c.MaxPartSize
	}
	maxParts := int64(c.MaxParts)
	if maxParts <= 0 {
		maxParts = defaultMaxParts
	}
	n := ceilDiv(size, ps)
	if n > maxParts {
		q := ceilDiv(ceilDiv(size, maxParts), 1<<20)
		if q > math.MaxInt64>>20 {
			return 0, 0, fmt.Errorf("%w (%d parts)", errTooManyParts, maxParts)
		}
		ps = q << 20
		if c.MaxPartSize > 0 && ps > c.MaxPartSize {
			return 0, 0, fmt.Errorf("%w (%d parts of at most %d bytes)", errTooManyParts, maxParts, c.MaxPartSize)
		}
		n = ceilDiv(size, ps)
	}
	if ps <= 0 || n < 1 || n > maxParts || n > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%w (%d parts)", errTooManyParts, maxParts)
	}
	return ps, int(n), nil
}

// ceilDiv is a/b rounded up, for a >= 0 and b > 0, without overflow.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// partLen is the size of part n (1-based): partSize, except the last.
func partLen(size, partSize int64, count, n int) int64 {
	if n < count {
		return partSize
	}
	return size - int64(count-1)*partSize
}
