-- wrk script: FastAPI-Users' OAuth2 password-form log-ins, spread over the
-- benchmark users (bench0 … bench15) as bench/login.lua does for Latchkey.
local users = tonumber(os.getenv("BENCH_USERS") or "16")
local counter = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end

local n = 0
function request()
  n = n + 1
  local i = (n * 2 + (offset or 0)) % users
  -- "@" is %40 in a form body.
  local body = string.format("username=bench%d%%40example.com&password=correct+horse+battery+staple", i)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
