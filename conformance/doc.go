// Package conformance runs a conformance suite against a real
// implementation of an operation (by default Refresh Token) and reports,
// with stable check ids, where it departs from the spec, the error
// envelope and token-handling practice.
//
// The suite asserts what the spec and the RFCs require of any
// implementation, never the mock's own choices: [Checks] gives every check
// its severity and the requirement behind it, and [Policy] is the one
// place severities are decided (envelope-code-in-catalog, for one, is an
// error only when the spec is the user's and carries x-error-codes).
//
// # Cases
//
//   - setup: a setup file's steps (Config.Setup), run first; their
//     captures fill variables that are not set, e.g. REFRESH_TOKENS from a
//     sign-in. Skipped, naming them, when its variables are unset or empty.
//   - scenario/NAME: every scenario with a conform section, step by step,
//     with captures from one response into the next request; a step may
//     repeat. A case whose variables are not supplied (or are empty) is
//     skipped, naming them.
//   - negative/...: requests derived from the spec, each sent twice
//     (envelope-code-stable): schema-valid bodies without a usable token
//     (no body, a null token, {}, an extra field) get a documented 4xx
//     that is not a validation status; schema-invalid bodies get 400 or
//     422 as documented; a wrong content type and an oversized body get a
//     documented 4xx.
//   - flow/race, flow/query-token, flow/undocumented-method,
//     flow/body-token: each needs a live token of its own, and fails with
//     flow-precondition when that token turns out not to be live.
//   - pool/N: each REFRESH_TOKENS token the cases above did not draw is
//     refreshed once and its 200 checked.
//
// Rotation is checked wherever a case presents tokens: a token that an
// earlier step rotated away must be rejected (rotation-reuse-accepted), and
// after such a replay the newest token of the family should be revoked too
// (rotation-family-not-revoked, a warning, RFC 9700 section 4.14.2).
//
// # Checks
//
// Every response, whatever case produced it, goes through [CheckResponse]:
// the expected status; the spec (status documented, content type, body
// schema with formats asserted, documented headers) through package spec;
// the envelope rules of package spec; a valid Retry-After on 429; no stack
// traces or SQL errors; the latency budget; and, on 2xx responses, token
// hygiene (Cache-Control: no-store, HttpOnly/Secure/SameSite/narrow Path on
// token cookies, expires_in against the JWT's exp - iat). [Checks] lists
// the ids and severities.
//
// # Secrets
//
// A [Redactor] learns every secret a run sees (variable values, cookie
// values, Authorization credentials, token-named JSON fields, JWTs) and
// replaces it in every report and log line by [Fingerprint], e.g.
// sha256:1a2b3c4d. Reproducing curl commands refer to variables as
// ${NAME}.
//
// # Hostile targets
//
// Each request has a deadline (connect, TLS handshake, response headers,
// body); bodies are read through a size cap; redirects to another origin
// are not followed; TLS and DNS failures are described with what to do.
// The target is dialled once before the run so that an unreachable target
// is an error ([ErrUnreachable]) rather than a list of failures.
package conformance
