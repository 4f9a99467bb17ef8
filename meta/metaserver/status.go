package metaserver

import (
	"encoding/json"
	"net/http"
)

// status is a Kubernetes meta/v1 Status, the body of every error answer.
type status struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   struct{}       `json:"metadata"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     string         `json:"reason"`
	Details    *statusDetails `json:"details,omitempty"`
	Code       int            `json:"code"`
}

type statusDetails struct {
	Name  string `json:"name,omitempty"`
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

// Status reasons used by the server (Kubernetes' StatusReason values).
const (
	reasonNotFound         = "NotFound"
	reasonMethodNotAllowed = "MethodNotAllowed"
	reasonBadRequest       = "BadRequest"
	reasonExpired          = "Expired"
	reasonInternal         = "InternalError"
	reasonUnavailable      = "ServiceUnavailable"
)

func newStatus(code int, reason, msg string, details *statusDetails) *status {
	return &status{Kind: "Status", APIVersion: "v1", Status: "Failure", Message: msg, Reason: reason, Details: details, Code: code}
}

// writeStatus answers with a Status error.
func writeStatus(w http.ResponseWriter, st *status) {
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(st.Code)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeStatus(w, newStatus(http.StatusInternalServerError, reasonInternal, err.Error(), nil))
		return
	}
	writeRaw(w, b)
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
