package beehive

import (
	"context"
	"testing"
)

// benchPair returns the handles of two modules, a and b, in a running hive.
func benchPair(b *testing.B, mailbox int, extra ...Module) (*Context, *Context) {
	b.Helper()
	h := newHive(b, Config{})
	for _, m := range extra {
		if err := h.Add(m); err != nil {
			b.Fatal(err)
		}
	}
	a := handle(b, h, "a", "", ModuleConfig{MailboxSize: mailbox})
	bb := handle(b, h, "b", "", ModuleConfig{MailboxSize: mailbox})
	runHive(b, h)
	return get(b, a), get(b, bb)
}

// BenchmarkSendReceive: one prepared message sent to a module and received by it, in one goroutine.
// DESIGN.md budget: ≤ 100 ns and 0 allocations (KubeEdge beehive: 690 ns, 3 allocs).
func BenchmarkSendReceive(b *testing.B) {
	ca, cb := benchPair(b, 1024)
	ctx := context.Background()
	m := ca.NewMessage(GroupMeta, OpUpdate, "default/pod/nginx", "content")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ca.Send(ctx, "b", m); err != nil {
			b.Fatal(err)
		}
		if _, err := cb.Receive(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceiveFresh: as above, but every message gets a new ID and timestamp from Send.
func BenchmarkSendReceiveFresh(b *testing.B) {
	ca, cb := benchPair(b, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := Message{Router: Router{Group: GroupMeta, Operation: OpUpdate, Resource: "default/pod/nginx"}, Content: "content"}
		if err := ca.Send(ctx, "b", m); err != nil {
			b.Fatal(err)
		}
		if _, err := cb.Receive(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceiveTwoGoroutines: a producer goroutine and a consumer goroutine, the usual shape of
// two modules. Measures throughput per message.
func BenchmarkSendReceiveTwoGoroutines(b *testing.B) {
	ca, cb := benchPair(b, 1024)
	ctx := context.Background()
	m := ca.NewMessage(GroupMeta, OpUpdate, "default/pod/nginx", "content")
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(done)
		for i := 0; i < b.N; i++ {
			if _, err := cb.Receive(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for i := 0; i < b.N; i++ {
		if err := ca.Send(ctx, "b", m); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// BenchmarkSendSync: a request/response round trip with a module that responds at once.
// DESIGN.md budget: ≤ 1 µs (KubeEdge beehive ≈ 4.4 µs with 0.15 % lost).
func BenchmarkSendSync(b *testing.B) {
	ca, _ := benchPair(b, 1024, echo("echo", GroupUser))
	ctx := context.Background()
	m := ca.NewMessage(GroupUser, OpQuery, "default/pod/nginx", "content")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ca.SendSync(ctx, "echo", m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendSyncCancelableCtx: as BenchmarkSendSync, with a context of the caller's that can end but
// has no deadline: the wait is a two-way select and the default timeout is armed.
func BenchmarkSendSyncCancelableCtx(b *testing.B) {
	ca, _ := benchPair(b, 1024, echo("echo", GroupUser))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := ca.NewMessage(GroupUser, OpQuery, "default/pod/nginx", "content")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ca.SendSync(ctx, "echo", m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendSyncModuleCtx: as BenchmarkSendSync, with the module's own context (the usual call in a
// module's Run).
func BenchmarkSendSyncModuleCtx(b *testing.B) {
	h := newHive(b, Config{})
	_ = h.Add(echo("echo", GroupUser))
	type call struct {
		ctx context.Context
		c   *Context
	}
	ready := make(chan call, 1)
	_ = h.Add(&ModuleFunc{ModuleName: "a", Fn: func(ctx context.Context, c *Context) error {
		ready <- call{ctx, c}
		<-ctx.Done()
		return nil
	}})
	runHive(b, h)
	cl := <-ready
	m := cl.c.NewMessage(GroupUser, OpQuery, "default/pod/nginx", "content")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cl.c.SendSync(cl.ctx, "echo", m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendSyncParallel: SendSync from GOMAXPROCS goroutines to one responder.
func BenchmarkSendSyncParallel(b *testing.B) {
	ca, _ := benchPair(b, 1024, echo("echo", GroupUser))
	m := ca.NewMessage(GroupUser, OpQuery, "default/pod/nginx", "content")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := ca.SendSync(ctx, "echo", m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSendToGroup: one broadcast to a group of 4 modules, and the 4 receives.
func BenchmarkSendToGroup(b *testing.B) {
	h := newHive(b, Config{})
	var members []<-chan *Context
	for _, n := range []string{"g1", "g2", "g3", "g4"} {
		members = append(members, handle(b, h, n, GroupTwin, ModuleConfig{}))
	}
	src := handle(b, h, "src", "", ModuleConfig{})
	runHive(b, h)
	var ctxs []*Context
	for _, ch := range members {
		ctxs = append(ctxs, get(b, ch))
	}
	cs := get(b, src)
	ctx := context.Background()
	m := cs.NewMessage(GroupTwin, OpUpdate, "default/device/d1", "content")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cs.SendToGroup(ctx, GroupTwin, m); err != nil {
			b.Fatal(err)
		}
		for _, c := range ctxs {
			if _, err := c.Receive(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// The baselines measure the Go runtime's floor on the same machine in the same run, so that the
// figures above can be read as ratios (BENCHMARKS.md): a buffered channel send+receive in one goroutine,
// and a request/response ping-pong between two goroutines over plain channels.
func BenchmarkBaselineChannelSendReceive(b *testing.B) {
	ch := make(chan Message, 1024)
	m := Message{Router: Router{Group: GroupMeta, Operation: OpUpdate, Resource: "default/pod/nginx"}, Content: "content"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ch <- m
		<-ch
	}
}

func BenchmarkBaselineChannelPingPong(b *testing.B) {
	req := make(chan Message, 1024)
	resp := make(chan Message, 1)
	go func() {
		for m := range req {
			resp <- m
		}
	}()
	m := Message{Router: Router{Group: GroupMeta, Operation: OpQuery, Resource: "default/pod/nginx"}, Content: "content"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req <- m
		<-resp
	}
	b.StopTimer()
	close(req)
}
