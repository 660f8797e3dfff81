-- edit: PATCH a new bio (never sent before) to a user drawn uniformly from 1..max_id.
function init(args)
  math.randomseed(seed)
end

function request()
  return edit_request(math.random(1, max_id))
end
