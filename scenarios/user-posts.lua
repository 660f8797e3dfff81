-- user-posts: a user drawn uniformly from 1..max_id, with their count and latest posts.
function init(args)
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", "/users/" .. math.random(1, max_id) .. "/posts")
end
