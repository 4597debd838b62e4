-- Settle one finished request in a limit scope: the Redis twin of `limits::settle` in
-- src/limits/mod.rs. Its tokens go into each rule's current window; a release (the request
-- never reached an origin) gives its request back, but only in the window that counted it.
--
-- KEYS[i]  the hash of rule i's current window (fields r = requests, t = tokens)
-- ARGV[1]  tokens to add
-- ARGV     then per rule i, two values: 1 to release in this window (0 otherwise), and the
--          key's time to live in ms
local tokens = tonumber(ARGV[1])
for i = 1, #KEYS do
  local release = ARGV[2 * i] == '1'
  local touched = false
  if tokens > 0 then
    redis.call('HINCRBY', KEYS[i], 't', tokens)
    touched = true
  end
  -- Never below zero (a window that expired and came back empty has nothing to give back).
  if release and (tonumber(redis.call('HGET', KEYS[i], 'r')) or 0) > 0 then
    redis.call('HINCRBY', KEYS[i], 'r', -1)
    touched = true
  end
  if touched then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])
  end
end
return 1
