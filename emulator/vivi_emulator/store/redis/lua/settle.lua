-- Settle a turn and record the request's journal entry, in one all-or-nothing step: keep the
-- turn (its exchange becomes the thread's last) or give it back, set the thread's
-- conversation, and append the entry; all of it dropped if the channel's generation ended (a
-- request of a deleted channel writes nothing; a thread of a channel re-created with the same
-- id is not this request's).
-- ARGV: [1] key prefix, [2] the thread's member (channel NUL thread; '' for none), [3] the
--       turn, [4] 'keep' or 'back', [5] message and [6] reply (kept), [7] the conversation:
--       'keep' (as it is), 'clear' or 'set', [8] its scenario and [9] first turn (for 'set'),
--       [10] entry JSON ('' for none), [11] journal size, [12] channel id, [13] generation
--       ('' for any), [14] the keys the request was checked against, 'epoch version' ('': not
--       asked): when they are no longer the store's, nothing is done and -3 answered (the
--       caller checks the request's key again).
-- A turn given back while a later one is open is marked ('x' .. turn) and goes when the turns
-- above it do, so a thread's turns have no gap but below a kept turn; marks below a kept turn
-- stay gaps, and are forgotten.
--
-- All or nothing (Redis does not undo a script's writes when it fails halfway): every read
-- that can fail on a value the emulator did not write comes before the first write, and of the
-- writes only the journal's can still fail (a stream at its last possible ID), so it goes
-- first, and its counter is put back when it does.
local p, member, mode = ARGV[1], ARGV[2], ARGV[4]
local entry, channel = ARGV[10], ARGV[12]
if ARGV[14] ~= '' then
  local keys = redis.call('HMGET', p .. 'meta', 'epoch', 'keys')
  if (keys[1] or '') .. ' ' .. (keys[2] or '0') ~= ARGV[14] then
    return -3
  end
end
if ARGV[13] ~= '' and redis.call('HGET', p .. 'gens', channel) ~= ARGV[13] then
  return 0
end
local function foreign(what)
  return redis.error_reply('WRONGTYPE the emulator did not write ' .. what)
end

-- Reads.
local thread, n, committed
if member ~= '' then
  thread = p .. 't:' .. member
  local th = redis.call('HMGET', thread, 'n', 'c')
  if th[1] then
    n, committed = tonumber(th[1]), tonumber(th[2] or '0')
    if n == nil or committed == nil then
      return foreign('the thread ' .. thread)
    end
  else
    thread = nil  -- expired, evicted or never opened: nothing to settle
  end
end
local journal, seq, last = p .. 'j', p .. 'j:seq', nil
if entry ~= '' then
  local kind = redis.call('TYPE', journal)['ok']
  last = redis.call('GET', seq)
  if (kind ~= 'stream' and kind ~= 'none') or (last and not tonumber(last)) then
    return foreign('the journal ' .. journal)
  end
end
if thread == nil and entry == '' then
  return 0
end

-- Writes: the journal's first.
if entry ~= '' then
  local id = redis.call('INCR', seq)
  -- 'c': the channel, so that a channel's entries are found without parsing each entry.
  local added = redis.pcall('XADD', journal, 'MAXLEN', ARGV[11], '*', 'i', id, 'c', channel,
    'e', entry)
  if type(added) == 'table' and added.err then
    if last then redis.call('SET', seq, last) else redis.call('DEL', seq) end
    return added
  end
end
if thread ~= nil then
  local turn = tonumber(ARGV[3])
  -- A kept turn older than the one kept last changes nothing; a turn given back may still
  -- change the conversation.
  local converse = mode ~= 'keep' or turn >= committed
  if mode == 'keep' then
    if turn >= committed then
      for k = committed + 1, math.min(turn - 1, committed + 1000) do
        redis.call('HDEL', thread, 'x' .. k)
      end
      redis.call('HSET', thread, 'c', turn, 'm', ARGV[5], 'r', ARGV[6])
    end
  elseif n == turn then
    n = n - 1
    while redis.call('HDEL', thread, 'x' .. n) == 1 do
      n = n - 1
    end
    redis.call('HSET', thread, 'n', n)
  elseif turn < n and turn > committed then
    redis.call('HSET', thread, 'x' .. turn, 1)
  end
  if converse and ARGV[7] == 'clear' then
    redis.call('HDEL', thread, 'cs', 'cf')
  elseif converse and ARGV[7] == 'set' then
    redis.call('HSET', thread, 'cs', ARGV[8], 'cf', ARGV[9])
  end
end
return 1
