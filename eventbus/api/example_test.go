package api_test

import (
	"fmt"

	"github.com/edgehive/edgehive/eventbus/api"
)

func ExampleMatch() {
	const topic = "$hw/events/device/default/thermo-1/twin/update"
	fmt.Println(api.Match(api.FilterDeviceTwinNS, topic))
	fmt.Println(api.Match(api.FilterDeviceTwin, topic)) // single-segment ids only
	fmt.Println(api.Match("#", topic))                  // '#' does not match '$' topics
	// Output:
	// true
	// false
	// false
}

// A module publishes a twin result through the eventbus: send this message to api.ModuleName.
func ExampleNewPublishMessage() {
	m := api.NewPublishMessage("$hw/events/device/default/thermo-1/twin/update/result",
		api.Publish{Payload: []byte(`{"event_id":"1"}`), QoS: api.QoS1})
	fmt.Println(m.Router.Operation, m.Router.Resource)
	// Output:
	// publish $hw/events/device/default/thermo-1/twin/update/result
}
