package hub

import "strconv"

// Naming rules of Kubernetes, written out by hand (no regexp) so that a check costs a loop over bytes.

const (
	// MaxLabelLen is the longest DNS-1123 label (namespaces, kinds).
	MaxLabelLen = 63
	// MaxSubdomainLen is the longest DNS-1123 subdomain (object and node names).
	MaxSubdomainLen = 253
)

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// checkLabel returns "" if s is a DNS-1123 label (1 to 63 lowercase letters, digits and '-', beginning
// and ending with a letter or digit), or the reason it is not.
func checkLabel(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxLabelLen:
		return "must be at most 63 characters"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return "must consist of lowercase letters, digits and '-'"
		}
	}
	if !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return "must begin and end with a lowercase letter or digit"
	}
	return ""
}

// checkSubdomain returns "" if s is a DNS-1123 subdomain (at most 253 characters; dot-separated parts of
// lowercase letters, digits and '-', each beginning and ending with a letter or digit), or the reason it
// is not. This is Kubernetes' IsDNS1123Subdomain, the rule for the names of most objects and of nodes.
func checkSubdomain(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxSubdomainLen:
		return "must be at most 253 characters"
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if c := s[i]; !isAlnum(c) && c != '-' {
				return "must consist of lowercase letters, digits, '-' and '.'"
			}
			continue
		}
		part := s[start:i]
		if part == "" || !isAlnum(part[0]) || !isAlnum(part[len(part)-1]) {
			return "each dot-separated part must begin and end with a lowercase letter or digit"
		}
		start = i + 1
	}
	return ""
}

// quote returns s quoted for an error message, cut short if long: errors must not echo megabytes of
// hostile input.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}
