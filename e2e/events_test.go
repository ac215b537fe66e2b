package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCloudEventsIngest: CloudEvents posted to the running sidecar (the
// quickstart's llm_tokens meter) are counted once, resent or not, and
// show in usage; a refused one is reported by index.
func TestCloudEventsIngest(t *testing.T) {
	s := startSidecar(t)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	event := func(id, subject string, tokens int) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"llm-gateway","type":"com.example.llm.completion","subject":%q,"time":%q,"data":{"usage":{"total_tokens":%d}}}`,
			id, subject, now, tokens)
	}
	batch := "[" + event("c1", "acme", 120) + "," + event("c2", "nobody", 5) + "," + event("c3", "acme", 30) + "]"
	for range 2 { // the second post is a resend
		resp, err := http.Post("http://"+s.HTTP+"/v1/events", "application/cloudevents-batch+json", strings.NewReader(batch))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"accepted":2,"errors":[{"index":1,"id":"c2","code":"unknown_tenant"`) {
			t.Fatalf("POST /v1/events: %d %s", resp.StatusCode, body)
		}
	}
	eventually(t, 10*time.Second, func() string {
		if got := s.usage(t, "llm_tokens", "acme"); got != 150 {
			return fmt.Sprintf("llm_tokens = %d, want 150", got)
		}
		return ""
	})
}
