-- mix: a day of a user service, in the shares of DBBENCH_WEIGHTS (from scenarios/mix.toml).
-- Lookups by id and by username go to hot users: rank r is drawn with probability about
-- 1 / (r ln max_id) (Zipf with exponent 1), and ranks are spread over the id range by a
-- stride prime to max_id; so do a user's posts. Feed pages are hot from the newest: page p
-- (of 20 posts) is drawn with probability about 1 / (p ln pages). User pages and edits are
-- uniform (hot edits would measure row locks).
-- "missing" asks for ids beyond the table and usernames that do not exist: 404s that are
-- expected answers; response() counts statuses so the runner can tell them from errors.
local kinds, bounds, total = {}, {}, 0
local stride = (max_id % 7919 == 0) and 7927 or 7919
local log_span = math.log(max_id + 1)
local feed_pages = math.max(1, math.floor(max_post_id / 20))
local log_pages = math.log(feed_pages + 1)

function init(args)
  math.randomseed(seed)
  names = read_usernames()
  for kind, share in string.gmatch(os.getenv("DBBENCH_WEIGHTS") or "by-id:100", "([%w%-]+):(%d+)") do
    total = total + tonumber(share)
    kinds[#kinds + 1] = kind
    bounds[#bounds + 1] = total
  end
end

local function hot_id()
  local rank = math.min(math.floor(math.exp(math.random() * log_span)), max_id)
  return (rank - 1) * stride % max_id + 1
end

local function hot_before()
  local page = math.min(math.floor(math.exp(math.random() * log_pages)), feed_pages)
  return max_post_id + 1 - (page - 1) * 20
end

local function pick()
  local draw = math.random(1, total)
  for i, bound in ipairs(bounds) do
    if draw <= bound then
      return kinds[i]
    end
  end
end

function request()
  local kind = pick()
  count(sent, kind)
  if kind == "by-id" then
    return wrk.format("GET", "/users/" .. hot_id())
  elseif kind == "by-username" then
    return wrk.format("GET", "/users/by-username/" .. names[hot_id()])
  elseif kind == "user-posts" then
    return wrk.format("GET", "/users/" .. hot_id() .. "/posts")
  elseif kind == "feed" then
    return wrk.format("GET", "/posts?before=" .. hot_before() .. "&limit=20")
  elseif kind == "page" then
    return wrk.format("GET", "/users?after=" .. math.random(0, max_id) .. "&limit=20")
  elseif kind == "edit" then
    return edit_request(math.random(1, max_id))
  elseif math.random(0, 1) == 0 then
    return wrk.format("GET", "/users/" .. (max_id + math.random(1, 1000000)))
  else
    return wrk.format("GET", "/users/by-username/nobody_" .. math.random(1, 1000000))
  end
end

function response(status, headers, body)
  count(statuses, status)
end
