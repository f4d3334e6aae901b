// Package release holds the tests of the install artefacts (issue 10):
// server.json for the MCP Registry, validated against the registry's
// schema vendored in testdata/ and kept in step with the README's
// environment table; the MCP Bundle manifest; the npm packages; the
// Dockerfile's assumptions (a static binary, no shell, CA certificates, a
// non-root user); and, when CRYPTOPAY_SHIP_DIR names the output of
// .ci/ship.sh, the release archives themselves.
//
// testdata/server.schema.json is docs/reference/server-json/server.schema.json
// of github.com/modelcontextprotocol/registry at commit
// 7c0bbf25bcdf794c4622afbf1b72b99d0281ca6b, byte for byte (sha256 in
// schemaSHA256), published as
// https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json.
// Moving to a newer schema is a deliberate change: replace the file, the
// pin and server.json's $schema together.
package release
