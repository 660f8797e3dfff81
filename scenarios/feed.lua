-- feed: a page of 20 posts before an id drawn uniformly from 1..max_post_id+1 (the first
-- pages are short).
function init(args)
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", "/posts?before=" .. math.random(1, max_post_id + 1) .. "&limit=20")
end
