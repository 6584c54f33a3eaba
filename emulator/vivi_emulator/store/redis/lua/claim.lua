-- Claim a queued reply by its id: exactly one caller gets 1; 0 when it waits no more (claimed,
-- cleared). Refused (-1) if the claiming request's channel generation ended.
-- KEYS: the scope's list of ids, its hash of replies, generations hash.
-- ARGV: reply id, the claiming request's channel ('' for none), its generation ('' for any).
if ARGV[3] ~= '' and ARGV[2] ~= '' and redis.call('HGET', KEYS[3], ARGV[2]) ~= ARGV[3] then
  return -1
end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
