package beehive

import "errors"

// Errors returned by the hive. Compare with errors.Is; they may be wrapped with the module's name.
var (
	ErrEmptyName       = errors.New("beehive: module name is empty")
	ErrDuplicateName   = errors.New("beehive: duplicate module name")
	ErrUnknownModule   = errors.New("beehive: unknown module")
	ErrUnknownGroup    = errors.New("beehive: unknown group")
	ErrMailboxFull     = errors.New("beehive: mailbox full")
	ErrClosed          = errors.New("beehive: hive closed")
	ErrRunning         = errors.New("beehive: hive already running")
	ErrModuleStopped   = errors.New("beehive: module stopped for good")
	ErrNotSync         = errors.New("beehive: message is not a sync request")
	ErrLateResponse    = errors.New("beehive: response arrived after the request gave up")
	ErrAlreadyAnswered = errors.New("beehive: request already answered")
	ErrStopTimeout     = errors.New("beehive: modules did not stop in time")
	ErrRemote          = errors.New("beehive: responder reported an error")
	ErrInvalidConfig   = errors.New("beehive: invalid config")
)
