-- Put before every scenario script: a seed per wrk thread (so threads do not replay the
-- same requests), the list of threads for done(), per-thread counters, and the helpers
-- the scenarios share. A scenario script defines init() and request(), and may define
-- response(); it must not define setup() or done().
local next_seed = tonumber(os.getenv("DBBENCH_SEED") or "1")
threads = {}

function setup(thread)
  thread:set("seed", next_seed)
  next_seed = next_seed + 1
  table.insert(threads, thread)
end

max_id = tonumber(os.getenv("DBBENCH_MAX_ID") or "1000")
max_post_id = tonumber(os.getenv("DBBENCH_MAX_POST_ID") or "0")  -- post ids are 1..posts
queries_n = tonumber(os.getenv("DBBENCH_QUERIES") or "20")  -- lookups per /queries request
sent = {}      -- requests made, by kind (a mix counts each kind)
statuses = {}  -- responses, by status code (only where the script defines response())

function count(counter, key)
  counter[key] = (counter[key] or 0) + 1
end

-- A counter as a JSON object: {"200": 12, "404": 1}.
function counts_json(counter)
  local parts = {}
  for key, value in pairs(counter) do
    table.insert(parts, string.format('"%s": %d', tostring(key), value))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- The seeded usernames, one per line, in id order (the runner writes the file).
function read_usernames()
  local names = {}
  local path = os.getenv("DBBENCH_USERNAMES")
  assert(path, "DBBENCH_USERNAMES is not set")
  for line in io.lines(path) do
    names[#names + 1] = line
  end
  return names
end

-- A PATCH with a bio never sent before, so that every edit really changes the row, and
-- about as long as a seeded bio (250 to 330 characters), so rows keep their size as a
-- write scenario goes on.
local edits = 0
local filler = "Rewrote this bio during a benchmark run; the runner puts the seeded one back " ..
  "afterwards, so nothing here is meant to last longer than the run that wrote it. " ..
  "It is about as long as the seeded bios, so that rows and pages keep their size."
function edit_request(id)
  edits = edits + 1
  local body = string.format('{"bio": "Edit %d of wrk thread %d. %s"}', edits, seed, filler)
  return wrk.format("PATCH", "/users/" .. id, {["Content-Type"] = "application/json"}, body)
end
