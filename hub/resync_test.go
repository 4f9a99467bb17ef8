package hub

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/edgehive/edgehive/beehive"
)

func k(s string) Key {
	key, err := ParseKey(s)
	if err != nil {
		panic(err)
	}
	return key
}

func sampleDigests() map[string]Digest {
	return map[string]Digest{
		"empty": {},
		"one":   {k("default/pod/a"): "1"},
		"mixed": {
			k("default/pod/nginx-1"): "12345", k("default/pod/nginx-2"): "12346", k("default/pod/nginx"): "0",
			k("default/configmap/cfg"): "", k("/node/edge-1"): "not-a-number", k("kube-system/secret/s"): "007",
			k("default/device/d1"): "9223372036854775807", k("default/device/d2"): "9223372036854775808",
		},
	}
}

func TestDigestRoundTrip(t *testing.T) {
	for name, d := range sampleDigests() {
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := DecodeDigest(b)
		if err != nil || !reflect.DeepEqual(back, d) {
			t.Errorf("%s: round trip = %v, %v", name, back, err)
		}
	}
	if _, err := (Digest{Key{Kind: KindPod, Name: "a"}: "1"}).MarshalBinary(); !errors.Is(err, ErrBadKey) {
		t.Fatalf("digest with a bad key: %v", err)
	}
}

func TestDecodeDigestErrors(t *testing.T) {
	good, _ := Digest{k("default/pod/a"): "1", k("default/pod/b"): "x"}.MarshalBinary()
	cases := map[string][]byte{
		"empty":           nil,
		"version":         {2, 0},
		"trailing":        append(append([]byte{}, good...), 0),
		"truncated":       good[:len(good)-1],
		"count too big":   {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"duplicate":       []byte("\x01\x02\x00\x0ddefault/pod/a\x02\x0d\x00\x02"),
		"out of order":    []byte("\x01\x02\x00\x0ddefault/pod/b\x02\x0c\x01a\x02"),
		"prefix not max":  []byte("\x01\x02\x00\x0ddefault/pod/a\x02\x0b\x02/b\x02"),
		"prefix too long": []byte("\x01\x02\x00\x0ddefault/pod/a\x02\x0e\x01b\x02"),
		"bad key":         []byte("\x01\x01\x00\x0dDefault/pod/a\x02"),
		"decimal as text": []byte("\x01\x01\x00\x0ddefault/pod/a\x0312"),
		"rv truncated":    []byte("\x01\x01\x00\x0ddefault/pod/a\x09ab"),
	}
	for name, b := range cases {
		if d, err := DecodeDigest(b); !errors.Is(err, ErrBadDigest) {
			t.Errorf("%s: DecodeDigest = %v, %v", name, d, err)
		}
	}
}

// TestDigestSize measures the resync budget's upward half: 1,000 pods in 5 namespaces with numeric
// versions. DESIGN.md allows 20 objects' worth of bytes for the whole resync of 1,000 objects with 10
// changed; a small pod's JSON is 1.5-4 KB.
func TestDigestSize(t *testing.T) {
	d := Digest{}
	for i := range 1000 {
		d[k(fmt.Sprintf("team-%d/pod/web-7d9c8b5f4-%05x", i%5, i*7919))] = fmt.Sprint(4812345 + i*37)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	per := float64(len(b)) / 1000
	t.Logf("digest of 1000 pods: %d bytes (%.1f per object)", len(b), per)
	if per > 16 {
		t.Fatalf("digest takes %.1f bytes per object, want at most 16", per)
	}
}

func TestDiff(t *testing.T) {
	obj := func(key, rv string) Object {
		return Object{Key: k(key), ResourceVersion: rv, Content: []byte(key + "@" + rv)}
	}
	ins := func(key, rv string) Change {
		return Change{Op: OpInsert, Key: k(key), ResourceVersion: rv, Content: []byte(key + "@" + rv)}
	}
	upd := func(key, rv string) Change {
		return Change{Op: OpUpdate, Key: k(key), ResourceVersion: rv, Content: []byte(key + "@" + rv)}
	}
	del := func(key, rv string) Change { return Change{Op: OpDelete, Key: k(key), ResourceVersion: rv} }
	cases := []struct {
		name string
		have Digest
		want []Object
		out  []Change
	}{
		{"both empty", nil, nil, nil},
		{"edge empty", nil, []Object{obj("ns/pod/b", "2"), obj("ns/pod/a", "1")}, []Change{ins("ns/pod/a", "1"), ins("ns/pod/b", "2")}},
		{"cloud empty", Digest{k("ns/pod/a"): "1", k("/node/n"): "5"}, nil, []Change{del("/node/n", "5"), del("ns/pod/a", "1")}},
		{"equal", Digest{k("ns/pod/a"): "1", k("ns/secret/s"): "x"}, []Object{obj("ns/pod/a", "1"), obj("ns/secret/s", "x")}, nil},
		{"changed", Digest{k("ns/pod/a"): "1"}, []Object{obj("ns/pod/a", "2")}, []Change{upd("ns/pod/a", "2")}},
		{"opaque: older is a change too", Digest{k("ns/pod/a"): "10"}, []Object{obj("ns/pod/a", "9")}, []Change{upd("ns/pod/a", "9")}},
		{"opaque: no numeric equality", Digest{k("ns/pod/a"): "01"}, []Object{obj("ns/pod/a", "1")}, []Change{upd("ns/pod/a", "1")}},
		{"empty version vs version", Digest{k("ns/pod/a"): ""}, []Object{obj("ns/pod/a", "1")}, []Change{upd("ns/pod/a", "1")}},
		{"empty versions are equal", Digest{k("ns/pod/a"): ""}, []Object{obj("ns/pod/a", "")}, nil},
		{"added, removed, changed, kept",
			Digest{k("ns/pod/keep"): "1", k("ns/pod/gone"): "2", k("ns/configmap/c"): "3"},
			[]Object{obj("ns/pod/keep", "1"), obj("ns/configmap/c", "4"), obj("ns/pod/new", "5")},
			[]Change{upd("ns/configmap/c", "4"), del("ns/pod/gone", "2"), ins("ns/pod/new", "5")}},
		{"duplicate desired: first wins", nil, []Object{obj("ns/pod/a", "1"), obj("ns/pod/a", "2")}, []Change{ins("ns/pod/a", "1")}},
	}
	for _, c := range cases {
		have := Digest{}
		for key, rv := range c.have {
			have[key] = rv
		}
		got := Diff(c.have, c.want)
		if !reflect.DeepEqual(got, c.out) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.out)
		}
		if !reflect.DeepEqual(have, Digest(c.have)) && c.have != nil {
			t.Errorf("%s: Diff modified its input", c.name)
		}
	}
}

