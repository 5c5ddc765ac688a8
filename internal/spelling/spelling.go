// Package spelling measures how far a word is from another, for the
// "did you mean ...?" hints of scenario validation and the glossary.
package spelling

// MaxRunes is the longest word Distance compares letter by letter; longer
// words are too long to be a typo of a keyword, and comparing them would cost
// quadratic time on input a client controls.
const MaxRunes = 64

// Distance is the optimal string alignment distance between a and b: the
// insertions, deletions, substitutions and swaps of neighbours that turn a
// into b, counted in runes. When either word is longer than MaxRunes it
// returns the longer length, as if no letter matched.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > MaxRunes || len(rb) > MaxRunes {
		return max(len(ra), len(rb))
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
