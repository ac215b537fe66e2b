package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/testenv"
)

// testAcceptLimit is the tests' accept_limit: short, so eventual counts
// converge quickly, and long enough for a retry on a loaded machine.
const testAcceptLimit = 3 * time.Second

// fastNamespaces shortens accept_limit so eventual counts converge quickly,
// and late_after, as for a hot accurate counter.
func fastNamespaces(s *settings.Settings) {
	s.Counters.Namespaces = map[string]settings.Namespace{
		"best_effort": {Type: "best_effort"},
		"eventual":    {Type: "eventual", AcceptLimit: testAcceptLimit, ClockSkew: 100 * time.Millisecond, CoalesceWindow: 100 * time.Millisecond},
		"accurate":    {Type: "accurate", AcceptLimit: testAcceptLimit, ClockSkew: 100 * time.Millisecond, LateAfter: 300 * time.Millisecond, CoalesceWindow: 100 * time.Millisecond},
	}
}

func counterJSON(t *testing.T, sc *sidecar, op, body string) (int, string) {
	t.Helper()
	code, out := httpDo(t, "POST", "http://"+sc.addrs.HTTP+"/v1/counter/"+op, body)
	return code, strings.TrimSpace(out)
}

func addBody(ns, name string, delta int64, token string, at time.Time) string {
	return fmt.Sprintf(`{"namespace":%q,"counter_name":%q,"delta":%d,"idempotency_token":{"token":%q,"generation_time":%q}}`,
		ns, name, delta, token, at.UTC().Format(time.RFC3339Nano))
}

