package meta

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// mergePatch applies an RFC 7386 JSON merge patch to a JSON object: objects merge member by member, a
// null member removes, anything else replaces. Numbers keep their text (no float rounding).
func mergePatch(target, patch []byte) ([]byte, error) {
	t, err := decodeNumbers(target)
	if err != nil {
		return nil, fmt.Errorf("%w: held object: %w", ErrBadValue, err)
	}
	p, err := decodeNumbers(patch)
	if err != nil {
		return nil, fmt.Errorf("%w: merge patch: %w", ErrBadValue, err)
	}
	return json.Marshal(mergeValue(t, p))
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

func mergeValue(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergeValue(t[k], v)
	}
	return t
}
