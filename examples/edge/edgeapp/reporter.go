package edgeapp

import (
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/hub/edgehub"
)

// reporterGroup is told when the link to the cloud comes up or goes down (the edge hub's NotifyGroups):
// edged's group, since edged registers the node and reports its status and lease (edged.NodeStatusConfig),
// at once on each reconnect.
const reporterGroup = beehive.GroupEdged

// nodeStatusConfig is edged's node reporting for the command line: the status is checked every
// --status-interval (and sent when it changed, or every edged.DefaultNodeStatusReportInterval) and the
// lease renewed as often.
func nodeStatusConfig(interval time.Duration) *edged.NodeStatusConfig {
	return &edged.NodeStatusConfig{
		UpdateInterval:     interval,
		LeaseRenewInterval: interval,
		ReportOn:           []beehive.Operation{edgehub.OpCloudConnected},
	}
}
