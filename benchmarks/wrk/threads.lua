-- wrk script: invoke with a new threadId on every request; after N responses, print
-- "threads-done <responses> non2xx <count>" and end wrk at once (wrk itself would wait for its
-- -d duration). Run it with -t1 (benchmarks/README.md, "threads"). Arguments after `--`: N, and a
-- tag (0-65535) that keeps one run's thread ids apart from another run's: 8 hex digits of the wrk
-- thread, 4 of the tag, then a counter, in the RFC 4122 text form the emulator requires.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["vivi-api-key"] = "demo-key"

local next_id = 1

function setup(thread)
  thread:set("wrk_thread", next_id)
  next_id = next_id + 1
end

function init(args)
  total = tonumber(args[1]) or 1000
  tag = tonumber(args[2]) or 0
  sent, done, non2xx = 0, 0, 0
end

function request()
  sent = sent + 1
  local id = string.format("%08x-%04x-4000-8000-%012x", wrk_thread, tag, sent)
  return wrk.format(nil, nil, nil, '{"message": "hello", "threadId": "' .. id .. '"}')
end

function response(status, headers, body)
  done = done + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  if done >= total then
    io.write(string.format("threads-done %d non2xx %d\n", done, non2xx))
    io.flush()
    os.exit(0)
  end
end
