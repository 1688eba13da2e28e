-- wrk script: POST pre-signed LINE webhook bodies, each sent once.
-- usage: wrk -s bench/wrk_bodies.lua URL -- BODIES_FILE NTHREADS
-- BODIES_FILE: one "signature<TAB>body" per line. Thread k sends lines k, k+N, ... and stops
-- when its share is used up, so no body is sent twice (every request is a distinct event).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  bodies, sigs = {}, {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local tab = line:find("\t", 1, true)
      sigs[#sigs + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    i = i + 1
  end
  counter = 1
end

function request()
  local n = counter
  if n > #bodies then n = #bodies end
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json; charset=utf-8",
                                  ["x-line-signature"] = sigs[n]}, bodies[n])
end

function response(status, headers, body)
  if counter > #bodies then wrk.thread:stop() end
end
