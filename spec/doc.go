// Package spec loads an OpenAPI 3.0 or 3.1 document, describes its operations,
// validates recorded requests and responses against it, and evaluates the
// envelope rules that JSON Schema cannot express.
//
// It is the only package that imports libopenapi and libopenapi-validator.
// Their findings are converted into [Violation], our own type, so that an
// upgrade of those libraries touches this package alone. A violation says
// as data which check failed ([Violation.Kind]: missing, type, too-short,
// pattern, enum, ...) and what it wanted ([Violation.Want]), taken from the
// validator's structured fields (the failing schema keyword and the schema
// library's error kind), so that no caller reads the validator's English.
//
// # The error-code catalog
//
// Each error response may list its stable machine-readable codes in an
// `x-error-codes` extension, a mapping from code to meaning:
//
//	'401':
//	  description: Authentication failed
//	  x-error-codes:
//	    refresh_token_expired: The refresh token has expired.
//
// An API owner changes the catalog by editing the document, not Go code.
//
// # Envelope rules
//
// [Operation.CheckEnvelope] applies, to every 4xx and 5xx response whose schema is
// the error envelope (an object with status, message and code), the rules
// listed in [Rules]. The mock uses them to check its scenarios, the runner to
// check real servers.
//
// # Known limitations
//
// Only JSON bodies are validated and generated. Callbacks, webhooks and links
// are ignored.
package spec
