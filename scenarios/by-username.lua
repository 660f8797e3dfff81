-- by-username: one user by the unique username, uniform over the seeded users.
-- The usernames come from a file the runner writes from the database (ASCII, no escaping).
function init(args)
  math.randomseed(seed)
  names = read_usernames()
end

function request()
  return wrk.format("GET", "/users/by-username/" .. names[math.random(1, #names)])
end
