package api

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxTopicLen is the longest topic name or filter MQTT allows, in bytes.
const MaxTopicLen = 65535

// ValidTopic reports whether topic can be published to: non-empty, at most MaxTopicLen bytes of valid
// UTF-8, without wildcards ('+', '#'), NUL or other control characters (U+0001–U+001F, U+007F–U+009F,
// which MQTT discourages and which have no place in a device topic). The error wraps ErrInvalidTopic.
func ValidTopic(topic string) error {
	if err := checkText(topic); err != "" {
		return fmt.Errorf("%w: %s", ErrInvalidTopic, err)
	}
	if i := strings.IndexAny(topic, "+#"); i >= 0 {
		return fmt.Errorf("%w: wildcard %q at byte %d", ErrInvalidTopic, topic[i], i)
	}
	return nil
}

// ValidFilter reports whether filter can be subscribed to: the rules of ValidTopic, except that '+' may
// stand alone as a level and '#' alone as the last level. The error wraps ErrInvalidFilter.
func ValidFilter(filter string) error {
	if err := checkText(filter); err != "" {
		return fmt.Errorf("%w: %s", ErrInvalidFilter, err)
	}
	rest := filter
	for {
		level, next, more := cutLevel(rest)
		if strings.ContainsAny(level, "+#") && level != "+" && level != "#" {
			return fmt.Errorf("%w: wildcard inside level %q", ErrInvalidFilter, level)
		}
		if level == "#" && more {
			return fmt.Errorf("%w: '#' is not the last level", ErrInvalidFilter)
		}
		if !more {
			return nil
		}
		rest = next
	}
}

// checkText returns why s is not acceptable MQTT topic text, or "".
func checkText(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > MaxTopicLen:
		return fmt.Sprintf("%d bytes, more than %d", len(s), MaxTopicLen)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return fmt.Sprintf("control character %#02x at byte %d", c, i)
		}
		// U+0080–U+009F are encoded as 0xC2 0x80–0x9F.
		if c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f {
			return fmt.Sprintf("control character U+%04X at byte %d", rune(s[i+1]), i)
		}
	}
	return ""
}

// cutLevel splits s at its first '/': the first level, the rest, and whether there was a '/'.
func cutLevel(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// wildFirst reports whether s starts with a wildcard level.
func wildFirst(s string) bool { return s != "" && (s[0] == '+' || s[0] == '#') }

// dollar reports whether s starts with '$' (a system or $hw topic).
func dollar(s string) bool { return s != "" && s[0] == '$' }

// Match reports whether topic matches filter under MQTT's rules: '+' matches exactly one level (an empty
// one too), '#' matches its parent level and any number of levels below, and a filter that starts with
// a wildcard does not match a topic that starts with '$'. filter should pass ValidFilter and topic
// ValidTopic; for other inputs the result is unspecified, but Match never panics. It does not allocate.
func Match(filter, topic string) bool {
	if dollar(topic) && wildFirst(filter) {
		return false
	}
	for {
		f, frest, fmore := cutLevel(filter)
		if f == "#" {
			return true
		}
		t, trest, tmore := cutLevel(topic)
		if f != "+" && f != t {
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "a/#" matches "a"
		}
		filter, topic = frest, trest
	}
}

// Covers reports whether every topic that specific matches is also matched by general (both valid
// filters). It is sound but not complete: when it reports true the cover holds; it reports false for a
// few equivalent spellings such as general "+/#" against specific "#". The bus uses it to avoid
// overlapping subscriptions, on which a broker may deliver a message twice.
func Covers(general, specific string) bool {
	if dollar(specific) && wildFirst(general) {
		return false
	}
	for {
		g, grest, gmore := cutLevel(general)
		if g == "#" {
			return true
		}
		s, srest, smore := cutLevel(specific)
		if s == "#" {
			return false
		}
		if g != "+" && (s == "+" || g != s) {
			return false
		}
		switch {
		case !gmore:
			return !smore
		case !smore:
			return grest == "#"
		}
		general, specific = grest, srest
	}
}
