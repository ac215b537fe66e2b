// Package ratelimit decides Envoy ShouldRateLimit requests against
// envoyproxy/ratelimit YAML config, read as-is, plus Tollgate's extensions.
//
// # Config
//
// LoadConfig reads one file, or every top-level *.yaml and *.yml entry of a
// directory (dotfiles and subdirectories skipped, symlinks followed, so a
// Kubernetes ConfigMap mount works). Each file holds one domain:
//
//	domain: edge
//	descriptors:
//	  - key: remote_address          # no value: one counter per address
//	    rate_limit: {unit: second, requests_per_unit: 10}
//	  - key: path
//	    value: "/api/*"              # wildcard: '*' matches any run of bytes
//	    share_threshold: true        # all matching paths share one counter
//	    rate_limit: {unit: minute, requests_per_unit: 600, name: api}
//	  - key: tenant
//	    value: acme
//	    descriptors:
//	      - key: user
//	        rate_limits:             # extension: several limits, all enforced
//	          - {unit: minute, requests_per_unit: 100, algorithm: sliding_window}
//	          - {window: 30s, requests_per_unit: 60, algorithm: token_bucket}
//
// Descriptor keys: key, value, rate_limit, rate_limits, descriptors,
// shadow_mode, quota_mode, detailed_metric, value_to_metric,
// share_threshold, metadata (accepted and not used yet). rate_limit keys: unit (second, minute, hour,
// day, week, month = 30 days, year = 365 days), requests_per_unit, unlimited,
// name, replaces (a list of {name}), and the extensions algorithm
// (fixed_window, the default, sliding_window, token_bucket) and window (a Go
// duration of whole seconds, used instead of unit; Envoy is told the longest
// unit not longer than the window). Unknown keys and every other mistake are
// reported together as ConfigErrors, one "file:line:col: path: message
// (hint)" each, such as "descriptors[0].rate_limit.unit" for the path.
//
// # Matching
//
// Each request descriptor walks its domain's tree one entry at a time, as
// envoyproxy/ratelimit does. At each level it takes the entry with the same
// key and value, else the first wildcard value of that key (in config order)
// that matches, else the key's entry without a value. A wildcard entry that
// matches but has no limit and no children ends the walk: it does not fall
// back to the default entry. Limits apply only when the request has exactly
// as many entries as the depth of the matched config entry. Unlike
// envoyproxy, keys and values are never joined with "_" for lookup, so key
// "a_b" value "c" and key "a" value "b_c" are different descriptors.
//
// A descriptor's Limit override replaces the configured limit, or creates
// one where none matches, in configured domains; it never has shadow or
// quota mode. A rate_limit with a name is dropped when any descriptor of the
// same request matches a rate_limit that replaces that name. An
// unlimited rule answers OK with LimitRemaining MaxUint32 and no counter.
//
// # Counting
//
// Each applicable limit becomes one counter.Hit, and the whole request is
// one Counter.Apply call. A counter key holds the domain, each request entry
// (the wildcard pattern instead of the value where share_threshold applies),
// and the limit's requests, window and algorithm, each variable part length
// prefixed so distinct descriptors never collide. Entries matched through a
// value-less key or a wildcard thus count each value apart. Windows are
// aligned to the Unix epoch by the backend. A descriptor's hits are its own
// HitsAddend when set (zero checks without consuming), else the request's
// (zero means one).
//
// # Decisions
//
// A descriptor is OVER_LIMIT when any of its limits is; its status reports
// its tightest limit by the rule of Tighter (over the limit, then fewest
// remaining, then longest reset). The RateLimit-* headers of both Envoy
// paths describe the tightest descriptor by the same rule (Tightest),
// formatted by FormatLimit and FormatSeconds. shadow_mode rules
// turn their OVER_LIMIT into OK. quota_mode descriptors report OVER_LIMIT
// and are flagged QuotaMode, but make the overall code OVER_LIMIT only when
// every quota descriptor of the request is over. The overall code is
// OVER_LIMIT when any other descriptor is; Options.GlobalShadowMode then
// turns it into OK, keeping the descriptor statuses. When the backend fails,
// FailOpen answers OK and FailClosed OVER_LIMIT for every limited
// descriptor.
//
// # Metrics
//
// tollgate_ratelimit_decisions_total{domain,code} counts requests by
// configured domain (or "unknown") and code: ok, over_limit,
// shadow_over_limit, fail_open, fail_closed.
// tollgate_ratelimit_backend_errors_total counts backend failures.
// tollgate_ratelimit_rule_hits_total{domain,rule,result} counts hits on
// rules with detailed_metric only: rule is the config path
// ("tenant_acme.user"), with the request's value at levels that have
// value_to_metric, so its cardinality is the config author's choice. Watch
// adds tollgate_config_reloads_total{result} and
// tollgate_config_last_reload_success_timestamp_seconds.
//
// # Reload
//
// Watch reloads on file changes and hands each valid Config to OnLoad,
// typically Service.SetConfig, which swaps it in atomically; an invalid one
// is logged and counted and the old config stays.
package ratelimit
