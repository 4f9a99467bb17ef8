package metatest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/meta"
	"github.com/edgehive/edgehive/meta/metatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMemStore runs the suite against the in-memory store, so that the suite is run in its own package
// too (meta's tests run it against both stores).
func TestMemStore(t *testing.T) {
	metatest.RunStoreConformance(t, func(t *testing.T) meta.Store { return meta.NewMemStore() })
}
