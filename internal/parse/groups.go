package parse

// closerOf maps each group opener to its closer. Single quotes are not groups: they appear as apostrophes.
var closerOf = [256]byte{'(': ')', '[': ']', '{': '}', '<': '>', '"': '"'}

// insideGroups marks every byte of s that lies strictly inside a balanced group ((…), […], {…}, <…>, "…").
// An opener without a matching closer is an ordinary character. The scan is linear in len(s).
func insideGroups(s string) []bool {
	type open struct {
		ch  byte
		pos int
	}
	var stack []open
	diff := make([]int, len(s)+1)
	for i := 0; i < len(s); i++ {
		c := s[i]
		// A quote closes the innermost open quote, otherwise it opens one.
		if c == '"' {
			if n := len(stack); n > 0 && stack[n-1].ch == '"' {
				diff[stack[n-1].pos+1]++
				diff[i]--
				stack = stack[:n-1]
				continue
			}
		}
		if n := len(stack); n > 0 && stack[n-1].ch == '"' && c != '"' {
			continue // nothing nests inside a quoted string
		}
		if closerOf[c] != 0 {
			stack = append(stack, open{c, i})
			continue
		}
		if c == ')' || c == ']' || c == '}' || c == '>' {
			// Find the nearest opener this closes; openers above it stay unmatched (literal).
			for j := len(stack) - 1; j >= 0; j-- {
				if closerOf[stack[j].ch] == c {
					diff[stack[j].pos+1]++
					diff[i]--
					stack = stack[:j]
					break
				}
			}
		}
	}
	inside := make([]bool, len(s))
	depth := 0
	for i := range s {
		depth += diff[i]
		inside[i] = depth > 0
	}
	return inside
}
