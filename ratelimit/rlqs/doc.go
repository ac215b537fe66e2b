// Package rlqs serves Envoy's Rate Limit Quota Service: Envoys report how
// many requests each bucket allowed and denied, and Tollgate answers with
// the share of each global limit that each Envoy may admit by itself.
//
// # Model
//
// A bucket id (a map) is matched against the rate-limit config as an
// order-free descriptor (ratelimit.Config.MatchBucket); each limit of the
// matched entry is a pool, named like the RLS counter of the same
// descriptor. A Stream is one Envoy's gRPC stream; its buckets join the
// pools they draw from. Every report updates each bucket's demand (allowed
// plus denied per second, smoothed) and publishes it, and a quota's
// admissions, to the best-effort backend, so replicas sharing Redis see
// every replica's totals. The pools of the reported buckets are then
// divided again (fairShares: max-min fair by demand, headroom and floor)
// and each bucket's action is its tightest grant: a token bucket for rates,
// a share of what is left for windows of an hour or more (quotas), DENY_ALL
// when a quota is spent, ALLOW_ALL without a limit or in shadow mode.
// Reported buckets are always answered (refreshing Envoy's time to live);
// other streams' buckets are pushed only when their action changes by more
// than 10% (Envoy refills a bucket whose settings change).
//
// Server.Run applies config changes and abandons buckets idle for
// IdleAfter; a closed stream's buckets leave their pools at once.
package rlqs
