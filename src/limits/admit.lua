-- Admit one request against every rule of a limit scope, all or nothing: the Redis twin of
-- `limits::admit` in src/limits/mod.rs. Redis runs a script alone, so check-and-count is
-- atomic and N concurrent requests against a limit of M admit exactly M.
--
-- KEYS[i]  the hash of rule i's current window (fields r = requests, t = tokens)
-- ARGV     per rule i, three values: max requests, max tokens (-1 = no limit), and the key's
--          time to live in ms (until its window ends, plus slack)
-- returns  {admitted (1 or 0), r1, t1, r2, t2, ...}: each window's counts BEFORE this request,
--          from which the caller rebuilds the full decision with the same pure function the
--          Durable Object uses (headers, retry-after)
local n = #KEYS
local counts = {}
local admitted = 1
for i = 1, n do
  local v = redis.call('HMGET', KEYS[i], 'r', 't')
  local r = tonumber(v[1]) or 0
  local t = tonumber(v[2]) or 0
  counts[2 * i - 1] = r
  counts[2 * i] = t
  local max_r = tonumber(ARGV[3 * i - 2])
  local max_t = tonumber(ARGV[3 * i - 1])
  if (max_r >= 0 and r >= max_r) or (max_t >= 0 and t >= max_t) then
    admitted = 0
  end
end
if admitted == 1 then
  for i = 1, n do
    redis.call('HINCRBY', KEYS[i], 'r', 1)
    redis.call('PEXPIRE', KEYS[i], ARGV[3 * i])
  end
end
local out = {admitted}
for i = 1, 2 * n do
  out[i + 1] = counts[i]
end
return out
