-- wrk script: log-ins spread over the benchmark users (bench0 …
-- bench15), so no account has more attempts in flight than its free
-- budget (LOGIN_FREE_ATTEMPTS: each attempt is counted before its hash and
-- given back on success; more at once would be answered 429).
-- Latchkey's JSON body by default; LOGIN_BODY (a format with one %d for
-- the user's number) and LOGIN_TYPE serve a peer's form.
local users = tonumber(os.getenv("BENCH_USERS") or "16")
local body_format = os.getenv("LOGIN_BODY")
  or '{"login":"bench%d","password":"correct horse battery staple"}'
local content_type = os.getenv("LOGIN_TYPE") or "application/json"
local counter = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end

local n = 0
function request()
  n = n + 1
  local i = (n * 2 + (offset or 0)) % users
  local body = string.format(body_format, i)
  return wrk.format("POST", nil, { ["Content-Type"] = content_type }, body)
end
