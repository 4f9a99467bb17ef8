package meta_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
)

// Store objects, ignore a stale version, list by label, and watch from the list's revision.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "meta-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := meta.Open(ctx, meta.Config{Path: filepath.Join(dir, "meta.db")})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	web := hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "web"}
	if _, err := s.Put(ctx, web, "10", []byte(`{"metadata":{"name":"web","labels":{"app":"web"}}}`)); err != nil {
		panic(err)
	}
	_, err = s.Put(ctx, web, "9", []byte(`{"metadata":{"name":"web"}}`))
	fmt.Println("older version:", errors.Is(err, meta.ErrStale))

	sel, _ := labels.Parse("app=web")
	res, err := s.List(ctx, meta.ListOptions{Kind: hub.KindPod, Selector: sel})
	if err != nil {
		panic(err)
	}
	fmt.Println("listed:", len(res.Items), res.Items[0].Key, res.Items[0].ResourceVersion)

	w, err := s.Watch(ctx, meta.WatchOptions{Kind: hub.KindPod, Since: res.Revision})
	if err != nil {
		panic(err)
	}
	defer w.Stop()
	if _, err := s.Delete(ctx, web, ""); err != nil {
		panic(err)
	}
	ev := <-w.Events()
	fmt.Println("event:", ev.Type, ev.Object.Key)
	// Output:
	// older version: true
	// listed: 1 default/pod/web 10
	// event: DELETED default/pod/web
}
