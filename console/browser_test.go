package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/internal/sidecartest"
	"github.com/tollgate/tollgate/internal/testenv"
)

// removeBin removes the sidecar binary the browser tests built, if any.
var removeBin = func() {}

func TestMain(m *testing.M) {
	code := m.Run()
	removeBin()
	os.Exit(code)
}

// sidecarBin builds the sidecar on first use and returns its path.
var sidecarBin = sync.OnceValues(func() (string, error) {
	bin, cleanup, err := sidecartest.Build()
	if err == nil {
		removeBin = cleanup
	}
	return bin, err
})

// consoleConfig is a quick-start-like sidecar config with four tenants;
// the verbs are the rate-limit config directory and the quota's monthly
// limit.
const consoleConfig = `backend: memory
ratelimit:
  config: %s
  failure_mode: fail_open
metering:
  tenants:
    - {id: acme, plan: demo}
    - {id: beta, plan: demo}
    - {id: gamma, plan: demo}
    - {id: delta, plan: free}
  identification:
    - {path_prefix: /, api_key_header: x-api-key}
  plans:
    - name: demo
      quotas:
        - {name: monthly, requests_per_month: %d, time_zone: UTC}
    - name: free
  meters:
    - {name: requests, source: authz, value: requests, type: accurate, unit: request}
    - {name: egress_bytes, source: access_log, value: response_bytes, unit: byte}
`

