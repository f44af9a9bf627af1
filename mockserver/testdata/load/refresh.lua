-- wrk script of the load run (load_test.go): POST /auth/refresh with a JSON
-- body and a refresh_token cookie. REFRESH_TOKEN picks the token (default
-- the test token rt_test_401_expired, whose answer does not depend on
-- rotation state); MOCK_SCENARIO, when set, is sent as X-Mock-Scenario,
-- MOCK_PREFER as Prefer.
-- MOCK_BIG=N adds an X-Big header of N bytes (the budget load run's
-- budget-busting requests).
-- UNIQUE_TOKENS=1 sends REFRESH_TOKEN_N with a new N on every request
-- (cookie and body), so that no two requests are the same.
local token = os.getenv("REFRESH_TOKEN") or "rt_test_401_expired"
wrk.method = "POST"
wrk.body = '{"refresh_token":"' .. token .. '"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "refresh_token=" .. token
local scenario = os.getenv("MOCK_SCENARIO")
if scenario ~= nil and scenario ~= "" then
  wrk.headers["X-Mock-Scenario"] = scenario
end
local prefer = os.getenv("MOCK_PREFER")
if prefer ~= nil and prefer ~= "" then
  wrk.headers["Prefer"] = prefer
end
local big = tonumber(os.getenv("MOCK_BIG") or "")
if big ~= nil and big > 0 then
  wrk.headers["X-Big"] = string.rep("x", big)
end
if os.getenv("UNIQUE_TOKENS") == "1" then
  local n = 0
  request = function()
    n = n + 1
    local t = token .. "_" .. n
    wrk.headers["Cookie"] = "refresh_token=" .. t
    return wrk.format(nil, nil, nil, '{"refresh_token":"' .. t .. '"}')
  end
end
