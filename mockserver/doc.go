// Package mockserver is the mock server behind `refreshmock serve`: a Gin
// engine that answers every operation of an OpenAPI document from a
// scenario set, behaving like a real refresh endpoint (token rotation,
// reuse detection, a mock clock), plus a control API.
//
// Handlers are thin: a request to an operation is read, handed as a
// [scenarios.RequestData] to a transport-free decision core (respond, which
// returns an Outcome: status, headers, cookies, body, delay, fault and the
// journal entry), then written. The core asks [scenarios.Selector] for the
// scenario, a small mutex-guarded token store (behind an interface, so the
// core is tested without HTTP or real tokens) for the token state, and
// [scenarios.Scenario.Render] for the bytes.
//
// # How a response is chosen
//
// Requests are routed with the spec (paths under Config.BasePath). Then:
//
//  1. The request is read and checked. A body over Config.MaxBody answers
//     400 request_too_large; a body whose Content-Type the operation does
//     not accept answers 400 unsupported_media_type; JSON that does not
//     parse, is not UTF-8 or has an object with a key twice answers 400
//     malformed_json (the validator would read the last value, the token
//     reader the first); a number beyond a float64 answers 422
//     validation_error; a request the spec's schema rejects
//     (libopenapi-validator) answers 422 validation_error with details such
//     as {"loc": ["body", "refresh_token"], "msg": "...", "type":
//     "string_type"}. Config.NoValidateRequests skips all but the media type.
//  2. The refresh token is read from the refresh_token cookie, or else from
//     the JSON body's refresh_token, and the store gives its state: valid,
//     missing, expired, reused, invalid or revoked.
//  3. explicit: "X-Mock-Scenario: NAME", "Prefer: example=NAME" (a scenario
//     name) or "Prefer: code=N" (the first scenario with status N in match
//     order whose rules hold, else the first with status N, else the spec's
//     example for N). An unknown name, a scenario of another operation, or a
//     code the operation does not document answers 400 invalid_request whose
//     message lists the scenario names that exist.
//  4. armed: a scenario queued through the control API (below).
//  5. match: the operation's scenarios with match rules, in match order:
//     higher priority first, then more conditions (an "any" counts its
//     smallest alternative), then load order. The first whose rules all
//     hold is chosen.
//  6. default: the operation's default scenario; for an operation with no
//     scenario at all, the spec's example of its lowest 2xx response.
//
// The response carries X-Mock-Scenario-Used and X-Mock-Rule, the journal
// records why, and one log line per request gives method, path, scenario,
// rule, status and latency. The mock never answers a status the operation
// does not document (unless a scenario opts in with
// allow_undocumented_status); a panic answers the documented 500 envelope.
// Requests that route to no operation answer 404 not_found in the same
// envelope. A method the spec does not document for a path answers, with an
// Allow header, the first of 405, 404 and 400 that the path's operations
// document (404 not_found for the Refresh Token spec, which has no 405).
//
// # Tokens and the mock clock
//
// The store starts with Config.SeedToken (rt_seed_dev by default) valid.
// A scenario with response.rotate retires the presented token and issues
// the next of its family: a JWT-shaped access token (HS256 with sub, sid,
// iat, exp, jti; expires_in = Config.AccessTTL) and a new refresh token,
// set as "Set-Cookie: refresh_token=...; Path; Max-Age; HttpOnly; SameSite"
// (Secure with TLS, with CookieConfig.Secure, or with SameSite=None), with
// Cache-Control: no-store. Presenting a rotated token again is reuse: it
// answers refresh_token_reused and revokes the family, whose newer tokens
// answer refresh_token_revoked from then on. Refresh tokens expire after
// Config.RefreshTTL of mock time. The store keeps at most 10,000 tokens:
// beyond that a new token takes the place of the token that died first
// (rotated, or of a revoked family), and only when none is stored of the
// oldest; /__mock/health ("token_store") counts the valid tokens forgotten
// that way and warns when there were any.
//
// One rule for the two clocks: the access token's iat and exp are on the
// real (wall) clock, the browser's, so an app's own expiry logic sees
// expires_in = exp - iat from now; the mock clock (advanced through the
// control API, at most MaxClockOffset in total) decides only server-side
// expiry of refresh tokens, and templates see it as .Now. While it is
// advanced, every scenario response carries "X-Mock-Clock: <mock time>;
// offset=<offset>". To make the next access tokens short-lived without a
// restart, POST /__mock/config {"access_ttl": "30s"} (until reset).
//
// Test tokens rt_test_<status>_<reason> are not in the store; the shipped
// scenarios match them (cookie or body) and answer their status.
//
// # Control API
//
// Under /__mock/, outside the base path. JSON in and out; errors are
// {"error": "message"} with 400, 401, 403, 404, 409 or 422.
//
//	GET    /__mock/                the control panel (HTML, CSS and JavaScript embedded from panel/), which
//	                               uses only the endpoints below; same guard, see Access
//	GET    /__mock/health          {"status":"ok","spec":...,"base_path":...,"scenarios":N,"files":[...],
//	                               "loaded_at":...,"last_reload":{"at":...,"ok":true,"errors":[...]},
//	                               "now":...,"tokens":N,"families":N,"armed":N,"pending_arms":[entry...],
//	                               "sessions_seen":[{"session","last_seen","requests"}],"token_store":
//	                               {"max_tokens","evicted","live_evicted","warning","access_ttl","clock_offset"}}
//	GET    /__mock/scenarios       {"scenarios":[{"name","operation","status","description","tags","default",
//	                               "priority","match","rotate","fault","delay","file","line"}]} in match order
//	POST   /__mock/arm             body {"scenario":"rate-limited","count":2,"session":"tab-1","ttl":"10m"}
//	                               -> {"armed":{"id","scenario","operation","remaining","session","applies_to",
//	                               "armed_at","expires_at"},"matches":"which requests it answers, in words",
//	                               "warning":...,"sessions_seen":[...],"queue":[...]}
//	                               count: 1 to 1,000,000, left out 1 (0 or less is refused); session (optional,
//	                               at most 256 bytes) is an X-Mock-Session header value, a mock_session cookie
//	                               value, a family id, or a refresh token (its family); applies_to is "everyone"
//	                               or the session; ttl: 1s to 24h of wall-clock time, left out 10m. warning
//	                               says when no request carried the session lately (a typo?) and lists the
//	                               sessions seen. Unknown scenario: 404 listing the names.
//	GET    /__mock/arm             {"queue":[...]}
//	DELETE /__mock/arm             {"disarmed":N,"queue":[...]}: every entry, ?scenario=NAME's, or ?id=N
//	POST   /__mock/reset           {"reset":true,"seed_token":"rt_seed_dev","now":...}: forget tokens, armed
//	                               entries and the journal; rewind the clock; restore access_ttl; seed again
//	GET    /__mock/journal?limit=N {"entries":[{"seq","time","method","path","operation","status","scenario",
//	                               "rule","why","rejected":[{"scenario","reason","held","of"}],"token_state",
//	                               "family","session","fault","latency_ms","headers":{...},"body":"..."}],
//	                               "last_seq":N} oldest first, last N (ring of Config.JournalSize); filters
//	                               since=SEQ (entries after it: poll with the last_seq you got), method=POST,
//	                               status=429, scenario=NAME, session=S (a session or family). Header values
//	                               are cut at 1 KiB, bodies at 4 KiB.
//	GET    /__mock/clock           {"now":...,"offset":"15m0s"}
//	POST   /__mock/clock/advance   body {"by":"15m"} -> {"now":...,"offset":...}; 400 past a total offset of
//	                               876000h (100 years)
//	POST   /__mock/clock/reset     the mock clock back to real time -> {"now":...,"offset":"0s"}
//	GET    /__mock/config          {"access_ttl":"15m0s","refresh_ttl":"720h0m0s"}
//	POST   /__mock/config          body {"access_ttl":"30s"} (1s to 24h): the next access tokens' lifetime,
//	                               until reset -> the config in force
//	POST   /__mock/tokens          body {"subject":"user_1","set_cookie":true} (both optional)
//	                               -> {"refresh_token":"rt_...","family":"fam_...","subject":...,"expires_at":...}
//	                               and, with set_cookie, the refresh_token cookie
//	POST   /__mock/reload          reload the scenario files now; 422 with the problems if they do not load
//
// Armed entries answer the next matching requests of their scenario's
// operation; entries scoped to one of the request's sessions go first,
// then unscoped ones, each in arming order. A request that names a
// scenario (explicit) does not use an armed entry up.
//
// Access: with Config.ControlToken set, every control request needs
// "Authorization: Bearer TOKEN" (and allowed CORS origins may then call
// it). Without a token the control API answers only clients on a loopback
// address, with a loopback Host (localhost, 127.0.0.1, [::1]: no DNS
// rebinding), and no Origin other than its own (no CORS at all): a page on
// another origin cannot drive it. `serve` refuses a non-loopback --addr
// without --control-token.
//
// # CORS
//
// Allowed origins (default any port of http://localhost and
// http://127.0.0.1) get Access-Control-Allow-Origin (the origin) and
// Access-Control-Allow-Credentials: true, so fetch(..., {credentials:
// 'include'}) works; preflights answer 204 with the requested headers and
// the documented methods. A preflight from another origin answers 403.
//
// # Hot reload
//
// With Config.ScenarioPaths, [Server.Watch] polls the files' names, sizes
// and modification times (every 500ms in serve) and reloads on change. A
// set with any error is not swapped in: each problem is logged with its
// file:line and the last good set keeps serving. In-flight requests finish
// with the set they started with.
//
// # Delays and faults
//
// response.delay waits a fixed or random duration (abandoned when the
// client goes away). response.fault: connection_reset closes the TCP
// connection with an RST, empty_reply closes it without a byte,
// truncated_body sends the headers and half of the announced body.
package mockserver
