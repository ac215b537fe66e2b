package pebble

import (
	"encoding/binary"
	"time"
)

// Keyspace prefixes. Each keyspace starts with its own byte so a range scan of
// one never touches another.
const (
	spaceEvents     byte = 'e'
	spaceCheckpoint byte = 'c'
	spaceLastWrite  byte = 'w'
)

// Escaping of a name part: 0x00 is written as 0x00 0xff, and a part ends with
// 0x00 0x01. The encoding preserves byte order and is prefix-free, so
// ("a", "bc") and ("ab", "c") never share a key prefix.
const (
	escByte     byte = 0x00
	escEscaped  byte = 0xff
	escTerminal byte = 0x01
)

// timeLen is the length of an encoded time: 8 bytes of Unix seconds with the
// sign bit flipped, then 4 bytes of nanoseconds, both big-endian, so byte order
// is time order for every time.Time, including the zero time.
const timeLen = 12

// eventValueLen is the length of an event value: one kind byte and the
// big-endian delta.
const eventValueLen = 9

// Event kinds stored in the first byte of an event value.
const (
	kindAdd   byte = 0
	kindClear byte = 1
)

// checkpointValueLen is the length of a checkpoint value: the encoded At,
// then the big-endian count.
const checkpointValueLen = timeLen + 8

// appendPart appends the escaped, terminated name part s to dst.
func appendPart(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		dst = append(dst, c)
		if c == escByte {
			dst = append(dst, escEscaped)
		}
	}
	return append(dst, escByte, escTerminal)
}

// partLen returns the length of appendPart's output for s.
func partLen(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		if s[i] == escByte {
			n++
		}
	}
	return n
}

// appendCounterKey appends the key prefix of a counter in keyspace space.
func appendCounterKey(dst []byte, space byte, namespace, counterName string) []byte {
	dst = append(dst, space)
	dst = appendPart(dst, namespace)
	return appendPart(dst, counterName)
}

// counterKeyLen returns the length of appendCounterKey's output.
func counterKeyLen(namespace, counterName string) int {
	return 1 + partLen(namespace) + partLen(counterName)
}

// appendTime appends the order-preserving encoding of t.
func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
}

// decodeTime decodes the first timeLen bytes of b, which must be that long.
func decodeTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:]))).UTC()
}

// eventKeyBound returns the events key prefix of the counter followed by the
// encoding of t: every event of the counter with Time < t sorts before it and
// every event with Time >= t at or after it.
func eventKeyBound(namespace, counterName string, t time.Time) []byte {
	k := make([]byte, 0, counterKeyLen(namespace, counterName)+timeLen)
	return appendTime(appendCounterKey(k, spaceEvents, namespace, counterName), t)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
// The counter prefixes end in escTerminal (0x01), so incrementing the last
// byte never carries.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	end[len(end)-1]++
	return end
}

// decodePart decodes one escaped name part from the front of b and returns it
// with the rest of b; ok is false when b holds no complete part.
func decodePart(b []byte) (part string, rest []byte, ok bool) {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != escByte {
			continue
		}
		if i+1 >= len(b) {
			return "", nil, false
		}
		out = append(out, b[:i]...)
		switch b[i+1] {
		case escTerminal:
			return string(out), b[i+2:], true
		case escEscaped:
			out = append(out, escByte)
			b = b[i+2:]
			i = -1
		default:
			return "", nil, false
		}
	}
	return "", nil, false
}

// decodeCounterKey decodes the namespace and counter name of a counter key
// (without its keyspace byte).
func decodeCounterKey(b []byte) (namespace, counterName string, ok bool) {
	namespace, b, ok = decodePart(b)
	if !ok {
		return "", "", false
	}
	counterName, b, ok = decodePart(b)
	return namespace, counterName, ok && len(b) == 0
}
