-- Free a stream's rate-limit slot (its stream ended). A step of its own, not a MULTI
-- transaction: batched with the step that settles the stream's turn (exchange.py starts both
-- together), it costs no round trip of its own.
-- ARGV: key prefix, channel id, slot name.
local p, channel = ARGV[1], ARGV[2]
redis.call('ZREM', p .. 'rsx:' .. channel, ARGV[3])
redis.call('ZREM', p .. 'rse:' .. channel, ARGV[3])
return 1
