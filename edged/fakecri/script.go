package fakecri

import (
	"slices"
	"sync"
	"time"
)

// Match selects pods, containers and images: script rules apply to what they match, and call queries
// count the calls that concern what they match. An empty field matches anything, so the zero Match
// matches everything.
type Match struct {
	Namespace string // the pod sandbox's metadata namespace
	Pod       string // the pod sandbox's metadata name
	PodUID    string // the pod sandbox's metadata UID
	Container string // the container's metadata name
	// Image is an image reference ("busybox", "docker.io/library/busybox:1.36") or an image ID. It is
	// compared after normalisation ("busybox" and "docker.io/library/busybox:latest" are the same), and
	// an image ID matches the containers of that image whatever name they used.
	Image string
}

// specificity is the number of fields a Match constrains: the most specific matching rule wins.
func (m Match) specificity() int {
	n := 0
	for _, f := range []string{m.Namespace, m.Pod, m.PodUID, m.Container, m.Image} {
		if f != "" {
			n++
		}
	}
	return n
}

// subject is what a Match is compared with: the identity of a container, a sandbox or an image.
type subject struct {
	Namespace, Pod, PodUID, Container string
	Image                             string // normalised reference, as the client gave it
	ImageID                           string // the image's ID, when known
}

func (m Match) matches(s subject) bool {
	if (m.Namespace != "" && m.Namespace != s.Namespace) || (m.Pod != "" && m.Pod != s.Pod) ||
		(m.PodUID != "" && m.PodUID != s.PodUID) || (m.Container != "" && m.Container != s.Container) {
		return false
	}
	if m.Image == "" {
		return true
	}
	if isImageID(m.Image) {
		return m.Image == s.ImageID || m.Image == s.Image
	}
	return normalizeRef(m.Image) == s.Image
}

// Behavior is how a container behaves in the fake: what CreateContainer and StartContainer do, what it
// logs, when it exits by itself and how it reacts to StopContainer. The zero Behavior is a container
// that starts at once, logs nothing, runs until stopped and exits at once on SIGTERM with code 143.
type Behavior struct {
	// CreateErr makes CreateContainer fail with this error (a gRPC status error keeps its code; any
	// other error becomes codes.Unknown, as containerd reports most failures).
	CreateErr error
	// StartErr makes StartContainer fail with this error. As with containerd, the container is then
	// EXITED with exit code 128, reason "StartError" and the error as message.
	StartErr error
	// StartDelay is how long StartContainer takes. The container stays CREATED meanwhile.
	StartDelay time.Duration
	// Log is written to the container's log file, in the CRI log format, when it starts.
	Log []LogLine
	// Exit, when set, makes the container exit by itself after it started.
	Exit *Exit
	// Term is how the container reacts to the SIGTERM of StopContainer; nil means it exits at once with
	// code 143 (128+SIGTERM). A StopContainer with timeout 0 kills it at once (exit code 137).
	Term *Term
	// MemoryBytes is the working set reported by the stats calls while running; default 4 MiB.
	MemoryBytes uint64
}

// Exit describes a container that exits by itself.
type Exit struct {
	After time.Duration // after StartContainer returned; 0 means at once
	Code  int32         // the exit code
	// Reason defaults to "Completed" for code 0 and "Error" otherwise, as containerd reports them;
	// set "OOMKilled" to fake an out-of-memory kill.
	Reason  string
	Message string
}

// Term describes how a running container reacts to StopContainer's SIGTERM.
type Term struct {
	// After is how long the container takes to exit after SIGTERM. When it is longer than
	// StopContainer's timeout, the container is killed at the timeout (exit code 137).
	After time.Duration
	// Ignore makes the container ignore SIGTERM: StopContainer kills it at its timeout.
	Ignore bool
	// ExitCode is the exit code when it exits on SIGTERM (typically 0 or 143).
	ExitCode int32
}

// LogLine is one line of a container's output. The fake writes it to the container's log file as
// "<RFC 3339 time> <stream> F <text>" (or P for a Partial line).
type LogLine struct {
	Stream  Stream
	Text    string // without the trailing newline
	Partial bool
}

// Stream names a container output stream in the CRI log format.
type Stream string

// The streams of the CRI log format.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// StdoutLines returns lines as full stdout LogLines.
func StdoutLines(lines ...string) []LogLine {
	out := make([]LogLine, len(lines))
	for i, l := range lines {
		out[i] = LogLine{Stream: Stdout, Text: l}
	}
	return out
}

