package twin

import "fmt"

// Source says who wrote an update, and so which side of the twin it changes and by which rule.
type Source int

const (
	// FromCloud is a desired value sent by the cloud with the cloud's Version of it (KubeEdge's cloud
	// twin sync with expected_version).
	FromCloud Source = iota + 1
	// FromEdge is a desired value set on the edge itself, e.g. an "expected" value published on
	// $hw/events/device/{id}/twin/update by an application or a mapper, or a knob on the device.
	FromEdge
	// FromDevice is a reported value from the device (KubeEdge's "actual").
	FromDevice
)

func (s Source) String() string {
	switch s {
	case FromCloud:
		return "cloud"
	case FromEdge:
		return "edge"
	case FromDevice:
		return "device"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// Update is one change of one side of a twin.
type Update struct {
	Source Source
	Value  string
	// Timestamp is when the value was set, in milliseconds since the Unix epoch. Apply stores it as
	// given; the Store replaces 0 with the time of the write.
	Timestamp int64
	// Version is the cloud's version of the desired value (FromCloud only; ignored otherwise).
	Version Version
}

// Outcome is what Apply did with an update.
type Outcome int

const (
	// Applied: the twin changed.
	Applied Outcome = iota + 1
	// Unchanged: the update repeats what the twin holds (a redelivery); nothing to write.
	Unchanged
	// Stale: a cloud update older than the desired value held (its Cloud counter is lower); ignored.
	Stale
	// Conflict: a cloud update that has not seen the edge's latest change of the desired value (its Edge
	// counter is lower). The edge's value is kept; the caller should send it to the cloud.
	Conflict
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Unchanged:
		return "unchanged"
	case Stale:
		return "stale"
	case Conflict:
		return "conflict"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Apply applies u to t by the version rules of the package documentation and returns the new twin and
// the outcome. It is a pure function: t is not modified. The error (wrapping ErrInvalid) is for an
// unknown source or a value that does not fit t.Type; t is then returned unchanged.
func Apply(t Twin, u Update) (Twin, Outcome, error) {
	if u.Source < FromCloud || u.Source > FromDevice {
		return t, 0, fmt.Errorf("%w: update source %v", ErrInvalid, u.Source)
	}
	if err := CheckValue(t.Type, u.Value); err != nil {
		return t, 0, fmt.Errorf("twin %s: %w", t.Name, err)
	}
	switch u.Source {
	case FromCloud:
		d := t.Desired.Version
		switch {
		case u.Version.Cloud < d.Cloud:
			return t, Stale, nil
		case u.Version.Edge < d.Edge:
			return t, Conflict, nil
		case u.Version == d && u.Value == t.Desired.Value:
			return t, Unchanged, nil
		}
		t.Desired = Value{Value: u.Value, Timestamp: u.Timestamp, Version: u.Version}
	case FromEdge:
		if u.Value == t.Desired.Value {
			return t, Unchanged, nil
		}
		v := t.Desired.Version
		v.Edge++
		t.Desired = Value{Value: u.Value, Timestamp: u.Timestamp, Version: v}
	case FromDevice:
		v := t.Reported.Version
		v.Edge++
		t.Reported = Value{Value: u.Value, Timestamp: u.Timestamp, Version: v}
	}
	return t, Applied, nil
}

// Delta returns the twins whose desired value differs from the reported one (see Twin.InDelta), in
// the order given.
func Delta(twins []Twin) []Twin {
	var out []Twin
	for _, t := range twins {
		if t.InDelta() {
			out = append(out, t)
		}
	}
	return out
}

// DeltaValues returns the delta as KubeEdge's delta map: twin name → desired value.
func DeltaValues(twins []Twin) map[string]string {
	out := make(map[string]string)
	for _, t := range twins {
		if t.InDelta() {
			out[t.Name] = t.Desired.Value
		}
	}
	return out
}
