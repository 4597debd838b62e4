-- Publish a routing-snapshot version in Redis (backend.cache = redis), or only move the version
-- pointer (ARGV[2] empty: the copies went to KV, but isolates polling Redis must still learn of
-- the new version). Atomic, and the pointer and the current copy never go backwards, so a
-- slow publisher of an older version cannot hide a newer one.
--
-- KEYS[1] version pointer   KEYS[2] current copy   KEYS[3] this version's copy
-- ARGV[1] version           ARGV[2] snapshot JSON or ''   ARGV[3] TTL of the versioned copy (s)
-- returns the pointer after the call
local v = tonumber(ARGV[1])
local pointer = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
  if v >= pointer then
    redis.call('SET', KEYS[2], ARGV[2])
  end
end
if v > pointer then
  redis.call('SET', KEYS[1], ARGV[1])
  return v
end
return pointer