// ExecResult is what ExecSync returns for a command. The zero ExecResult is a command that succeeds at
// once with no output.
type ExecResult struct {
	ExitCode       int32
	Stdout, Stderr string
	// Delay is how long the command runs. When it exceeds the request's timeout, ExecSync fails with
	// codes.DeadlineExceeded, as containerd does.
	Delay time.Duration
	// Err makes ExecSync fail with this error instead, as it does when the command cannot be started
	// (containerd: codes.Unknown, "executable file not found in $PATH").
	Err error
}

// PullBehavior is what PullImage does for an image.
type PullBehavior struct {
	// Err makes the pull fail. ErrImageNotFound gives codes.NotFound with containerd's message; a gRPC
	// status error keeps its code; any other error becomes codes.Unknown.
	Err error
	// Delay is how long the pull takes.
	Delay time.Duration
	// Image, when it has an ID, is the image the pull stores (its tags are added to the pulled
	// reference). By default the fake derives the ID, one repo digest and a size from the reference.
	Image Image
}

// SandboxBehavior is what RunPodSandbox does for a pod.
type SandboxBehavior struct {
	RunErr   error         // RunPodSandbox fails with this error
	RunDelay time.Duration // RunPodSandbox takes this long
}

// ContainerRule gives the Behavior of the containers that Match selects.
type ContainerRule struct {
	Match    Match
	Behavior Behavior
}

// ExecRule gives the result of ExecSync for the containers that Match selects, for the command Cmd
// (compared argument by argument; nil matches any command).
type ExecRule struct {
	Match  Match
	Cmd    []string
	Result ExecResult
}

// PullRule gives the PullBehavior for an image reference (compared after normalisation).
type PullRule struct {
	Image    string
	Behavior PullBehavior
}

// SandboxRule gives the SandboxBehavior of the pods that Match selects (its Container and Image are
// ignored).
type SandboxRule struct {
	Match    Match
	Behavior SandboxBehavior
}

// Script is the scripted behaviour of a Runtime. Where several rules match, the most specific one (the
// one whose Match sets the most fields, an exec rule with a command before one without) wins, and among
// equally specific rules the one set last. Rules replace each other whole: fields do not merge.
type Script struct {
	Containers []ContainerRule
	Exec       []ExecRule
	Pulls      []PullRule
	Sandboxes  []SandboxRule
}

// script is the Runtime's live copy of its Script, safe for concurrent use.
type script struct {
	mu  sync.RWMutex
	seq uint64
	s   Script
	// order records when each rule was set (the same index as in s), to break ties.
	containerSeq, execSeq, sandboxSeq []uint64
}

func (sc *script) load(s Script) {
	for _, r := range s.Containers {
		sc.setContainer(r.Match, r.Behavior)
	}
	for _, r := range s.Exec {
		sc.setExec(r.Match, r.Cmd, r.Result)
	}
	for _, r := range s.Pulls {
		sc.setPull(r.Image, r.Behavior)
	}
	for _, r := range s.Sandboxes {
		sc.setSandbox(r.Match, r.Behavior)
	}
}

func (sc *script) setContainer(m Match, b Behavior) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.seq++
	if i := slices.IndexFunc(sc.s.Containers, func(r ContainerRule) bool { return r.Match == m }); i >= 0 {
		sc.s.Containers[i].Behavior, sc.containerSeq[i] = b, sc.seq
		return
	}
	sc.s.Containers = append(sc.s.Containers, ContainerRule{Match: m, Behavior: b})
	sc.containerSeq = append(sc.containerSeq, sc.seq)
}

func (sc *script) setExec(m Match, cmd []string, res ExecResult) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.seq++
	cmd = slices.Clone(cmd)
	if i := slices.IndexFunc(sc.s.Exec, func(r ExecRule) bool {
		return r.Match == m && slices.Equal(r.Cmd, cmd) && (r.Cmd == nil) == (cmd == nil)
	}); i >= 0 {
		sc.s.Exec[i].Result, sc.execSeq[i] = res, sc.seq
		return
	}
	sc.s.Exec = append(sc.s.Exec, ExecRule{Match: m, Cmd: cmd, Result: res})
	sc.execSeq = append(sc.execSeq, sc.seq)
}

