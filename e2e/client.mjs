// Smoke test of cryptopay-mcp over Streamable HTTP with the official
// TypeScript SDK client, the kind of client Claude Desktop, Cursor and VS
// Code embed. The TS client validates every structuredContent against the
// tool's outputSchema, so a schema drift fails here.
//
//   node client.mjs http://127.0.0.1:PORT/mcp      (MCP_HTTP_TOKEN: optional bearer token)
//
// With MCP_OAUTH_CLIENT_ID, MCP_OAUTH_CLIENT_SECRET and MCP_OAUTH_ISSUER it
// authenticates the way a hosted agent does: the server's 401 names its
// protected resource metadata, the SDK reads it, finds the authorization
// server, gets a JWT by the client_credentials grant for this resource
// (scope MCP_OAUTH_SCOPE) and retries with it.
//
// Exit status 0 when every check passes, 1 otherwise.
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";

const url = process.argv[2];
if (!url) {
  console.error("usage: node client.mjs http://127.0.0.1:PORT/mcp");
  process.exit(2);
}
const token = process.env.MCP_HTTP_TOKEN;
const requestInit = token ? { headers: { Authorization: `Bearer ${token}` } } : undefined;

const client = new Client({ name: "cryptopay-e2e-ts", version: "0.0.1" });
let authProvider;
if (process.env.MCP_OAUTH_CLIENT_ID) {
  authProvider = new ClientCredentialsProvider({
    clientId: process.env.MCP_OAUTH_CLIENT_ID,
    clientSecret: process.env.MCP_OAUTH_CLIENT_SECRET,
    scope: process.env.MCP_OAUTH_SCOPE,
    expectedIssuer: process.env.MCP_OAUTH_ISSUER,
  });
}
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit, authProvider });

function structured(res, tool) {
  assert.ok(!res.isError, `${tool} failed: ${JSON.stringify(res.content)}`);
  assert.ok(res.structuredContent, `${tool}: no structuredContent`);
  return res.structuredContent;
}

async function main() {
  await client.connect(transport);
  const info = client.getServerVersion();
  assert.equal(info?.name, "cryptopay-mcp");
  const caps = client.getServerCapabilities();
  assert.ok(caps?.tools, "no tools capability");
  assert.ok(caps?.prompts, "no prompts capability");
  assert.ok(caps?.completions, "no completions capability");

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const want of ["create_payment_link", "create_payment_onchain", "get_payment_status", "list_currencies_catalog", "generate_payment_qr"]) {
    assert.ok(names.includes(want), `tools/list lacks ${want}: ${names}`);
  }
  for (const t of tools) {
    assert.equal(t.inputSchema?.type, "object", `${t.name}: inputSchema is not an object schema`);
    assert.ok(t.description, `${t.name}: no description`);
  }

  const link = structured(
    await client.callTool({ name: "create_payment_link", arguments: { amount_eur: 10, include_qr: false, notes: "ts-sdk e2e" } }),
    "create_payment_link",
  );
  assert.match(link.identifier, /^[0-9a-f-]{8,}$/i, "identifier");
  assert.equal(link.fiat_amount, "10.00");
  assert.equal(link.fiat_currency, "EUR");
  assert.equal(link.sandbox, true);
  assert.match(link.web_url, /^https?:\/\//, "web_url");

  const status = structured(
    await client.callTool({ name: "get_payment_status", arguments: { identifier: link.identifier } }),
    "get_payment_status",
  );
  assert.equal(status.identifier, link.identifier);
  assert.match(status.status, /^[A-Z]{2}$/, "status code");
  assert.equal(typeof status.requires_action, "boolean");
  assert.equal(status.sandbox, true);

  const missing = await client.callTool({
    name: "get_payment_status",
    arguments: { identifier: "00000000-0000-4000-8000-00000000dead" },
  });
  assert.equal(missing.isError, true, "unknown payment did not fail");
  const envelope = JSON.parse(missing.content[0].text);
  assert.match(envelope.error.code, /^[A-Z_]+$/, "error envelope code");

  const catalog = structured(await client.callTool({ name: "list_currencies_catalog", arguments: {} }), "list_currencies_catalog");
  assert.ok(catalog.currencies.length > 0, "empty catalog");

  const { prompts } = await client.listPrompts();
  assert.ok(prompts.some((p) => p.name === "request_payment"), "no request_payment prompt");
  const prompt = await client.getPrompt({ name: "request_payment", arguments: { amount_eur: "5", currency: "btc" } });
  assert.match(prompt.messages[0].content.text, /create_payment_onchain/);
  const completion = await client.complete({
    ref: { type: "ref/prompt", name: "request_payment" },
    argument: { name: "currency", value: "BT" },
  });
  assert.ok(completion.completion.values.includes("BTC"), `completion: ${completion.completion.values}`);

  await client.close();
  console.log(
    `ok: ${tools.length} tools, payment ${link.identifier} status ${status.status}, ` +
      `${catalog.currencies.length} currencies, ${prompts.length} prompts, completion ${completion.completion.values.join(",")}`,
  );
}

main().catch(async (err) => {
  console.error("FAIL:", err?.stack ?? err);
  try {
    await client.close();
  } catch {}
  process.exit(1);
});
