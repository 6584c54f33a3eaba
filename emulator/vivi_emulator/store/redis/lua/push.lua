-- Queue a reply, within the bound, in one step: nothing is pushed past it.
-- KEYS: the scope's list of reply ids, its hash of replies (id -> JSON). ARGV: id, JSON, bound.
-- Returns how many wait in the scope, or -1 when the queue is full.
local length = redis.call('LLEN', KEYS[1])
if length >= tonumber(ARGV[3]) then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return redis.call('RPUSH', KEYS[1], ARGV[1])
