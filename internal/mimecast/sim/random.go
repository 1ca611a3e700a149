package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
)

// hashBytes is SHA-256 over the seed and the labelled parts; the basis of every deterministic choice.
func hashBytes(seed int64, parts ...string) []byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

// unitFloat maps (seed, label, n) to a uniform value in [0, 1).
func unitFloat(seed int64, label string, n uint64) float64 {
	b := hashBytes(seed, label, strconv.FormatUint(n, 10))
	return float64(binary.BigEndian.Uint64(b)>>11) / (1 << 53)
}

// rngFor returns a generator that depends only on (seed, label, n).
func rngFor(seed int64, label string, n int64) *rand.Rand {
	b := hashBytes(seed, label, strconv.FormatInt(n, 10))
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])))
}

// poisson draws a Poisson-distributed count with mean lambda.
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		n := int(math.Round(lambda + r.NormFloat64()*math.Sqrt(lambda)))
		return max(n, 0)
	}
	limit, p, k := math.Exp(-lambda), 1.0, 0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// pick returns a uniformly chosen element of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index chosen with the given relative weights.
func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}
