package ratelimit

// This file turns counter outcomes into decisions: the failure mode when the
// backend fails, and the statuses and overall code otherwise.

import (
	"math"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// backendFailed counts and logs a backend error and fills the outcomes the
// failure mode gives.
func (s *Service) backendFailed(now time.Time, domain string, mode FailureMode, err error, sc *scratch) decision {
	s.metrics.backendErrors.Inc()
	last := s.lastErrLog.Load()
	if n := now.UnixNano(); n-last >= int64(time.Second) && s.lastErrLog.CompareAndSwap(last, n) {
		s.log.Warn("counter backend failed", "domain", domain, "failure_mode", mode.String(), "err", err)
	}
	for j := range sc.outs {
		if mode == FailClosed {
			sc.outs[j] = counter.Outcome{Used: sc.hits[j].Limit, Allowed: false}
		} else {
			sc.outs[j] = counter.Outcome{Allowed: true}
		}
	}
	if mode == FailClosed {
		return decisionFailClosed
	}
	return decisionFailOpen
}

// decide turns outcomes into statuses and the overall code, with
// envoyproxy's rules for shadow and quota mode.
func (s *Service) decide(ds *domainState, req *Request, sc *scratch, resp *Response, d decision) decision {
	failed, quotaTotal, quotaFailed := 0, 0, 0
	shadowed := false
	for i := range sc.descs {
		st := &sc.descs[i]
		if st.unlimited {
			resp.Statuses = append(resp.Statuses, DescriptorStatus{Code: CodeOK, LimitRemaining: math.MaxUint32})
			continue
		}
		if st.hits[0] == st.hits[1] {
			resp.Statuses = append(resp.Statuses, DescriptorStatus{Code: CodeOK})
			continue
		}
		status, over := pickStatus(sc, st.hits[0], st.hits[1])
		leaf := st.leaf
		result := resultOK
		if over {
			result = resultOverLimit
			if leaf != nil && leaf.shadowMode {
				status.Code = CodeOK
				result = resultShadowOverLimit
				shadowed = true
			}
		}
		if leaf != nil && leaf.quotaMode {
			status.QuotaMode = true
			quotaTotal++
			if status.Code == CodeOverLimit {
				quotaFailed++
			}
		} else if status.Code == CodeOverLimit {
			failed++
		}
		if leaf != nil && leaf.detailedMetric {
			s.countRule(ds, leaf, req.Descriptors[i].Entries, sc.levels[st.levels[0]:st.levels[1]], result, st.addend)
		}
		resp.Statuses = append(resp.Statuses, status)
	}
	resp.OverallCode = CodeOK
	if failed > 0 || (quotaTotal > 0 && quotaTotal == quotaFailed) {
		resp.OverallCode = CodeOverLimit
		if s.opts.GlobalShadowMode {
			resp.OverallCode = CodeOK
			shadowed = true
		}
	}
	switch {
	case d != decisionOK:
		return d
	case resp.OverallCode == CodeOverLimit:
		return decisionOverLimit
	case shadowed:
		return decisionShadowOverLimit
	}
	return decisionOK
}

// pickStatus returns the tightest status among the hits [from, to) of one
// descriptor, by the rule of Tighter, and whether it is over the limit.
func pickStatus(sc *scratch, from, to int) (DescriptorStatus, bool) {
	var best DescriptorStatus
	for j := from; j < to; j++ {
		o, l := &sc.outs[j], sc.hitLimits[j]
		st := DescriptorStatus{Code: CodeOK, CurrentLimit: &l.info, DurationUntilReset: o.ResetAfter}
		if !o.Allowed {
			st.Code = CodeOverLimit
		} else if o.Used < uint64(l.info.RequestsPerUnit) {
			st.LimitRemaining = l.info.RequestsPerUnit - uint32(o.Used)
		}
		if j == from || Tighter(&st, &best) {
			best = st
		}
	}
	return best, best.Code == CodeOverLimit
}

// countRule counts hits on a detailed_metric rule.
func (s *Service) countRule(ds *domainState, leaf *node, entries []Entry, levels []levelMatch, result ruleResult, hits uint64) {
	if rc := ds.rules[leaf.id]; rc != nil {
		rc[result].Add(float64(hits))
		return
	}
	s.metrics.ruleHits.WithLabelValues(ds.dc.name, ruleLabel(entries, levels), resultNames[result]).Add(float64(hits))
}
