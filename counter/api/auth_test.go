package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/httperr"
)

// refuseBilling records every check and refuses namespace "billing".
type refuseBilling struct{ calls []string }

func (a *refuseBilling) CheckCounter(_ context.Context, op apiauth.CounterOp, ns, counter string) error {
	a.calls = append(a.calls, fmt.Sprintf("%d %s/%s", op, ns, counter))
	if ns == "billing" {
		return fmt.Errorf("no writes to %s: %w", ns, apiauth.ErrPermissionDenied)
	}
	return nil
}

// countingCounters counts the calls that reach the counters.
type countingCounters struct {
	fakeCounters
	batches int
}

func (c *countingCounters) BatchAdd(context.Context, []global.AddRequest) error {
	c.batches++
	return nil
}

// TestAuthorizer: every HTTP operation and gRPC method asks the Authorizer
// with its operation (get read, add/addAndGet/batch items write, clear
// clear) before it runs, and a refusal is 403 permission_denied or
// PermissionDenied.
func TestAuthorizer(t *testing.T) {
	const read, write, clear = apiauth.CounterRead, apiauth.CounterWrite, apiauth.CounterClear
	for _, c := range []struct {
		op, body string
		want     string
	}{
		{"get", `{"namespace":"billing","counter_name":"acme"}`, fmt.Sprintf("%d billing/acme", read)},
		{"add", `{"namespace":"billing","counter_name":"acme","delta":-5}`, fmt.Sprintf("%d billing/acme", write)},
		{"addAndGet", `{"namespace":"billing","counter_name":"acme","delta":1}`, fmt.Sprintf("%d billing/acme", write)},
		{"clear", `{"namespace":"billing","counter_name":"acme"}`, fmt.Sprintf("%d billing/acme", clear)},
	} {
		a := &refuseBilling{}
		rec := httptest.NewRecorder()
		NewServer(fakeCounters{}, Options{Authorizer: a}).Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/counter/"+c.op, strings.NewReader(c.body)))
		want := string(httperr.Body("permission_denied", "no writes to billing: permission denied")) + "\n"
		if rec.Code != 403 || rec.Body.String() != want || strings.Join(a.calls, ",") != c.want {
			t.Errorf("%s: %d %s checks %v; want 403 %s checks [%s]", c.op, rec.Code, rec.Body, a.calls, want, c.want)
		}
	}

	// A batch is checked item by item before any add runs.
	a, cc := &refuseBilling{}, &countingCounters{}
	rec := httptest.NewRecorder()
	body := `{"requests":[{"namespace":"usage","counter_name":"a","delta":1},{"namespace":"billing","counter_name":"b","delta":1}]}`
	NewServer(cc, Options{Authorizer: a}).Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/counter/batchAdd", strings.NewReader(body)))
	want := string(httperr.Body("permission_denied", "requests[1]: no writes to billing: permission denied")) + "\n"
	if rec.Code != 403 || rec.Body.String() != want || cc.batches != 0 || len(a.calls) != 2 {
		t.Errorf("batchAdd: %d %s, %d batches, checks %v; want 403 %s, none, 2 checks", rec.Code, rec.Body, cc.batches, a.calls, want)
	}

	ctx := context.Background()
	a = &refuseBilling{}
	s := NewServer(fakeCounters{}, Options{Authorizer: a})
	_, e1 := s.GetCount(ctx, &counterpb.GetCountRequest{Namespace: "billing", CounterName: "x"})
	_, e2 := s.AddCount(ctx, &counterpb.AddCountRequest{Namespace: "billing", CounterName: "x", Delta: 1})
	_, e3 := s.AddAndGetCount(ctx, &counterpb.AddCountRequest{Namespace: "billing", CounterName: "x", Delta: 1})
	_, e4 := s.ClearCount(ctx, &counterpb.ClearCountRequest{Namespace: "billing", CounterName: "x"})
	_, e5 := s.BatchAddCount(ctx, &counterpb.BatchAddCountRequest{Requests: []*counterpb.AddCountRequest{{Namespace: "billing", CounterName: "x", Delta: 1}}})
	for i, err := range []error{e1, e2, e3, e4, e5} {
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("gRPC call %d: %v, want PermissionDenied", i+1, err)
		}
	}
	wantCalls := fmt.Sprintf("%d billing/x,%d billing/x,%d billing/x,%d billing/x,%d billing/x", read, write, write, clear, write)
	if got := strings.Join(a.calls, ","); got != wantCalls {
		t.Errorf("gRPC checks %s, want %s", got, wantCalls)
	}
	if _, err := s.GetCount(ctx, &counterpb.GetCountRequest{Namespace: "usage", CounterName: "x"}); err != nil {
		t.Errorf("GetCount of an allowed namespace: %v", err)
	}
}