func TestMemStateResync(t *testing.T) {
	ctx := context.Background()
	s := NewMemState()
	n := NodeName("edge-1")
	s.Put(n, Object{Key: k("ns/pod/b"), ResourceVersion: "2"})
	s.Put(n, Object{Key: k("ns/pod/a"), ResourceVersion: "1"})
	s.Put("edge-2", Object{Key: k("ns/pod/other"), ResourceVersion: "1"})
	objs, err := s.Desired(ctx, n)
	if err != nil || len(objs) != 2 || objs[0].Key.Name != "a" {
		t.Fatalf("Desired = %v, %v", objs, err)
	}
	if o, ok, err := s.Get(ctx, n, k("ns/pod/b")); !ok || err != nil || o.ResourceVersion != "2" {
		t.Fatalf("Get = %v %v %v", o, ok, err)
	}
	if _, ok, _ := s.Get(ctx, n, k("ns/pod/other")); ok {
		t.Fatal("Get found another node's object")
	}
	s.Delete(n, k("ns/pod/a"))
	changes, err := Resync(ctx, s, n, Digest{k("ns/pod/a"): "1", k("ns/pod/b"): "2"})
	if err != nil || len(changes) != 1 || changes[0].Op != OpDelete || changes[0].Key.Name != "a" {
		t.Fatalf("Resync = %v, %v", changes, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Resync(cctx, s, n, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Resync with a cancelled context: %v", err)
	}
}

// podJSON is a small pod as the API server returns it without managedFields (about 1.6 KB).
func podJSON(ns, name, rv string) []byte {
	return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `","generateName":"web-7d9c8b5f4-","namespace":"` + ns + `",` +
		`"uid":"5f0c6a2e-8a53-4c43-9a61-1f2d3c4b5a69","resourceVersion":"` + rv + `","creationTimestamp":"2030-01-01T00:00:00Z",` +
		`"labels":{"app":"web","pod-template-hash":"7d9c8b5f4"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet",` +
		`"name":"web-7d9c8b5f4","uid":"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9","controller":true,"blockOwnerDeletion":true}]},` +
		`"spec":{"volumes":[{"name":"kube-api-access-x2k4p","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},` +
		`{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}],"defaultMode":420}}],` +
		`"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80,"protocol":"TCP"}],` +
		`"resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"100m","memory":"64Mi"}},` +
		`"volumeMounts":[{"name":"kube-api-access-x2k4p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],` +
		`"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],` +
		`"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default",` +
		`"nodeName":"edge-1","schedulerName":"default-scheduler","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists",` +
		`"effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},` +
		`"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2030-01-01T00:00:05Z"}],` +
		`"hostIP":"10.0.0.7","podIP":"10.244.1.9","startTime":"2030-01-01T00:00:00Z","containerStatuses":[{"name":"web","ready":true,` +
		`"restartCount":0,"image":"nginx:1.27","imageID":"docker.io/library/nginx@sha256:0123456789abcdef","started":true,` +
		`"state":{"running":{"startedAt":"2030-01-01T00:00:03Z"}}}],"qosClass":"Burstable"}}`)
}

// TestResyncBudget measures DESIGN.md's budget "resync after reconnect, 1,000 objects, 10 changed: at
// most 20 objects' worth of bytes on the wire", counting every frame both ways: the edge's OpResync
// with its digest, the cloud's 10 change frames and its OpResyncDone.
func TestResyncBudget(t *testing.T) {
	have := Digest{}
	var want []Object
	objFrame := 0
	for i := range 1000 {
		ns, name := fmt.Sprintf("team-%d", i%5), fmt.Sprintf("web-7d9c8b5f4-%05x", i*7919)
		key := Key{Namespace: ns, Kind: KindPod, Name: name}
		rv := fmt.Sprint(4812345 + i*37)
		have[key] = rv
		if i%100 == 0 {
			rv = fmt.Sprint(5900000 + i)
		}
		want = append(want, Object{Key: key, ResourceVersion: rv, Content: podJSON(ns, name, rv)})
	}
	id := beehive.ID{Epoch: 1 << 60, Seq: 1 << 20}
	frame := func(op beehive.Operation, res, rv string, content []byte) int {
		f := Frame{Header: beehive.Header{ID: id, Timestamp: 1 << 60, ResourceVersion: rv}, Seq: 1 << 20,
			Router: beehive.Router{Source: "cloudhub", Group: beehive.GroupMeta, Operation: op, Resource: res}, Content: content}
		return LengthPrefixLen + f.Size()
	}
	for _, o := range want {
		objFrame += frame(OpUpdate, o.Key.String(), o.ResourceVersion, o.Content)
	}
	avg := objFrame / len(want)
	digest, _ := have.MarshalBinary()
	total := frame(OpResync, "", "", digest)
	changes := Diff(have, want)
	if len(changes) != 10 {
		t.Fatalf("%d changes, want 10", len(changes))
	}
	for _, c := range changes {
		total += frame(c.Op, c.Key.String(), c.ResourceVersion, c.Content)
	}
	total += frame(OpResyncDone, "", "", nil)
	t.Logf("resync of 1000 pods (%d bytes per object frame), 10 changed: %d bytes on the wire = %.1f objects' worth (digest %d bytes)",
		avg, total, float64(total)/float64(avg), len(digest))
	if total > 20*avg {
		t.Fatalf("resync costs %d bytes, over 20 objects' worth (%d)", total, 20*avg)
	}
}
