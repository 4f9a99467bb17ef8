package edged

import "errors"

// Errors of the edged package. Compare with errors.Is; they are wrapped with detail.
var (
	// ErrBadResource: a message's Router.Resource is not "<namespace>/<type>/<name>" of a known type.
	ErrBadResource = errors.New("edged: bad resource key")
	// ErrBadContent: a message's content does not decode into the object its resource names.
	ErrBadContent = errors.New("edged: bad message content")
	// ErrStopped: the Manager's Run has returned.
	ErrStopped = errors.New("edged: manager stopped")
	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("edged: manager already running")
)

// Reasons in container and pod status, as kubelet reports them.
const (
	ReasonContainerCreating          = "ContainerCreating"
	ReasonPodInitializing            = "PodInitializing"
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	ReasonCreateContainerError       = "CreateContainerError"
	ReasonRunContainerError          = "RunContainerError"
	ReasonCrashLoopBackOff           = "CrashLoopBackOff"
	ReasonErrImagePull               = "ErrImagePull"
	ReasonImagePullBackOff           = "ImagePullBackOff"
	ReasonErrImageNeverPull          = "ErrImageNeverPull"
	ReasonInvalidImageName           = "InvalidImageName"
	ReasonCompleted                  = "Completed"
	ReasonError                      = "Error"
	ReasonOOMKilled                  = "OOMKilled"
	ReasonContainersNotReady         = "ContainersNotReady"
	ReasonContainersNotInitialized   = "ContainersNotInitialized"
	ReasonPodCompleted               = "PodCompleted"
)
