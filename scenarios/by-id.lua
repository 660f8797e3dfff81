-- by-id: every request asks for a different user, uniform over 1..max_id.
-- (runner/measure/wrk_prelude.lua comes before this script: seed, max_id, counters, helpers.)
function init(args)
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", "/users/" .. math.random(1, max_id))
end
