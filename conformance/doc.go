// Package conformance runs a conformance suite against a real
// implementation of an operation (by default Refresh Token) and reports,
// with stable check ids, where it departs from the spec, the error
// envelope and token-handling practice.
//
// # Cases
//
//   - scenario/NAME: every scenario with a conform section, step by step,
//     with captures from one response into the next request. A case whose
//     variables are not supplied is skipped, naming them.
//   - negative/...: requests derived from the spec that must be rejected
//     with a documented 4xx: no token, JSON that does not parse, each wrong
//     JSON type for each body property, an empty string where minLength
//     applies, a wrong content type, an oversized body.
//   - flow/race: N parallel refreshes with one token (RACE_REFRESH_TOKEN):
//     at most one succeeds, none fails with a 5xx.
//   - flow/query-token: the token in the query string is not accepted.
//   - flow/undocumented-method: a method the spec does not document for the
//     path does not succeed.
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
