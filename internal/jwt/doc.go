// Package jwt encodes and decodes the JWT-shaped tokens of refreshmock:
// HS256 (header {"alg":"HS256","typ":"JWT"}), signed with [Key]. They are
// test tokens for a mock, not credentials: the key is public and nothing
// here checks expiry. It is the one JWT implementation of the module; the
// mock's access tokens and the templates' jwt function both sign here.
package jwt
