// Package textdist says how close two names are: what "did you mean …?"
// suggestions for lab.toml keys, steps and commands are chosen by.
package textdist

import "strings"

// Distance is the Levenshtein distance between a and b; names longer than
// 64 bytes are not worth comparing (and bound the fuzzer's time).
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Closest is the name s most likely meant: one it begins (3+ letters), else
// the nearest within a third of its length; "" if none is that close.
func Closest(s string, names []string) string {
	s = strings.ToLower(s)
	if len(s) >= 3 {
		for _, n := range names {
			if strings.HasPrefix(n, s) {
				return n
			}
		}
	}
	best, bestD := "", len(s)/3+1
	for _, n := range names {
		if d := Distance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}
