-- page: a page of 20 users after an id drawn uniformly from 0..max_id (the last pages are short).
function init(args)
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", "/users?after=" .. math.random(0, max_id) .. "&limit=20")
end