// seed writes usage into the sidecar's Pebble store before it starts: every
// 7 hours over the last 45 days, acme 3, beta 5 and gamma 1 requests (delta
// none), and acme's quota counter for this month. It returns acme's requests
// this month.
func seed(t *testing.T, dataDir string, now time.Time) int64 {
	t.Helper()
	st, err := pebble.Open(pebble.Options{Dir: filepath.Join(dataDir, "events"), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	var evs []counter.Event
	var acmeMonth int64
	for i := 1; i < 45*24/7; i++ {
		at := now.Add(-time.Duration(i) * 7 * time.Hour)
		id := fmt.Sprintf("seed-%d", i)
		for _, u := range []struct {
			tenant string
			n      int64
		}{{"acme", 3}, {"beta", 5}, {"gamma", 1}} {
			evs = append(evs, counter.Event{Namespace: "requests", Counter: u.tenant, Time: at, ID: id, Delta: u.n})
		}
		if !at.Before(monthStart) {
			acmeMonth += 3
			evs = append(evs, counter.Event{Namespace: "tollgate_quota", Counter: "acme/monthly/" + monthStart.Format("2006-01"), Time: at, ID: id, Delta: 3})
		}
	}
	if err := st.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	return acmeMonth
}

// startSidecar builds the sidecar and serves it on loopback; with metering
// it seeds its store first. It returns the HTTP base URL and acme's
// requests this month.
func startSidecar(t *testing.T, metering bool) (string, int64) {
	t.Helper()
	bin, err := sidecarBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	rules := filepath.Join(sidecartest.RepoRoot, "examples/ratelimit")
	config := "backend: memory\nratelimit: {config: " + rules + "}\n"
	var acme int64
	if metering {
		acme = seed(t, data, time.Now().UTC().Truncate(time.Minute))
		// A limit that the month's rate so far may reach before it ends.
		config = fmt.Sprintf(consoleConfig, rules, max(2*acme, 100))
	}
	cfg := filepath.Join(dir, "sidecar.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := sidecartest.StartIn(t, bin, cfg, data)
	return "http://" + p.HTTP, acme
}

// decisionsJS reads the live decisions table as "domain code count; ...".
const decisionsJS = `Array.from(document.querySelectorAll("#decisions-table tbody tr")).map(r => Array.from(r.cells).slice(0, 3).map(c => c.textContent).join(" ")).join("; ")`

// decide asks the sidecar for one rate-limit decision, for one address of
// the quick-start domain.
func decide(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Post(base+"/json", "application/json",
		strings.NewReader(`{"domain":"quickstart","descriptors":[{"entries":[{"key":"remote_address","value":"10.0.0.1"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// getJSON decodes the answer of a GET.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// browser is a headless chromium tab that records console errors,
// warnings and uncaught exceptions.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions, failing the test on the first error.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is true.
func (b *browser) waitFor(t *testing.T, expr string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("waiting for %s: %v", expr, err)
	}
}

func (b *browser) screenshot(t *testing.T, path string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}

// pageSeries is window.tollgateConsole.lastSeries.
type pageSeries struct {
	Query              map[string]string `json:"query"`
	PreviousQuery      map[string]string `json:"previousQuery"`
	WindowStarts       []string          `json:"windowStarts"`
	Quantities         []*int64          `json:"quantities"`
	PreviousQuantities []int64           `json:"previousQuantities"`
}

type usageAnswer struct {
	Rows []struct {
		WindowStart string `json:"window_start"`
		Quantity    int64  `json:"quantity"`
	} `json:"rows"`
}

// checkSeries checks that the chart's lines are the usage API's answers to
// the same queries, for acme's requests in window and tz with rows windows
// in [minRows, maxRows]; this period's line stops at the windows not
// started yet.
func checkSeries(t *testing.T, base string, series pageSeries, window, tz string, minRows, maxRows int) {
	t.Helper()
	for _, c := range []struct {
		name  string
		q     map[string]string
		drawn []*int64
	}{{"current", series.Query, series.Quantities}, {"previous", series.PreviousQuery, ptrs(series.PreviousQuantities)}} {
		if c.q["meter"] != "requests" || c.q["tenant"] != "acme" || c.q["window"] != window || c.q["tz"] != tz {
			t.Fatalf("%s query = %v, want meter requests, tenant acme, window %s, tz %s", c.name, c.q, window, tz)
		}
		var api usageAnswer
		getJSON(t, base+"/v1/usage?"+query(c.q), &api)
		if len(api.Rows) != len(c.drawn) || len(api.Rows) < minRows || len(api.Rows) > maxRows {
			t.Fatalf("%s period: the page drew %d windows, /v1/usage answers %d, want %d to %d", c.name, len(c.drawn), len(api.Rows), minRows, maxRows)
		}
		total := int64(0)
		for i, r := range api.Rows {
			total += r.Quantity
			start, err := time.Parse(time.RFC3339, r.WindowStart)
			if err != nil {
				t.Fatal(err)
			}
			switch d := c.drawn[i]; {
			case d == nil && (c.name == "previous" || start.Before(time.Now())):
				t.Errorf("%s period, %s: the page drew nothing, /v1/usage answers %d", c.name, r.WindowStart, r.Quantity)
			case d != nil && *d != r.Quantity:
				t.Errorf("%s period, %s: the page drew %d, /v1/usage answers %d", c.name, r.WindowStart, *d, r.Quantity)
			case d == nil && r.Quantity != 0:
				t.Errorf("%s period, %s (not started): /v1/usage answers %d, want 0", c.name, r.WindowStart, r.Quantity)
			}
		}
		if c.name == "previous" && total == 0 {
			t.Errorf("the previous period has no usage: the seeded data should cover it")
		}
	}
}

func ptrs(v []int64) []*int64 {
	out := make([]*int64, len(v))
	for i := range v {
		out[i] = &v[i]
	}
	return out
}

func query(m map[string]string) string {
	v := url.Values{}
	for k, s := range m {
		v.Set(k, s)
	}
	return v.Encode()
}

// TestConsoleInBrowser loads /ui/ from a sidecar with seeded usage in
// headless chromium: no console errors, the chart draws the usage API's
// numbers for its query, the top tenants list the API's order, the quota
// shows the seeded count, the live view shows the decisions made, the page
// fits a phone's width, and screenshots are written.
func TestConsoleInBrowser(t *testing.T) {
	chromium := testenv.Addrs(t, testenv.Chromium)[0]
	base, acmeMonth := startSidecar(t, true)
	// Seven decisions on the quick-start domain (5 a minute per address):
	// 5 ok, 2 over_limit.
	for range 7 {
		decide(t, base)
	}

	b := newBrowser(t, chromium)
	b.do(t, chromedp.Navigate(base+"/ui/"))
	b.waitFor(t, `(() => { const c = window.tollgateConsole; return !!(c && c.lastSeries && c.lastTop && c.lastQuota && c.lastStats); })()`)
	series := eval[pageSeries](t, b, `window.tollgateConsole.lastSeries`)
	topTenants := eval[string](t, b, `Array.from(document.querySelectorAll("#top-table tbody tr td:nth-child(2)")).map(e => e.textContent).join(",")`)
	quotaUsed := eval[string](t, b, `document.querySelector("#quota-table tbody tr td:nth-child(2)").textContent`)
	runsOut := eval[string](t, b, `document.querySelector("#quota-table tbody tr td:nth-child(6)").textContent`)
	decisions := eval[string](t, b, decisionsJS)
	chartCanvas := eval[bool](t, b, `!!document.querySelector("#chart canvas")`)

	checkSeries(t, base, series, "day", "UTC", 28, 31)
	if !chartCanvas {
		t.Error("no chart canvas in #chart")
	}

	// The top tenants appear in the API's order.
	var top struct {
		Tenants []struct {
			Tenant string `json:"tenant"`
		} `json:"tenants"`
	}
	lastTopQuery := eval[map[string]any](t, b, `window.tollgateConsole.lastTop.query`)
	v := url.Values{}
	for k, s := range lastTopQuery {
		v.Set(k, fmt.Sprint(s))
	}
	getJSON(t, base+"/v1/usage/top?"+v.Encode(), &top)
	var apiOrder []string
	for _, r := range top.Tenants {
		apiOrder = append(apiOrder, r.Tenant)
	}
	if got := strings.Join(apiOrder, ","); topTenants != got || got != "beta,acme,gamma" {
		t.Errorf("top tenants: page lists %q, API answers %q, want beta,acme,gamma", topTenants, got)
	}

	if want := fmt.Sprint(acmeMonth); strings.ReplaceAll(quotaUsed, ",", "") != want {
		t.Errorf("quota used shows %q, want %s", quotaUsed, want)
	}
	// The run-out date moves with the clock: the page shows the answer it
	// got, and that answer has the API's count.
	type quotaAnswer struct {
		Quotas []struct {
			Used                int64      `json:"used"`
			ProjectedExhaustion *time.Time `json:"projected_exhaustion"`
		} `json:"quotas"`
	}
	var api quotaAnswer
	getJSON(t, base+"/v1/quota?tenant=acme", &api)
	got := eval[quotaAnswer](t, b, `window.tollgateConsole.lastQuota`)
	if got.Quotas[0].Used != api.Quotas[0].Used || (got.Quotas[0].ProjectedExhaustion == nil) != (api.Quotas[0].ProjectedExhaustion == nil) {
		t.Errorf("the page got quota %+v, /v1/quota answers %+v", got.Quotas[0], api.Quotas[0])
	}
	want := "lasts the month at this rate"
	if p := got.Quotas[0].ProjectedExhaustion; p != nil {
		want = p.UTC().Format("2006-01-02 15:04")
	}
	if runsOut != want {
		t.Errorf("quota runs out shows %q, want %q (from /v1/quota)", runsOut, want)
	}
	if want := "quickstart ok 5; quickstart over_limit 2"; decisions != want {
		t.Errorf("decisions table = %q, want %q", decisions, want)
	}

	// Live: three more decisions (over the limit now) show up at the next
	// poll (every 5 s).
	for range 3 {
		decide(t, base)
	}
	b.waitFor(t, decisionsJS+` === "quickstart ok 5; quickstart over_limit 5"`)

	shot := filepath.Join(os.TempDir(), "tollgate-console.png")
	b.screenshot(t, shot)
	t.Logf("screenshot written to %s", shot)

	// Hours of a day in a zone half an hour off UTC (with DST): the page's
	// bounds are hour boundaries there, and its lines equal the API's.
	if tz := eval[string](t, b, `(() => {
		document.getElementById("window").value = "hour";
		const tz = document.getElementById("tz");
		tz.value = "Australia/Adelaide";
		tz.dispatchEvent(new Event("change"));
		return tz.value;
	})()`); tz != "Australia/Adelaide" {
		t.Fatalf("the zone picker has no Australia/Adelaide (picked %q)", tz)
	}
	b.waitFor(t, `(() => { const s = window.tollgateConsole.lastSeries; return !!s && s.query.tz === "Australia/Adelaide" && s.query.window === "hour"; })()`)
	checkSeries(t, base, eval[pageSeries](t, b, `window.tollgateConsole.lastSeries`), "hour", "Australia/Adelaide", 23, 25)

	// Phone width: the page reflows to one column without sideways scrolling.
	b.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	if eval[bool](t, b, `window.dispatchEvent(new Event("resize")); document.documentElement.scrollWidth > window.innerWidth`) {
		t.Error("at 390 px wide the page scrolls sideways")
	}
	phone := filepath.Join(os.TempDir(), "tollgate-console-phone.png")
	b.screenshot(t, phone)
	t.Logf("phone-width screenshot written to %s", phone)

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestConsoleSendsToken puts an API that wants "Bearer s3cret" in front of
// the sidecar: without a token the page says 401 and what to do; with the
// token entered every API call carries it and the data shows.
func TestConsoleSendsToken(t *testing.T) {
	chromium := testenv.Addrs(t, testenv.Chromium)[0]
	base, _ := startSidecar(t, true)
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	seen := map[string]string{} // API path -> last Authorization header
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			mu.Lock()
			seen[r.URL.Path] = r.Header.Get("Authorization")
			mu.Unlock()
			if r.Header.Get("Authorization") == "Bearer weak" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"the token lacks the scope"}}`))
				return
			}
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated","message":"missing or bad token"}}`))
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer gate.Close()

	b := newBrowser(t, chromium)
	b.do(t, chromedp.Navigate(gate.URL+"/ui/"))
	b.waitFor(t, `!document.getElementById("auth").hidden && document.getElementById("query-msg").textContent !== ""`)
	banner := eval[string](t, b, `document.getElementById("auth").textContent`)
	queryMsg := eval[string](t, b, `document.getElementById("query-msg").textContent`)
	if want := "Not authorized (401) to read this data: enter a valid token in the Token field above (it is kept in this tab only)."; banner != want {
		t.Errorf("banner = %q, want %q", banner, want)
	}
	if want := "Not authorized (401) to read the meters and tenants"; !strings.HasPrefix(queryMsg, want) {
		t.Errorf("query message = %q, want it to start with %q", queryMsg, want)
	}

	// A token without the scope: 403, said as such.
	b.do(t,
		chromedp.SendKeys(chromedp.CSS("#token"), "weak"),
		chromedp.Click(chromedp.CSS("#token-save")),
	)
	b.waitFor(t, `document.getElementById("query-msg").textContent.startsWith("Forbidden")`)
	if got, want := eval[string](t, b, `document.getElementById("query-msg").textContent`), "Forbidden (403): the token may not read the meters and tenants; ask for a token with that scope."; got != want {
		t.Errorf("query message = %q, want %q", got, want)
	}

	b.do(t,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("token").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#token"), "s3cret"),
		chromedp.Click(chromedp.CSS("#token-save")),
	)
	b.waitFor(t, `(() => { const c = window.tollgateConsole; return !!(c.lastSeries && c.lastTop && c.lastQuota); })()`)
	if stored := eval[string](t, b, `sessionStorage.getItem("tollgate.console.token")`); stored != "s3cret" {
		t.Errorf("sessionStorage token = %q, want s3cret", stored)
	}
	if !eval[bool](t, b, `document.getElementById("auth").hidden`) {
		t.Error("the 401 banner still shows after a good token")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range []string{"/v1/catalog", "/v1/usage", "/v1/usage/top", "/v1/quota", "/v1/stats"} {
		if seen[p] != "Bearer s3cret" {
			t.Errorf("%s last sent Authorization %q, want Bearer s3cret", p, seen[p])
		}
	}
	// The browser logs each 401 and 403 answer as a failed load; nothing
	// else may show.
	for _, e := range b.consoleErrors() {
		if !strings.Contains(e, "status of 401") && !strings.Contains(e, "status of 403") {
			t.Errorf("page error: %s", e)
		}
	}
}

// TestConsoleEmptyStates: each view says what to do when it has nothing to
// show: a tenant without usage or quotas, an unknown tenant, and a sidecar
// without a metering section.
func TestConsoleEmptyStates(t *testing.T) {
	chromium := testenv.Addrs(t, testenv.Chromium)[0]
	text := func(b *browser, id string) string {
		return eval[string](t, b, `document.getElementById("`+id+`").hidden ? "(hidden)" : document.getElementById("`+id+`").textContent`)
	}
	pick := func(b *browser, tenant string) {
		eval[bool](t, b, `(() => {
			const el = document.getElementById("tenant");
			el.value = "`+tenant+`";
			el.dispatchEvent(new Event("change"));
			return true;
		})()`)
	}

	base, _ := startSidecar(t, true)
	b := newBrowser(t, chromium)
	b.do(t, chromedp.Navigate(base+"/ui/"))
	b.waitFor(t, `(() => { const c = window.tollgateConsole; return !!(c && c.lastSeries && c.lastQuota); })()`)
	pick(b, "delta")
	b.waitFor(t, `window.tollgateConsole.lastSeries.query.tenant === "delta" && window.tollgateConsole.lastQuota.tenant === "delta"`)
	if got, want := text(b, "usage-msg"), "No usage yet in this range: pick another period, tenant or meter. Usage appears once delta's requests are metered."; got != want {
		t.Errorf("usage message = %q, want %q", got, want)
	}
	if got, want := text(b, "quota-msg"), "Plan free has no monthly quotas: add quotas to the plan in the metering section to limit it."; got != want {
		t.Errorf("quota message = %q, want %q", got, want)
	}
	if eval[bool](t, b, `!!document.querySelector("#chart canvas")`) {
		t.Error("a chart is drawn for a tenant without usage")
	}
	pick(b, "zeta")
	b.waitFor(t, `!document.getElementById("usage-msg").textContent.startsWith("No usage")`)
	if got, want := text(b, "usage-msg"), `Unknown tenant "zeta": pick one from the list (tenants come from the metering section).`; got != want {
		t.Errorf("unknown tenant message = %q, want %q", got, want)
	}
	if got, want := text(b, "quota-msg"), "Pick a tenant to see its quotas."; got != want {
		t.Errorf("unknown tenant quota message = %q, want %q", got, want)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}

	bare, _ := startSidecar(t, false)
	nb := newBrowser(t, chromium)
	nb.do(t, chromedp.Navigate(bare+"/ui/"))
	nb.waitFor(t, `!document.getElementById("query-msg").hidden && !!window.tollgateConsole.lastStats`)
	for id, want := range map[string]string{
		"query-msg":     "No meters configured: add a metering section with meters to the sidecar config, then restart it.",
		"usage-msg":     "No meters configured: nothing to chart yet.",
		"top-msg":       "No meters configured: nothing to rank yet.",
		"quota-msg":     "(hidden)",
		"decisions-msg": "No rate-limit decisions yet: they appear once Envoy calls the rate-limit service.",
		"pipeline-msg":  "Metering is off: add a metering section to the sidecar config to meter usage.",
	} {
		if got := text(nb, id); got != want {
			t.Errorf("without metering, #%s = %q, want %q", id, got, want)
		}
	}
	if errs := nb.consoleErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
}
