-- by-id: every request asks for a different user, uniform over 1..DBBENCH_MAX_ID.
-- Each wrk thread gets its own seed so threads do not replay the same ids.
local max_id = tonumber(os.getenv("DBBENCH_MAX_ID") or "1000")
local next_seed = tonumber(os.getenv("DBBENCH_SEED") or "1")

function setup(thread)
  thread:set("seed", next_seed)
  next_seed = next_seed + 1
end

function init(args)
  math.randomseed(seed or 1)
end

function request()
  return wrk.format("GET", "/users/" .. math.random(1, max_id))
end
