package metaserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/edgehive/edgehive/meta"
)

// initialEventsEnd is the annotation of the bookmark that ends the initial events of a watch list
// (sendInitialEvents=true), as in Kubernetes.
const initialEventsEnd = "k8s.io/initial-events-end"

// serveWatch streams the changes of the selected objects as {"type":…,"object":…} lines.
//
// resourceVersion "" or "0" (or sendInitialEvents=true) first sends an ADDED event per object held,
// then the changes after that snapshot; any other resourceVersion is a store revision from an earlier
// list or event, and the changes after it are sent, or 410 Expired if the store no longer has them.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, req Request, res *resource, sel selectors) {
	q := r.URL.Query()
	timeout := s.cfg.MaxWatchTimeout
	if ts := q.Get("timeoutSeconds"); ts != "" {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 {
			writeStatus(w, newStatus(http.StatusBadRequest, reasonBadRequest, "invalid timeoutSeconds "+strconv.Quote(ts), nil))
			return
		}
		if d := time.Duration(n) * time.Second; n > 0 && d < timeout {
			timeout = d
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	rv := q.Get("resourceVersion")
	sendInitial := q.Get("sendInitialEvents") == "true"
	var initial []meta.Object
	var since int64
	if rv == "" || rv == "0" || sendInitial {
		_, objs, rev, err := s.list(r, req, res, sel)
		if err != nil {
			writeStatus(w, storeError(err))
			return
		}
		initial, since = objs, rev
	} else {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil || n < 1 {
			writeStatus(w, newStatus(http.StatusBadRequest, reasonBadRequest, "invalid resourceVersion "+strconv.Quote(rv), nil))
			return
		}
		since = n
	}
	watcher, err := s.cfg.Store.Watch(ctx, meta.WatchOptions{Kind: res.hubKind, Namespace: req.Namespace, Since: since})
	if errors.Is(err, meta.ErrExpired) {
		writeStatus(w, newStatus(http.StatusGone, reasonExpired, "too old resource version: "+err.Error(), nil))
		return
	}
	if err != nil {
		writeStatus(w, storeError(err))
		return
	}
	defer watcher.Stop()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	bw := bufio.NewWriterSize(w, 32<<10)
	flush := func() bool {
		if bw.Flush() != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	ew := &eventWriter{bw: bw, res: res, table: wantsTable(r.Header.Get("Accept"))}
	for _, o := range initial {
		if !ew.write(meta.Added, o) {
			return
		}
	}
	if sendInitial {
		bm := fmt.Sprintf(`{"type":"BOOKMARK","object":{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":"%d","annotations":{%q:"true"}}}}`+"\n",
			res.kind, res.apiVersion(), since, initialEventsEnd)
		if _, err := bw.WriteString(bm); err != nil {
			return
		}
	}
	if !flush() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-watcher.Events():
			if !ok {
				if errors.Is(watcher.Err(), meta.ErrWatcherTooSlow) {
					st := newStatus(http.StatusGone, reasonExpired, "watch fell behind the store: "+watcher.Err().Error(), nil)
					b, _ := json.Marshal(map[string]any{"type": "ERROR", "object": st})
					_, _ = bw.Write(append(b, '\n'))
					flush()
				}
				return
			}
			if !sel.labels.Empty() && !sel.labels.Matches(objectLabels(ev.Object.Value)) || !sel.match(res, ev.Object) {
				continue
			}
			if !ew.write(ev.Type, ev.Object) {
				return
			}
			if len(watcher.Events()) == 0 && !flush() {
				return
			}
		}
	}
}

// eventWriter writes watch events, as objects or, for kubectl get -w, as one-row Tables (the column
// definitions in the first event only, as the API server does).
type eventWriter struct {
	bw          *bufio.Writer
	res         *resource
	table       bool
	sentColumns bool
}

// write writes one watch event line; false if the client is gone.
func (ew *eventWriter) write(typ meta.EventType, o meta.Object) bool {
	bw := ew.bw
	b, err := render(ew.res, o)
	if err != nil {
		return true // an unreadable stored object is skipped, not fatal to the watch
	}
	if ew.table {
		t := newTable(ew.res, strconv.FormatInt(o.Revision, 10), []json.RawMessage{b}, time.Now())
		if ew.sentColumns {
			t.ColumnDefinitions = []tableColumn{}
		}
		ew.sentColumns = true
		if b, err = json.Marshal(t); err != nil {
			return true
		}
	}
	_, _ = bw.WriteString(`{"type":"` + string(typ) + `","object":`)
	_, _ = bw.Write(b)
	_, err = bw.WriteString("}\n")
	return err == nil
}

// objectLabels returns metadata.labels of a JSON object.
func objectLabels(value []byte) labels.Set {
	var o struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(value, &o)
	return o.Metadata.Labels
}