func (sc *script) setPull(image string, b PullBehavior) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ref := normalizeRef(image)
	if i := slices.IndexFunc(sc.s.Pulls, func(r PullRule) bool { return r.Image == ref }); i >= 0 {
		sc.s.Pulls[i].Behavior = b
		return
	}
	sc.s.Pulls = append(sc.s.Pulls, PullRule{Image: ref, Behavior: b})
}

func (sc *script) setSandbox(m Match, b SandboxBehavior) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.seq++
	if i := slices.IndexFunc(sc.s.Sandboxes, func(r SandboxRule) bool { return r.Match == m }); i >= 0 {
		sc.s.Sandboxes[i].Behavior, sc.sandboxSeq[i] = b, sc.seq
		return
	}
	sc.s.Sandboxes = append(sc.s.Sandboxes, SandboxRule{Match: m, Behavior: b})
	sc.sandboxSeq = append(sc.sandboxSeq, sc.seq)
}

// best returns the index of the winning rule among n rules, or -1: the matching rule with the highest
// specificity, then the highest sequence number.
func best(n int, matches func(i int) bool, specificity func(i int) int, seq []uint64) int {
	win := -1
	for i := range n {
		if !matches(i) {
			continue
		}
		if win < 0 || specificity(i) > specificity(win) ||
			(specificity(i) == specificity(win) && seq[i] > seq[win]) {
			win = i
		}
	}
	return win
}

func (sc *script) container(s subject) Behavior {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	rules := sc.s.Containers
	i := best(len(rules), func(i int) bool { return rules[i].Match.matches(s) },
		func(i int) int { return rules[i].Match.specificity() }, sc.containerSeq)
	if i < 0 {
		return Behavior{}
	}
	return rules[i].Behavior
}

func (sc *script) exec(s subject, cmd []string) ExecResult {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	rules := sc.s.Exec
	i := best(len(rules), func(i int) bool {
		return rules[i].Match.matches(s) && (rules[i].Cmd == nil || slices.Equal(rules[i].Cmd, cmd))
	}, func(i int) int {
		n := rules[i].Match.specificity()
		if rules[i].Cmd != nil {
			n += 10 // a command outranks any Match (at most 5 fields)
		}
		return n
	}, sc.execSeq)
	if i < 0 {
		return ExecResult{}
	}
	return rules[i].Result
}

func (sc *script) pull(ref string) (PullBehavior, bool) {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	for _, r := range sc.s.Pulls {
		if r.Image == ref {
			return r.Behavior, true
		}
	}
	return PullBehavior{}, false
}

func (sc *script) sandbox(s subject) SandboxBehavior {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	rules := sc.s.Sandboxes
	i := best(len(rules), func(i int) bool {
		m := rules[i].Match
		m.Container, m.Image = "", ""
		return m.matches(s)
	}, func(i int) int { return rules[i].Match.specificity() }, sc.sandboxSeq)
	if i < 0 {
		return SandboxBehavior{}
	}
	return rules[i].Behavior
}

// snapshot returns a deep enough copy of the script.
func (sc *script) snapshot() Script {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	return Script{
		Containers: slices.Clone(sc.s.Containers),
		Exec:       slices.Clone(sc.s.Exec),
		Pulls:      slices.Clone(sc.s.Pulls),
		Sandboxes:  slices.Clone(sc.s.Sandboxes),
	}
}

// SetBehavior sets the Behavior of the containers that m selects, replacing a rule with the same Match.
// It applies to calls made from then on: a container already running keeps the exit it was given.
func (r *Runtime) SetBehavior(m Match, b Behavior) { r.script.setContainer(m, b) }

// SetExec sets what ExecSync returns for cmd (nil: any command) in the containers that m selects,
// replacing a rule with the same Match and command. Tests use it to make a probe start failing.
func (r *Runtime) SetExec(m Match, cmd []string, res ExecResult) { r.script.setExec(m, cmd, res) }

// SetPull sets what PullImage does for image, replacing an earlier rule for the same reference.
func (r *Runtime) SetPull(image string, b PullBehavior) { r.script.setPull(image, b) }

// SetSandbox sets what RunPodSandbox does for the pods that m selects.
func (r *Runtime) SetSandbox(m Match, b SandboxBehavior) { r.script.setSandbox(m, b) }

// Script returns a copy of the rules in force.
func (r *Runtime) Script() Script { return r.script.snapshot() }
