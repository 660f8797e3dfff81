-- Put after a scenario script for dbbench cost: exactly $DBBENCH_STOP_AFTER answered requests on one
-- connection, then their statuses (and a mix's kinds) as JSON to $DBBENCH_WRK_OUT, and an exit: wrk's
-- own stop would leave it waiting out -d, and the exit comes before the next request is written.
local scenario_response = response
local answered = 0
local wanted = tonumber(os.getenv("DBBENCH_STOP_AFTER"))
local answers = {}

function response(status, headers, body)
  if scenario_response then
    scenario_response(status, headers, body)
  end
  answered = answered + 1
  count(answers, status)
  if answered >= wanted then
    local out = assert(io.open(os.getenv("DBBENCH_WRK_OUT"), "w"))
    out:write(string.format('{"answered": %d, "statuses": %s, "sent": %s}\n', answered, counts_json(answers),
                            counts_json(sent)))
    out:close()
    os.exit(0)
  end
end
