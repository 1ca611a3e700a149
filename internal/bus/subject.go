package bus

// Token turns s into a string usable as one subject token or KV key segment: ASCII letters, digits and '-' are
// kept, every other byte becomes '_' followed by two hex digits. The mapping is one-to-one, so distinct names
// never share a subject or checkpoint key.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			out = append(out, c)
		default:
			out = append(out, '_', hex[c>>4], hex[c&0xf])
		}
	}
	return string(out)
}
