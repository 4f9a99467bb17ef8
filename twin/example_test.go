package twin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgehive/edgehive/twin"
)

// A thermostat's twin: the cloud sets the target temperature, the device reports what it measures, and
// the delta says what the device still has to do.
func Example() {
	dir, err := os.MkdirTemp("", "twin-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := twin.Open(ctx, filepath.Join(dir, "twin.db"), twin.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	err = s.PutDevice(ctx, twin.Device{Namespace: "default", Name: "thermostat",
		Twins: []twin.Twin{{Name: "temperature", Type: "int"}}})
	if err != nil {
		panic(err)
	}
	id := "default/thermostat"

	// The cloud asks for 21 degrees (its first version of that value).
	r, err := s.SetDesired(ctx, id, "temperature", "21", twin.Version{Cloud: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("cloud sets 21:", r.Outcome)

	// The device reports 19.
	if _, err := s.SetReported(ctx, id, "temperature", "19"); err != nil {
		panic(err)
	}
	delta, err := s.Delta(ctx, id)
	if err != nil {
		panic(err)
	}
	for _, t := range delta {
		fmt.Printf("delta: %s desired %s, reported %s\n", t.Name, t.Desired.Value, t.Reported.Value)
	}

	// An old message from the cloud arrives late: it is ignored.
	r, err = s.SetDesired(ctx, id, "temperature", "18", twin.Version{Cloud: 0})
	if err != nil {
		panic(err)
	}
	fmt.Println("late cloud message:", r.Outcome)

	// The device reaches the target: the delta is empty.
	if _, err := s.SetReported(ctx, id, "temperature", "21"); err != nil {
		panic(err)
	}
	delta, _ = s.Delta(ctx, id)
	fmt.Println("delta after the device caught up:", len(delta))

	// Output:
	// cloud sets 21: applied
	// delta: temperature desired 21, reported 19
	// late cloud message: stale
	// delta after the device caught up: 0
}
