package beehive

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSendSyncRoundTrip(t *testing.T) {
	h := newHive(t, Config{})
	_ = h.Add(echo("echo", GroupUser))
	a := handle(t, h, "a", "", ModuleConfig{})
	runHive(t, h)
	ca := get(t, a)
	req := Message{Router: Router{Group: GroupMeta, Operation: OpQuery, Resource: "default/pod/x"}, Content: "ping"}
	req.Header.ResourceVersion = "7"
	resp, err := ca.SendSync(context.Background(), "echo", req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "ping" || resp.Router.Operation != OpResponse || resp.Router.Source != "echo" ||
		resp.Router.Resource != "default/pod/x" || !resp.Header.Sync || resp.Header.ParentID.IsZero() ||
		resp.Header.ResourceVersion != "7" || !resp.IsResponse() {
		t.Fatalf("response = %+v", resp)
	}
}

func TestRespondErrorAndNotSync(t *testing.T) {
	h := newHive(t, Config{})
	boom := errors.New("no such pod")
	_ = h.Add(&ModuleFunc{ModuleName: "failer", Fn: func(ctx context.Context, c *Context) error {
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil
			}
			if !m.Header.Sync {
				if err := c.Respond(m, nil); !errors.Is(err, ErrNotSync) {
					panic("Respond to an async message did not return ErrNotSync")
				}
				continue
			}
			_ = c.RespondError(m, boom)
			if err := c.Respond(m, "again"); !errors.Is(err, ErrAlreadyAnswered) && !errors.Is(err, ErrLateResponse) {
				panic("second Respond was accepted")
			}
		}
	}})
	a := handle(t, h, "a", "", ModuleConfig{})
	runHive(t, h)
	ca := get(t, a)
	_ = ca.Send(context.Background(), "failer", Message{})
	resp, err := ca.SendSync(context.Background(), "failer", Message{})
	if !errors.Is(err, boom) || resp.Router.Operation != OpError {
		t.Fatalf("got %+v, %v; want the responder's error", resp, err)
	}
	if s := statsByName(h)["failer"]; s.Restarts != 0 {
		t.Fatalf("the responder panicked: %+v", s)
	}
}

func TestSendSyncTimeoutAndLateResponseCounted(t *testing.T) {
	h := newHive(t, Config{SyncTimeout: 30 * time.Millisecond})
	lateErr := make(chan error, 1)
	_ = h.Add(&ModuleFunc{ModuleName: "slow", Fn: func(ctx context.Context, c *Context) error {
		m, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
		lateErr <- c.Respond(m, "too late")
		<-ctx.Done()
		return nil
	}})
	_ = h.Add(echo("echo", ""))
	a := handle(t, h, "a", "", ModuleConfig{})
	runHive(t, h)
	ca := get(t, a)
	start := time.Now()
	_, err := ca.SendSync(context.Background(), "slow", Message{}) // no deadline: Config.SyncTimeout
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("gave up after %v, before the 30ms sync timeout", waited)
	}
	if err := <-lateErr; !errors.Is(err, ErrLateResponse) {
		t.Fatalf("late Respond: got %v, want ErrLateResponse", err)
	}
	s := statsByName(h)["a"]
	if s.SyncTimeouts != 1 || s.LateResponses != 1 {
		t.Fatalf("a: sync timeouts %d, late %d; want 1 and 1", s.SyncTimeouts, s.LateResponses)
	}
	// The late response must not leak into a later request that reuses the pooled waiter.
	for i := 0; i < 10; i++ {
		r, err := ca.SendSync(context.Background(), "echo", Message{Content: i})
		if err != nil || r.Content != i {
			t.Fatalf("request %d after a late response got %v, %v", i, r.Content, err)
		}
	}
}

func TestSendToGroupSync(t *testing.T) {
	h := newHive(t, Config{})
	for _, n := range []string{"e1", "e2", "e3"} {
		_ = h.Add(echo(n, GroupEdged))
	}
	a := handle(t, h, "a", "", ModuleConfig{})
	runHive(t, h)
	ca := get(t, a)
	resps, err := ca.SendToGroupSync(context.Background(), GroupEdged, Message{Content: 42})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range resps {
		if r.Content != 42 {
			t.Fatalf("response %+v", r)
		}
		seen[r.Router.Source] = true
	}
	if len(seen) != 3 {
		t.Fatalf("responses from %v, want e1 e2 e3", seen)
	}
}

