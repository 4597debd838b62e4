-- One lease call for a limit scope: the Redis twin of `limits::sync` in src/limits/mod.rs.
-- Gives back unused requests of earlier leases (in this window only), adds finished answers'
-- tokens, then grants up to `want` requests, counted at once in every rule or in none. Redis
-- runs a script alone, so N isolates racing for the last M requests get exactly M in total.
--
-- KEYS[i]  the hash of rule i's current window (fields r = requests, t = tokens)
-- ARGV[1]  want (0: settle only)    ARGV[2] tokens to add    ARGV[3] fair share divisor
-- ARGV     then per rule i, five values: max requests, max tokens (-1 = no limit), requests
--          given back in this window, the key's time to live in ms (until its window ends,
--          plus slack), and the tokens each granted request reserves (budgets; 0 for limits)
-- returns  {granted, r1, t1, r2, t2, ...}: each window's counts after the give-backs and
--          tokens, BEFORE the grant, from which the caller rebuilds the full decision with the
--          same pure function the Durable Object uses (states, headers, retry-after)
local want = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local share = tonumber(ARGV[3])
local n = #KEYS
local counts = {}
local granted = want
local blocked = false
for i = 1, n do
  local a = 3 + 5 * (i - 1)
  local v = redis.call('HMGET', KEYS[i], 'r', 't')
  local back = tonumber(ARGV[a + 3])
  local reserve = tonumber(ARGV[a + 5])
  -- Never below zero (a window that expired and came back empty has nothing to give back).
  local r = math.max(0, (tonumber(v[1]) or 0) - back)
  local t = math.max(0, (tonumber(v[2]) or 0) - back * reserve) + tokens
  counts[2 * i - 1] = r
  counts[2 * i] = t
  local max_r = tonumber(ARGV[a + 1])
  local max_t = tonumber(ARGV[a + 2])
  if (max_r >= 0 and r >= max_r) or (max_t >= 0 and t >= max_t) then
    blocked = true
  else
    if max_r >= 0 then
      granted = math.min(granted, math.max(1, math.floor((max_r - r) / share)))
    end
    if max_t >= 0 and reserve > 0 then
      granted = math.min(granted, math.max(1, math.floor(math.floor((max_t - t) / reserve) / share)))
    end
  end
end
if blocked then
  granted = 0
end
for i = 1, n do
  local a = 3 + 5 * (i - 1)
  if granted > 0 or tokens > 0 or tonumber(ARGV[a + 3]) > 0 then
    redis.call('HSET', KEYS[i], 'r', counts[2 * i - 1] + granted, 't', counts[2 * i] + granted * tonumber(ARGV[a + 5]))
    redis.call('PEXPIRE', KEYS[i], ARGV[a + 4])
  end
end
local out = {granted}
for i = 1, 2 * n do
  out[i + 1] = counts[i]
end
return out
