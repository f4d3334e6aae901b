// Drives one install of cryptopay-mcp over stdio with the official
// TypeScript SDK client (the one Claude Desktop, Cursor and VS Code embed):
// initialize, tools/list, a sandbox payment and its status. .ci/ship.sh runs
// it against each install path: the release binary, `npx cryptopay-mcp`,
// the container image and the unpacked MCP Bundle.
//
//   node stdio-client.mjs [--version V] [--cwd DIR] [--label NAME] -- COMMAND [ARGS...]
//
// The server gets this process's environment. Exit status 0 when every
// check passes, 1 otherwise.
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const argv = process.argv.slice(2);
const opts = {};
while (argv.length && argv[0] !== "--") {
  const flag = argv.shift();
  if (!["--version", "--cwd", "--label"].includes(flag) || !argv.length) {
    console.error(`usage: node stdio-client.mjs [--version V] [--cwd DIR] [--label NAME] -- COMMAND [ARGS...] (bad ${flag})`);
    process.exit(2);
  }
  opts[flag.slice(2)] = argv.shift();
}
argv.shift();
const [command, ...args] = argv;
if (!command) {
  console.error("usage: node stdio-client.mjs [--version V] [--cwd DIR] [--label NAME] -- COMMAND [ARGS...]");
  process.exit(2);
}
const label = opts.label ?? command;

function structured(res, tool) {
  assert.ok(!res.isError, `${tool} failed: ${JSON.stringify(res.content)}`);
  assert.ok(res.structuredContent, `${tool}: no structuredContent`);
  return res.structuredContent;
}

async function main() {
  const transport = new StdioClientTransport({ command, args, cwd: opts.cwd, env: { ...process.env }, stderr: "inherit" });
  const client = new Client({ name: "cryptopay-ship-stdio", version: "0.0.1" });
  const started = Date.now();
  await client.connect(transport);
  const info = client.getServerVersion();
  assert.equal(info?.name, "cryptopay-mcp", "serverInfo.name");
  if (opts.version) assert.equal(info?.version, opts.version, "serverInfo.version (the -ldflags version)");
  const ready = Date.now() - started;

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const want of ["create_payment_link", "get_payment_status", "generate_payment_qr"]) {
    assert.ok(names.includes(want), `tools/list lacks ${want}: ${names}`);
  }
  const link = structured(
    await client.callTool({ name: "create_payment_link", arguments: { amount_eur: 12.5, include_qr: false, notes: `ship ${label}` } }),
    "create_payment_link",
  );
  assert.equal(link.sandbox, true, "sandbox mode");
  assert.equal(link.fiat_amount, "12.50");
  const status = structured(await client.callTool({ name: "get_payment_status", arguments: { identifier: link.identifier } }), "get_payment_status");
  assert.equal(status.identifier ?? link.identifier, link.identifier);
  await client.close();
  console.log(`stdio client OK: ${label}: ${info.name} ${info.version}, initialize in ${ready} ms, ${tools.length} tools, payment ${link.identifier}`);
}

main().catch((err) => {
  console.error(`stdio client FAILED: ${label}: ${err?.stack ?? err}`);
  process.exit(1);
});
