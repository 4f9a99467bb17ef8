package metaserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/edgehive/edgehive/meta"
)

// ServeHTTP implements http.Handler: discovery, then get, list and watch of the served resources.
// Every other method is refused with 405 MethodNotAllowed; unknown paths get 404 NotFound.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, newStatus(http.StatusMethodNotAllowed, reasonMethodNotAllowed,
			fmt.Sprintf("the edge metaserver is read-only: %s is not allowed", r.Method), nil))
		return
	}
	if s.serveDiscovery(w, r.URL.Path) {
		return
	}
	req, err := ParsePath(r.URL.Path)
	if err != nil {
		writeStatus(w, newStatus(http.StatusNotFound, reasonNotFound, "the server could not find the requested resource", nil))
		return
	}
	res := req.resource()
	if req.Name != "" {
		s.serveGet(w, r, req, res)
		return
	}
	q := r.URL.Query()
	sel, err := parseSelectors(res, q.Get("labelSelector"), q.Get("fieldSelector"))
	if err != nil {
		writeStatus(w, newStatus(http.StatusBadRequest, reasonBadRequest, err.Error(), nil))
		return
	}
	if v := q.Get("watch"); v == "true" || v == "1" {
		s.serveWatch(w, r, req, res, sel)
		return
	}
	s.serveList(w, r, req, res, sel)
}

// selectors are the parsed label and field selectors of a list or watch.
type selectors struct {
	labels labels.Selector
	fields fields.Selector
}

func parseSelectors(res *resource, ls, fs string) (selectors, error) {
	var s selectors
	var err error
	if s.labels, err = labels.Parse(ls); err != nil {
		return s, fmt.Errorf("invalid labelSelector: %w", err)
	}
	if s.fields, err = fields.ParseSelector(fs); err != nil {
		return s, fmt.Errorf("invalid fieldSelector: %w", err)
	}
	for _, req := range s.fields.Requirements() {
		if !res.fieldAllowed(req.Field) {
			return s, fmt.Errorf("field label not supported: %s", req.Field)
		}
	}
	return s, nil
}

func (sel selectors) match(res *resource, o meta.Object) bool {
	if !sel.fields.Empty() && !sel.fields.Matches(fields.Set(objectFields(res, o))) {
		return false
	}
	return true // labels are applied by the store (List) or by the watch loop
}

func notFound(req Request, res *resource) *status {
	return newStatus(http.StatusNotFound, reasonNotFound, fmt.Sprintf("%s %q not found", res.plural, req.Name),
		&statusDetails{Name: req.Name, Group: res.group, Kind: res.plural})
}

func storeError(err error) *status {
	if errors.Is(err, meta.ErrClosed) {
		return newStatus(http.StatusServiceUnavailable, reasonUnavailable, "the edge store is closed", nil)
	}
	return newStatus(http.StatusInternalServerError, reasonInternal, err.Error(), nil)
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, req Request, res *resource) {
	o, err := s.cfg.Store.Get(r.Context(), req.Key())
	if errors.Is(err, meta.ErrNotFound) {
		writeStatus(w, notFound(req, res))
		return
	}
	if err != nil {
		writeStatus(w, storeError(err))
		return
	}
	b, err := render(res, o)
	if err != nil {
		writeStatus(w, storeError(err))
		return
	}
	if wantsTable(r.Header.Get("Accept")) {
		writeJSON(w, newTable(res, "", []json.RawMessage{b}, time.Now()))
		return
	}
	writeRaw(w, b)
}

// list reads the selected objects and renders them.
func (s *Server) list(r *http.Request, req Request, res *resource, sel selectors) ([]json.RawMessage, []meta.Object, int64, error) {
	lr, err := s.cfg.Store.List(r.Context(), meta.ListOptions{Kind: res.hubKind, Namespace: req.Namespace, Selector: sel.labels})
	if err != nil {
		return nil, nil, 0, err
	}
	out := make([]json.RawMessage, 0, len(lr.Items))
	objs := lr.Items[:0]
	for _, o := range lr.Items {
		if !sel.match(res, o) {
			continue
		}
		b, err := render(res, o)
		if err != nil {
			return nil, nil, 0, err
		}
		out = append(out, b)
		objs = append(objs, o)
	}
	return out, objs, lr.Revision, nil
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, req Request, res *resource, sel selectors) {
	items, _, rev, err := s.list(r, req, res, sel)
	if err != nil {
		writeStatus(w, storeError(err))
		return
	}
	rv := strconv.FormatInt(rev, 10)
	if wantsTable(r.Header.Get("Accept")) {
		writeJSON(w, newTable(res, rv, items, time.Now()))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":%q},"items":[`, res.kind+"List", res.apiVersion(), rv)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString("]}")
	writeRaw(w, []byte(b.String()))
}