// testCounterAPI runs the counter API checks against a sidecar on the given store.
func testCounterAPI(t *testing.T, mutate func(*settings.Settings)) {
	sc := startSidecar(t, func(s *settings.Settings) {
		fastNamespaces(s)
		if mutate != nil {
			mutate(s)
		}
	})
	name := "c-" + time.Now().Format("150405.000000")

	t.Run("accurate", func(t *testing.T) {
		now := time.Now()
		if code, out := counterJSON(t, sc, "addAndGet", addBody("accurate", name, 5, "t1", now)); code != 200 || out != `{"count":5}` {
			t.Fatalf("addAndGet = %d %s", code, out)
		}
		// A retry with the same token counts once.
		if code, out := counterJSON(t, sc, "addAndGet", addBody("accurate", name, 5, "t1", now)); code != 200 || out != `{"count":5}` {
			t.Fatalf("retried addAndGet = %d %s", code, out)
		}
		if code, out := counterJSON(t, sc, "add", addBody("accurate", name, -2, "t2", time.Now())); code != 200 || out != `{}` {
			t.Fatalf("add = %d %s", code, out)
		}
		if code, out := counterJSON(t, sc, "get", fmt.Sprintf(`{"namespace":"accurate","counter_name":%q}`, name)); code != 200 || out != `{"count":3}` {
			t.Fatalf("get = %d %s", code, out)
		}
		clear := fmt.Sprintf(`{"namespace":"accurate","counter_name":%q,"idempotency_token":{"token":"t3","generation_time":%q}}`,
			name, time.Now().UTC().Format(time.RFC3339Nano))
		if code, out := counterJSON(t, sc, "clear", clear); code != 200 || out != `{"count":0}` {
			t.Fatalf("clear = %d %s", code, out)
		}
		if code, out := counterJSON(t, sc, "addAndGet", addBody("accurate", name, 7, "t4", time.Now())); code != 200 || out != `{"count":7}` {
			t.Fatalf("addAndGet after clear = %d %s", code, out)
		}
	})

	t.Run("eventual converges", func(t *testing.T) {
		now := time.Now()
		batch := `{"requests":[` + addBody("eventual", name, 10, "b1", now) + "," + addBody("eventual", name, 20, "b2", now) + "]}"
		if code, out := counterJSON(t, sc, "batchAdd", batch); code != 200 || out != `{}` {
			t.Fatalf("batchAdd = %d %s", code, out)
		}
		// Within accept_limit + 2s of the last write the eventual count is exact.
		deadline := time.Now().Add(testAcceptLimit + 2*time.Second)
		for {
			_, out := counterJSON(t, sc, "get", fmt.Sprintf(`{"namespace":"eventual","counter_name":%q}`, name))
			if out == `{"count":30}` {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("eventual count %s, want 30 within accept_limit + 2s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("errors", func(t *testing.T) {
		long := strings.Repeat("x", 257)
		cases := []struct {
			op, body string
			code     int
			want     string
		}{
			{"get", `{"namespace":"nope","counter_name":"a"}`, 404, `"code":"not_found"`},
			{"get", `{"namespace":"accurate","counter_name":""}`, 400, `"code":"invalid_argument"`},
			{"get", `{"namespace":"accurate","counter_name":"` + long + `"}`, 400, `256`},
			{"get", `{"namespace":"accurate"`, 400, `malformed JSON body`},
			{"get", `{"namespace":"accurate","counter_name":"a","colour":1}`, 400, `unknown field \"colour\"`},
			{"add", `{"namespace":"accurate","counter_name":"a","idempotency_token":{"token":"x","generation_time":"now"}}`, 400, `request.delta is missing`},
			{"add", `{"namespace":"accurate","counter_name":"a","delta":1,"idempotency_token":{"token":"x","generation_time":"yesterday"}}`, 400, `idempotency_token.generation_time \"yesterday\" is not RFC 3339`},
			{"add", addBody("accurate", "old", 1, "x", time.Now().Add(-time.Hour)), 400, `older than namespace \"accurate\"'s accept_limit`},
			{"add", addBody("best_effort", name, 9223372036854775807, "o1", time.Now()), 200, `{}`},
			{"add", addBody("best_effort", name, 1, "o2", time.Now()), 400, `overflows int64`},
			{"nope", `{}`, 404, `use POST /v1/counter/add`},
		}
		for _, c := range cases {
			code, out := counterJSON(t, sc, c.op, c.body)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Errorf("%s %s = %d %s; want %d containing %q", c.op, c.body, code, out, c.code, c.want)
			}
		}
	})

	t.Run("grpc", func(t *testing.T) {
		client := counterpb.NewCounterServiceClient(sc.conn)
		ctx := context.Background()
		tok := &counterpb.IdempotencyToken{Token: "g1", GenerationTime: timestamppb.Now()}
		resp, err := client.AddAndGetCount(ctx, &counterpb.AddCountRequest{Namespace: "accurate", CounterName: name + "-grpc", Delta: 4, IdempotencyToken: tok})
		if err != nil || resp.GetCount() != 4 {
			t.Fatalf("AddAndGetCount = %v, %v", resp, err)
		}
		_, err = client.GetCount(ctx, &counterpb.GetCountRequest{Namespace: "nope", CounterName: "a"})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("GetCount(unknown namespace) = %v, want NotFound", err)
		}
	})

	t.Run("cli", func(t *testing.T) {
		code, out := captureRun(t, []string{"counter", "add-and-get", "--addr", sc.addrs.HTTP, "--namespace", "accurate", "--name", name + "-cli", "--delta", "3"})
		if code != 0 || strings.TrimSpace(out) != `{"count":3}` {
			t.Fatalf("counter add-and-get = %d %q", code, out)
		}
		code, out = captureRun(t, []string{"counter", "get", "--addr", sc.addrs.HTTP, "--namespace", "nope", "--name", "x"})
		if code != 1 || !strings.Contains(out, "404 Not Found") {
			t.Fatalf("counter get unknown namespace = %d %q", code, out)
		}
		var body struct{ Count int64 }
		code, out = captureRun(t, []string{"counter", "get", "--addr", sc.addrs.HTTP, "--namespace", "accurate", "--name", name + "-cli"})
		if code != 0 || json.Unmarshal([]byte(out), &body) != nil || body.Count != 3 {
			t.Fatalf("counter get = %d %q", code, out)
		}
	})
}

func TestCounterAPIPebble(t *testing.T) { testCounterAPI(t, nil) }

func TestCounterAPICassandra(t *testing.T) {
	testCounterAPI(t, onCassandra(t, "tollgate_sidecar_it"))
}

// onCassandra returns a settings edit that puts the counters on the test
// Cassandra's dc1, in keyspace.
func onCassandra(t *testing.T, keyspace string) func(*settings.Settings) {
	hosts := testenv.Addrs(t, testenv.Cassandra)
	return func(s *settings.Settings) {
		s.Counters.Store = "cassandra"
		s.Counters.Cassandra = settings.Cassandra{
			Hosts: hosts, Keyspace: keyspace, DataCenters: map[string]int{"dc1": 1}, LocalDC: "dc1",
			Timeout: 5 * time.Second,
		}
	}
}

// TestCounterTwoDataCenters adds through a sidecar writing to dc1 and counts
// through a sidecar reading dc2 of the same Cassandra cluster.
func TestCounterTwoDataCenters(t *testing.T) {
	dc1 := testenv.Addrs(t, testenv.Cassandra)
	dc2 := testenv.Addrs(t, testenv.CassandraDC2)
	in := func(hosts []string, dc string) func(*settings.Settings) {
		return func(s *settings.Settings) {
			fastNamespaces(s)
			s.Counters.Store = "cassandra"
			s.Counters.Cassandra = settings.Cassandra{
				Hosts: hosts, Keyspace: "tollgate_twodc_it", DataCenters: map[string]int{"dc1": 1, "dc2": 1},
				LocalDC: dc, Timeout: 5 * time.Second,
			}
		}
	}
	writer := startSidecar(t, in(dc1, "dc1"))
	reader := startSidecar(t, in(dc2, "dc2"))
	name := "twodc-" + time.Now().Format("150405.000000")
	for i := 1; i <= 3; i++ {
		if code, out := counterJSON(t, writer, "add", addBody("accurate", name, int64(i), fmt.Sprint("w", i), time.Now())); code != 200 {
			t.Fatalf("add %d = %d %s", i, code, out)
		}
	}
	// Replication to dc2 is asynchronous to a LOCAL_QUORUM write in dc1: poll.
	get := fmt.Sprintf(`{"namespace":"accurate","counter_name":%q}`, name)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out := counterJSON(t, reader, "get", get)
		if code == 200 && out == `{"count":6}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dc2 reader sees %d %s, want {\"count\":6}", code, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