// TestSendSyncStress is the acceptance stress test: 1,000,000 SendSync calls from 4 goroutines to a
// module that responds at once; none may be lost or time out.
func TestSendSyncStress(t *testing.T) {
	total := 1_000_000
	if testing.Short() {
		total = 50_000
	}
	const senders = 4
	h := newHive(t, Config{SyncTimeout: 10 * time.Second})
	_ = h.Add(&ModuleFunc{ModuleName: "responder", ModuleGroup: GroupUser, Fn: func(ctx context.Context, c *Context) error {
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil
			}
			if err := c.Respond(m, m.Content); err != nil {
				panic(err)
			}
		}
	}})
	a := handle(t, h, "a", "", ModuleConfig{})
	runHive(t, h)
	ca := get(t, a)

	var lost, timedOut, wrong atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			m := ca.NewMessage(GroupUser, OpQuery, "stress", nil)
			for i := s; i < total; i += senders {
				m.Content = i
				m.Header.ID = ID{} // a fresh ID per request
				r, err := ca.SendSync(context.Background(), "responder", m)
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					timedOut.Add(1)
				case err != nil:
					lost.Add(1)
				case r.Content != i:
					wrong.Add(1)
				}
			}
		}(s)
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := statsByName(h)
	t.Logf("%d SendSync from %d goroutines in %v (%.0f ns/round trip, GOMAXPROCS=%d, race=%v): lost %d, timed out %d, wrong %d, late %d",
		total, senders, elapsed, float64(elapsed.Nanoseconds())/float64(total), runtime.GOMAXPROCS(0), raceEnabled,
		lost.Load(), timedOut.Load(), wrong.Load(), st["a"].LateResponses)
	if lost.Load() != 0 || timedOut.Load() != 0 || wrong.Load() != 0 || st["a"].SyncTimeouts != 0 || st["a"].LateResponses != 0 {
		t.Fatalf("lost %d, timed out %d, wrong %d, sync timeouts %d, late %d; want all 0",
			lost.Load(), timedOut.Load(), wrong.Load(), st["a"].SyncTimeouts, st["a"].LateResponses)
	}
	if got := st["responder"].Received; got != uint64(total) {
		t.Fatalf("responder received %d, want %d", got, total)
	}
}

// TestSendSyncDeadlineRace drives responses that land right at the deadline: each one either arrives
// (and is returned) or is counted late; none vanishes and no late response reaches a later request.
func TestSendSyncDeadlineRace(t *testing.T) {
	h := newHive(t, Config{})
	_ = h.Add(&ModuleFunc{ModuleName: "jittery", Fn: func(ctx context.Context, c *Context) error {
		for i := 0; ; i++ {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil
			}
			if i%3 == 0 {
				time.Sleep(time.Duration(i%200) * time.Microsecond)
			}
			_ = c.Respond(m, m.Content)
		}
	}})
	a := handle(t, h, "a", "", ModuleConfig{})
	runHive(t, h)
	ca := get(t, a)
	const n = 5000
	var ok, gaveUp int
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Microsecond)
		r, err := ca.SendSync(ctx, "jittery", Message{Content: i})
		cancel()
		switch {
		case err == nil:
			if r.Content != i {
				t.Fatalf("request %d got the response of %v", i, r.Content)
			}
			ok++
		case errors.Is(err, context.DeadlineExceeded):
			gaveUp++
		default:
			t.Fatal(err)
		}
	}
	// Let the stragglers be answered (late) before counting.
	time.Sleep(50 * time.Millisecond)
	st := statsByName(h)
	if int(st["a"].SyncTimeouts) != gaveUp {
		t.Fatalf("sync timeouts counted %d, seen %d", st["a"].SyncTimeouts, gaveUp)
	}
	answered := st["jittery"].Sent
	if int(answered) != ok {
		t.Fatalf("responder delivered %d responses, requester got %d: a delivered response was lost", answered, ok)
	}
	if int(answered+st["a"].LateResponses) != n {
		t.Fatalf("delivered %d + late %d != %d requests", answered, st["a"].LateResponses, n)
	}
	t.Logf("%d requests: %d answered in time, %d gave up (%d counted late)", n, ok, gaveUp, st["a"].LateResponses)
}

// TestPendingSendSyncReleasedAtClose: a request that nobody will answer, waiting on the default timeout,
// returns ErrClosed as soon as the hive stops, and later requests are refused.
func TestPendingSendSyncReleasedAtClose(t *testing.T) {
	h := newHive(t, Config{SyncTimeout: time.Hour})
	a := handle(t, h, "a", "", ModuleConfig{})
	_ = handle(t, h, "mute", "", ModuleConfig{})
	stop := runHive(t, h)
	ca := get(t, a)
	res := make(chan error, 1)
	go func() {
		_, err := ca.SendSync(context.Background(), "mute", Message{})
		res <- err
	}()
	time.Sleep(20 * time.Millisecond)
	stop()
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("pending SendSync at close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending SendSync not released when the hive stopped")
	}
	if _, err := ca.SendSync(context.Background(), "mute", Message{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendSync after close: %v, want ErrClosed", err)
	}
}
