package global

import "sync"

// memCounts holds the counts of the BestEffort namespaces.
type memCounts struct {
	mu sync.Mutex
	m  map[key]int64
}

// add adds delta to k and returns the new count; when the count would
// overflow, ok is false, nothing changes and count is the current count.
func (m *memCounts) add(k key, delta int64) (count int64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.m[k]
	count, ok = addChecked(cur, delta)
	if !ok {
		return cur, false
	}
	m.m[k] = count
	return count, true
}

// get returns the count of k.
func (m *memCounts) get(k key) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[k]
}

// clear resets k to 0.
func (m *memCounts) clear(k key) {
	m.mu.Lock()
	delete(m.m, k)
	m.mu.Unlock()
}
