-- queries: the same request every time; the app draws its N random ids itself.
local path = "/queries?n=" .. queries_n

function init(args)
end

function request()
  return wrk.format("GET", path)
end
