// Package metatest holds the conformance suite of meta.Store: RunStoreConformance is the behaviour
// every Store must have (versions, deletes, bad input, list, watch, digest, concurrency, close), one
// test suite run against every implementation, so that meta itself need not import testing.
//
//	func TestMyStoreConformance(t *testing.T) {
//		metatest.RunStoreConformance(t, func(t *testing.T) meta.Store { return openMyStore(t) })
//	}
package metatest
