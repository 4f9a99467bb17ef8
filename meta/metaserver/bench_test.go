package metaserver_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkHTTPList1000Pods: GET /api/v1/namespaces/default/pods of 1,000 stored pods, as JSON and as
// the Table kubectl asks for.
func BenchmarkHTTPList1000Pods(b *testing.B) {
	e := start(b)
	for i := range 1000 {
		name := fmt.Sprintf("pod-%04d", i)
		e.put(b, "default/pod/"+name, "1", podJSON("default", name, "edge-1", "1", map[string]string{"app": "bench"}))
	}
	for _, tc := range []struct{ name, accept string }{
		{"json", ""},
		{"table", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, e.url+"/api/v1/namespaces/default/pods", nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n < 100_000 {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lists/s")
		})
	}
}
