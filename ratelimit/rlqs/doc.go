// Package rlqs serves Envoy's Rate Limit Quota Service: Envoys report how
// many requests each bucket allowed and denied, and Tollgate answers with
// the share of each global limit that each Envoy may admit by itself.
package rlqs
