package beehive

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAddRefusesEmptyAndDuplicateNames(t *testing.T) {
	h := newHive(t, Config{})
	if err := h.Add(echo("", "")); !errors.Is(err, ErrEmptyName) {
		t.Fatalf("empty name: got %v, want ErrEmptyName", err)
	}
	if err := h.Add(echo("a", "")); err != nil {
		t.Fatal(err)
	}
	if err := h.Add(echo("a", GroupMeta)); !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("duplicate: got %v, want ErrDuplicateName", err)
	}
	bad := echo("b", "")
	bad.Config.Restart = RestartPolicy(7)
	if err := h.Add(bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad config: got %v, want ErrInvalidConfig", err)
	}
	if got := h.Modules(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("modules = %v, want [a]", got)
	}
}

func TestRunReturnsWhenContextEndsAndModulesStopped(t *testing.T) {
	h := newHive(t, Config{})
	var stoppedMu sync.Mutex
	stopped := map[string]bool{}
	for _, name := range []string{"a", "b", "c"} {
		if err := h.Add(&ModuleFunc{ModuleName: name, Fn: func(ctx context.Context, c *Context) error {
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // a module that takes a moment to clean up
			stoppedMu.Lock()
			stopped[name] = true
			stoppedMu.Unlock()
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	if err := h.Add(echo("late", "")); !errors.Is(err, ErrRunning) && !errors.Is(err, ErrClosed) {
		// Run may not have switched state yet; Add then succeeds, which is fine before Run starts.
		if err != nil {
			t.Fatalf("Add during Run: %v", err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stoppedMu.Lock()
	defer stoppedMu.Unlock()
	for _, name := range []string{"a", "b", "c"} {
		if !stopped[name] {
			t.Errorf("Run returned before module %s stopped", name)
		}
	}
	if err := h.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Run: got %v, want ErrClosed", err)
	}
	if err := h.Add(echo("x", "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Run: got %v, want ErrClosed", err)
	}
}

func TestStopTimeoutNamesStuckModule(t *testing.T) {
	h := newHive(t, Config{StopTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	_ = h.Add(&ModuleFunc{ModuleName: "stubborn", Fn: func(ctx context.Context, c *Context) error {
		<-release
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	err := <-done
	close(release)
	if !errors.Is(err, ErrStopTimeout) || !strings.Contains(err.Error(), "stubborn") {
		t.Fatalf("got %v, want ErrStopTimeout naming stubborn", err)
	}
	// Let the stubborn goroutine finish before goleak looks.
	time.Sleep(20 * time.Millisecond)
}

func TestSendReceiveInOrderWithSourceSetByHive(t *testing.T) {
	h := newHive(t, Config{})
	a := handle(t, h, "a", "", ModuleConfig{})
	b := handle(t, h, "b", "", ModuleConfig{})
	runHive(t, h)
	ca, cb := get(t, a), get(t, b)
	ctx := context.Background()
	const n = 1000
	go func() {
		for i := 0; i < n; i++ {
			m := Message{Router: Router{Source: "forged", Operation: OpUpdate, Resource: "r"}, Content: i}
			if err := ca.Send(ctx, "b", m); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var last ID
	for i := 0; i < n; i++ {
		m, err := cb.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Content.(int) != i {
			t.Fatalf("message %d out of order: content %v", i, m.Content)
		}
		if m.Router.Source != "a" {
			t.Fatalf("source = %q, want a (set by the hive)", m.Router.Source)
		}
		if m.Header.ID.IsZero() || m.Header.Timestamp == 0 {
			t.Fatalf("message not stamped: %+v", m.Header)
		}
		if m.Header.ID == last {
			t.Fatalf("duplicate id %v", m.Header.ID)
		}
		last = m.Header.ID
	}
	stats := statsByName(h)
	if stats["a"].Sent != n || stats["b"].Received != n {
		t.Fatalf("counters: a.sent=%d b.received=%d, want %d", stats["a"].Sent, stats["b"].Received, n)
	}
}

func statsByName(h *Hive) map[string]ModuleStats {
	out := map[string]ModuleStats{}
	for _, s := range h.Stats() {
		out[s.Name] = s
	}
	return out
}

func TestSendErrors(t *testing.T) {
	h := newHive(t, Config{})
	a := handle(t, h, "a", "", ModuleConfig{})
	_ = handle(t, h, "small", "", ModuleConfig{MailboxSize: 2})
	_ = h.Add(&ModuleFunc{ModuleName: "quitter", Config: ModuleConfig{Restart: RestartNever}, Fn: func(ctx context.Context, c *Context) error {
		return nil
	}})
	stop := runHive(t, h)
	ca := get(t, a)
	ctx := context.Background()

	if err := ca.Send(ctx, "nobody", Message{}); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("unknown module: got %v", err)
	}
	if err := ca.SendToGroup(ctx, "nogroup", Message{}); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("unknown group: got %v", err)
	}
	if _, err := ca.SendSync(ctx, "nobody", Message{}); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("sync to unknown module: got %v", err)
	}

	// Fill the small mailbox: TrySend reports it full and counts a drop; Send waits and honours ctx.
	for i := 0; i < 2; i++ {
		if err := ca.TrySend("small", Message{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ca.TrySend("small", Message{}); !errors.Is(err, ErrMailboxFull) {
		t.Errorf("full mailbox: got %v, want ErrMailboxFull", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := ca.Send(tctx, "small", Message{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("blocking send into a full mailbox: got %v, want DeadlineExceeded", err)
	}
	s := statsByName(h)["small"]
	if s.Dropped != 1 || s.MailboxDepth != 2 || s.MailboxCap != 2 {
		t.Errorf("small stats = %+v, want dropped 1, depth 2, cap 2", s)
	}

	// A module stopped for good refuses messages.
	deadline := time.Now().Add(5 * time.Second)
	for !statsByName(h)["quitter"].Stopped && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := ca.Send(ctx, "quitter", Message{}); !errors.Is(err, ErrModuleStopped) {
		t.Errorf("stopped module: got %v, want ErrModuleStopped", err)
	}

	// A sender blocked on a full mailbox is released when the hive closes.
	blocked := make(chan error, 1)
	go func() { blocked <- ca.Send(ctx, "small", Message{}) }()
	time.Sleep(10 * time.Millisecond)
	stop()
	if err := <-blocked; !errors.Is(err, ErrClosed) {
		t.Errorf("blocked send at close: got %v, want ErrClosed", err)
	}
	if err := ca.Send(ctx, "a", Message{}); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: got %v, want ErrClosed", err)
	}
	if err := ca.TrySend("a", Message{}); !errors.Is(err, ErrClosed) {
		t.Errorf("trysend after close: got %v, want ErrClosed", err)
	}
}

func TestSendToGroupReachesEveryMemberButTheSender(t *testing.T) {
	h := newHive(t, Config{})
	members := map[string]<-chan *Context{}
	for _, n := range []string{"t1", "t2", "t3"} {
		members[n] = handle(t, h, n, GroupTwin, ModuleConfig{})
	}
	other := handle(t, h, "other", GroupMeta, ModuleConfig{})
	runHive(t, h)
	ctxs := map[string]*Context{}
	for n, ch := range members {
		ctxs[n] = get(t, ch)
	}
	co := get(t, other)
	ctx := context.Background()
	if err := ctxs["t1"].SendToGroup(ctx, GroupTwin, Message{Content: "hello"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"t2", "t3"} {
		m, err := ctxs[n].Receive(ctx)
		if err != nil || m.Content != "hello" || m.Router.Source != "t1" {
			t.Fatalf("%s got %+v, %v", n, m, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := ctxs["t1"].Receive(short); err == nil {
		t.Fatal("the sender received its own broadcast")
	}
	if _, err := co.Receive(short); err == nil {
		t.Fatal("a module of another group received the broadcast")
	}
}

func TestTwoHivesDoNotInterfere(t *testing.T) {
	h1, h2 := newHive(t, Config{}), newHive(t, Config{})
	a1 := handle(t, h1, "a", GroupHub, ModuleConfig{})
	b1 := handle(t, h1, "b", GroupHub, ModuleConfig{})
	a2 := handle(t, h2, "a", GroupHub, ModuleConfig{}) // same names in the other hive
	b2 := handle(t, h2, "b", GroupHub, ModuleConfig{})
	runHive(t, h1)
	runHive(t, h2)
	c1a, c1b, c2a, c2b := get(t, a1), get(t, b1), get(t, a2), get(t, b2)
	ctx := context.Background()
	if err := c1a.Send(ctx, "b", Message{Content: "one"}); err != nil {
		t.Fatal(err)
	}
	if err := c2a.Send(ctx, "b", Message{Content: "two"}); err != nil {
		t.Fatal(err)
	}
	m1, _ := c1b.Receive(ctx)
	m2, _ := c2b.Receive(ctx)
	if m1.Content != "one" || m2.Content != "two" {
		t.Fatalf("hive 1 got %v, hive 2 got %v", m1.Content, m2.Content)
	}
	if m1.Header.ID.Epoch == m2.Header.ID.Epoch {
		t.Fatalf("two hives share an id epoch %x", m1.Header.ID.Epoch)
	}
	s1, s2 := statsByName(h1), statsByName(h2)
	if s1["b"].Received != 1 || s2["b"].Received != 1 {
		t.Fatalf("counters crossed hives: %v / %v", s1["b"], s2["b"])
	}
}

func TestNoGoroutineLeakAfterRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	for round := 0; round < 3; round++ {
		h := newHive(t, Config{})
		_ = h.Add(echo("echo", GroupUser))
		a := handle(t, h, "a", "", ModuleConfig{})
		stop := runHive(t, h)
		ca := get(t, a)
		if _, err := ca.SendSync(context.Background(), "echo", Message{Content: 1}); err != nil {
			t.Fatal(err)
		}
		stop()
	}
}

func TestIDTextRoundTrip(t *testing.T) {
	for _, id := range []ID{{}, {Epoch: 1, Seq: 2}, {Epoch: ^uint64(0), Seq: ^uint64(0)}} {
		b, _ := id.MarshalText()
		var back ID
		if err := back.UnmarshalText(b); err != nil || back != id {
			t.Fatalf("%v → %q → %v, %v", id, b, back, err)
		}
	}
	for _, bad := range []string{"xyz", strings.Repeat("g", 32), strings.Repeat("0", 31)} {
		if _, err := ParseID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q) = %v, want ErrBadID", bad, err)
		}
	}
}

func TestWriteMetrics(t *testing.T) {
	h := newHive(t, Config{})
	_ = h.Add(echo("echo", GroupUser))
	var sb strings.Builder
	if err := WriteMetrics(&sb, h.Stats()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE beehive_messages_sent_total counter",
		`beehive_mailbox_capacity{module="echo",group="user"} 1024`,
	} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, sb.String())
		}
	}
}
