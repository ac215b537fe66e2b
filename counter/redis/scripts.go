package redis

// The scripts take KEYS[1] and ARGV = now (µs since the Unix epoch), window
// (µs), limit, hits, and return {used, allowed (0/1), reset after (µs)}.
// Numbers written back are formatted explicitly so they round-trip exactly.

// slidingScript keeps the hash {s: window start, c: count in it, p: count in
// the window before}.
const slidingScript = `
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local hits = tonumber(ARGV[4])
local ws = now - (now % win)
local st = redis.call('HMGET', KEYS[1], 's', 'c', 'p')
local s = tonumber(st[1])
local cur, prev = 0, 0
if s then
  if s == ws then
    cur, prev = tonumber(st[2]) or 0, tonumber(st[3]) or 0
  elseif s == ws - win then
    prev = tonumber(st[2]) or 0
  elseif s > ws then
    ws, cur, prev = s, tonumber(st[2]) or 0, tonumber(st[3]) or 0
  end
end
local elapsed = now - ws
if elapsed < 0 then elapsed = 0 end
local est = prev * (win - elapsed) / win + cur
local allowed = 0
if est + hits <= limit then
  allowed = 1
  if hits > 0 then
    est = est + hits
    redis.call('HSET', KEYS[1], 's', string.format('%d', ws), 'c', string.format('%d', cur + hits), 'p', string.format('%d', prev))
    redis.call('PEXPIRE', KEYS[1], string.format('%d', math.ceil((ws + 2 * win - now) / 1000)))
  end
end
local used = 0
if est > 1e-9 then used = math.ceil(est - 1e-9) end
return {used, allowed, ws + win - now}
`

// bucketScript keeps the hash {t: tokens, l: last refill}.
const bucketScript = `
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local hits = tonumber(ARGV[4])
local st = redis.call('HMGET', KEYS[1], 't', 'l')
local tokens, last = tonumber(st[1]), tonumber(st[2])
if tokens == nil or last == nil then
  tokens, last = limit, now
elseif now > last then
  tokens = math.min(limit, tokens + (now - last) * limit / win)
  last = now
end
local allowed = 0
if hits <= tokens then allowed = 1 end
local take = allowed == 1 and hits > 0
if take then tokens = tokens - hits end
local missing = limit - tokens
local full = 0
if limit > 0 and missing > 0 then full = math.ceil(missing * win / limit - 1e-6) end
if take then
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'l', string.format('%d', last))
  redis.call('PEXPIRE', KEYS[1], string.format('%d', math.ceil((last + full - now) / 1000) + 1))
end
local used = 0
if missing > 1e-9 then used = math.ceil(missing - 1e-9) end
return {used, allowed, last + full - now}
`
