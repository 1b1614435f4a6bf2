"""Lua scripts that make check-and-reserve atomic in Redis, across every gateway.

Redis runs a script to the end before any other command, so N gateways sending 50 requests
at once see the counters one request at a time: rpm=10 admits exactly 10. Time is the Redis
server's (`TIME`), so gateways with skewed clocks agree.

`KEYS[i]` is check i's counter. The checks themselves travel as one string argument, four
whole numbers per check: "kind capacity need extra …" with kind `r` (rate), `b` (budget) or `c`
(slot), need replaced by the delta for settle, and extra the refill period (rate, ms) or the
window's end (budget, unix ms). One string instead of 4 arguments per check: packing arguments
is most of a call's client-side cost. Levels go back as strings: Lua numbers returned to
Redis would be truncated to integers, and one string parses faster than a list: "1 3 0.5 …" is
admitted (1 or 0), then what each counter held.

Counter layouts:
- rate: hash {l = level, t = written at (ms)}; expires when it has drained (idle = full).
- budget: integer; expires an hour after its window ends.
- slot: sorted set of lease ids scored by their expiry (ms); expired leases are dropped
  before counting, so a gateway that died mid-request frees its slots after the lease.
"""

from __future__ import annotations

# The checks from their string, and the server's clock in ms.
_SPEC = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local kinds, caps, needs, extras = {}, {}, {}, {}
local n = 0
for kind, cap, need, extra in string.gmatch(SPEC, '(%a) (%-?%d+) (%-?%d+) (%-?%d+)') do
  n = n + 1
  kinds[n], caps[n], needs[n], extras[n] = kind, tonumber(cap), tonumber(need), tonumber(extra)
end
"""

# Shared by acquire and peek: what check i's counter holds now, into used[i].
_READ = (
    _SPEC
    + """
local used = {}
local ok = true
for i = 1, #KEYS do
  local kind, cap, need, extra = kinds[i], caps[i], needs[i], extras[i]
  local u = 0
  if kind == 'r' then
    local s = redis.call('HMGET', KEYS[i], 'l', 't')
    if s[1] then
      u = tonumber(s[1]) - math.max(now - tonumber(s[2]), 0) * cap / extra
      if u < 0 then u = 0 end
    end
  elseif kind == 'b' then
    u = tonumber(redis.call('GET', KEYS[i]) or '0')
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    u = redis.call('ZCARD', KEYS[i])
  end
  used[i] = u
  if u + need > cap then ok = false end
end
local reply = {ok and '1' or '0'}
for i = 1, #KEYS do reply[i + 1] = tostring(used[i]) end
reply = table.concat(reply, ' ')
"""
)

# ARGV: lease id, lease ttl (ms), the checks. Reserves only if every check passes.
ACQUIRE = (
    "local SPEC = ARGV[3]\n"
    + _READ
    + """
if not ok then return reply end
local lease, ttl = ARGV[1], tonumber(ARGV[2])
for i = 1, #KEYS do
  local kind, cap, need, extra = kinds[i], caps[i], needs[i], extras[i]
  if kind == 'r' then
    local level = used[i] + need
    redis.call('HSET', KEYS[i], 'l', tostring(level), 't', now)
    redis.call('PEXPIRE', KEYS[i], math.ceil(level * extra / cap) + 1000)
  elseif kind == 'b' then
    redis.call('INCRBY', KEYS[i], need)
    redis.call('PEXPIREAT', KEYS[i], extra + 3600000)
  else
    redis.call('ZADD', KEYS[i], now + ttl, lease)
    redis.call('PEXPIRE', KEYS[i], ttl * 2)
  end
end
return reply
"""
)

# ARGV: the checks (need 0). Writes nothing but the removal of expired leases.
PEEK = "local SPEC = ARGV[1]\n" + _READ + "\nreturn reply\n"

# ARGV: lease id, the checks with their deltas in the `need` place.
SETTLE = (
    "local SPEC = ARGV[2]\n"
    + _SPEC
    + """
local lease = ARGV[1]
for i = 1, #KEYS do
  local kind, cap, delta, extra = kinds[i], caps[i], needs[i], extras[i]
  if kind == 'c' then
    redis.call('ZREM', KEYS[i], lease)
  elseif delta ~= 0 and kind == 'r' then
    local s = redis.call('HMGET', KEYS[i], 'l', 't')
    local level = 0
    if s[1] then
      level = tonumber(s[1]) - math.max(now - tonumber(s[2]), 0) * cap / extra
      if level < 0 then level = 0 end
    end
    level = level + delta
    if level > 0 then
      redis.call('HSET', KEYS[i], 'l', tostring(level), 't', now)
      redis.call('PEXPIRE', KEYS[i], math.ceil(level * extra / cap) + 1000)
    else
      redis.call('DEL', KEYS[i])
    end
  elseif delta ~= 0 and kind == 'b' then
    -- A window that ended meanwhile (its key expired) stays ended: never recreate it.
    if redis.call('EXISTS', KEYS[i]) == 1 then
      if redis.call('INCRBY', KEYS[i], delta) < 0 then
        redis.call('SET', KEYS[i], 0, 'KEEPTTL')
      end
    end
  end
end
return 1
"""
)

# KEYS[i]: the slot set of lease i; ARGV: lease ttl (ms), then the lease ids. Pushes the
# expiry of leases still held; one that already expired is not brought back.
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], ttl * 2)
end
return 1
"""
