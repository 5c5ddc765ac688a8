// Package integration holds the tests that need a Docker engine and the
// socketlab images: the lab engine against the real engine (up, down,
// rollback, labs side by side, idempotence, node operations) and every image
// in a small lab, reached from the client over IPv4 and IPv6.
//
// Run them with `make images && go test ./integration/...`. With CI=true a
// missing engine or image fails the run; elsewhere the tests skip, saying why.
package integration
