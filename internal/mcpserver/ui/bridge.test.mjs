// node --test internal/mcpserver/ui/: the view bridge and the card helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const B = require("./bridge.js");
const C = require("./cards.js");

function pair() {
  const sent = [];
  const bridge = B.createBridge({ post: (m) => sent.push(m), timeoutMs: 200 });
  return { bridge, sent };
}

test("connect sends ui/initialize, then ui/notifications/initialized after the answer", async () => {
  const { bridge, sent } = pair();
  const done = bridge.connect({ name: "card", version: "1" });
  assert.equal(sent.length, 1);
  assert.equal(sent[0].method, "ui/initialize");
  assert.equal(sent[0].params.protocolVersion, "2026-01-26");
  assert.deepEqual(sent[0].params.appInfo, { name: "card", version: "1" });
  bridge.receive({ jsonrpc: "2.0", id: sent[0].id, result: { hostContext: { theme: "dark" }, hostCapabilities: { serverTools: {} } } });
  const init = await done;
  assert.equal(init.hostContext.theme, "dark");
  assert.deepEqual(sent[1], { jsonrpc: "2.0", method: "ui/notifications/initialized", params: {} });
});

test("requests resolve by id, errors reject with the code, unanswered ones time out", async () => {
  const { bridge, sent } = pair();
  const a = bridge.callTool("card_payment_status", { identifier: "x" });
  const b = bridge.openLink("https://pay.example/x");
  assert.equal(sent[0].method, "tools/call");
  assert.deepEqual(sent[0].params, { name: "card_payment_status", arguments: { identifier: "x" } });
  assert.equal(sent[1].method, "ui/open-link");
  assert.notEqual(sent[0].id, sent[1].id);
  bridge.receive({ jsonrpc: "2.0", id: sent[1].id, error: { code: -32000, message: "denied" } });
  bridge.receive({ jsonrpc: "2.0", id: sent[0].id, result: { structuredContent: { status: "CO" } } });
  assert.equal((await a).structuredContent.status, "CO");
  await assert.rejects(b, (e) => e.code === -32000 && /denied/.test(e.message));
  await assert.rejects(bridge.updateModelContext({ content: [] }), /no answer/);
});

test("a late or unknown answer is ignored; a non-JSON-RPC message is ignored", () => {
  const { bridge } = pair();
  bridge.receive({ jsonrpc: "2.0", id: 99, result: {} });
  bridge.receive("hello");
  bridge.receive({ method: "ui/notifications/tool-result" });
});

test("notifications reach every listener; a throwing listener does not stop the next", () => {
  const { bridge } = pair();
  const got = [];
  bridge.on("ui/notifications/tool-result", () => { throw new Error("bad"); });
  bridge.on("ui/notifications/tool-result", (p) => got.push(p));
  bridge.receive({ jsonrpc: "2.0", method: "ui/notifications/tool-result", params: { structuredContent: { a: 1 } } });
  assert.deepEqual(got, [{ structuredContent: { a: 1 } }]);
});

test("host requests: handled, ping answered, unknown ones get method-not-found", async () => {
  const { bridge, sent } = pair();
  bridge.handle("ui/resource-teardown", () => ({}));
  bridge.receive({ jsonrpc: "2.0", id: "t1", method: "ui/resource-teardown", params: {} });
  bridge.receive({ jsonrpc: "2.0", id: "p1", method: "ping" });
  bridge.receive({ jsonrpc: "2.0", id: "u1", method: "ui/unknown" });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(sent.find((m) => m.id === "t1"), { jsonrpc: "2.0", id: "t1", result: {} });
  assert.deepEqual(sent.find((m) => m.id === "p1"), { jsonrpc: "2.0", id: "p1", result: {} });
  assert.equal(sent.find((m) => m.id === "u1").error.code, -32601);
});

test("connectWindow reads only messages from the parent window", () => {
  const listeners = [];
  const parent = { posted: [], postMessage(m, o) { this.posted.push([m, o]); } };
  const win = { parent, addEventListener: (t, f) => listeners.push(f) };
  const bridge = B.connectWindow(win, 100);
  const got = [];
  bridge.on("ui/notifications/tool-result", (p) => got.push(p));
  const msg = { jsonrpc: "2.0", method: "ui/notifications/tool-result", params: { x: 1 } };
  listeners[0]({ source: {}, data: msg });
  listeners[0]({ source: parent, data: msg });
  assert.equal(got.length, 1);
  bridge.notify("ui/notifications/size-changed", { width: 1, height: 2 });
  assert.equal(parent.posted[0][1], "*");
});

test("applyHostContext: theme, locale, only well-formed CSS variables, container width", () => {
  const props = {};
  const attrs = {};
  const doc = { documentElement: { setAttribute: (k, v) => (attrs[k] = v), style: { setProperty: (k, v) => (props[k] = v) } } };
  B.applyHostContext(doc, { theme: "dark", locale: "es-ES", styles: { variables: { "--color-text-primary": "#fff", "bad;prop": "x", "--n": 3 } }, containerDimensions: { maxWidth: 390 } });
  assert.deepEqual(attrs, { "data-theme": "dark", lang: "es-ES" });
  assert.deepEqual(props, { "--color-text-primary": "#fff", "--container-width": "390px" });
  B.applyHostContext(doc, { theme: "neon" });
  assert.equal(attrs["data-theme"], "dark");
});

const onchain = {
  identifier: "4a1c", address: "tb1qexample", payment_uri: "bitcoin:tb1qexample?amount=0.001", expected_input_amount: "0.001",
  currency_id: "BTC", input_currency: "BTC", fiat_amount: "25.00", fiat_currency: "EUR", expires_at: "2026-12-07T23:00:00Z",
  status: "PE", qr_payment_uri: "data:image/png;base64,iVBOR", sandbox: true,
};

test("paymentFromResult reads create, status and wait results", () => {
  const p = C.paymentFromResult(onchain);
  assert.equal(p.identifier, "4a1c");
  assert.equal(p.cryptoAmount, "0.001");
  assert.equal(p.qr, "data:image/png;base64,iVBOR");
  assert.equal(p.terminal, false);
  assert.equal(p.sandbox, true);
  const w = C.paymentFromResult({ identifier: "4a1c", reached: true, payment: { identifier: "4a1c", status: "CO", is_terminal: true, crypto_amount: "0.001" } });
  assert.equal(w.status, "CO");
  assert.equal(w.terminal, true);
  assert.equal(C.paymentFromResult({ qr_web_url: "https://evil.example/x.png", identifier: "i" }).qr, undefined);
  assert.equal(C.paymentFromResult({ identifier: "i", web_url: "javascript:alert(1)" }).webURL, undefined);
  assert.equal(C.paymentFromResult(null), null);
  assert.equal(C.paymentFromResult({ error: { code: "X" } }), null);
});

test("merge keeps the create result's QR and address under a status read", () => {
  const m = C.merge(C.paymentFromResult(onchain), C.paymentFromResult({ identifier: "4a1c", status: "CO", is_terminal: true, crypto_amount: "0.001" }));
  assert.equal(m.status, "CO");
  assert.equal(m.qr, onchain.qr_payment_uri);
  assert.equal(m.address, "tb1qexample");
  assert.equal(m.terminal, true);
});

test("timeline marks done, current and failed steps", () => {
  const states = (s) => C.timeline(s).map((x) => x.state).join(",");
  assert.equal(states("NR"), "current,todo,todo,todo");
  assert.equal(states("PE"), "done,current,todo,todo");
  assert.equal(states("AC"), "done,done,current,todo");
  assert.equal(states("CO"), "done,done,done,done");
  assert.equal(states("EX"), "done,done,done,failed");
  assert.equal(C.timeline("EX")[3].label, "Expired");
  assert.match(C.timeline("IA")[1].label, /Underpaid/);
});

test("countdown", () => {
  const t0 = Date.parse("2026-12-07T22:00:00Z");
  assert.equal(C.countdown("2026-12-07T22:14:05Z", t0), "14:05");
  assert.equal(C.countdown("2026-12-07T23:02:03Z", t0), "1:02:03");
  assert.equal(C.countdown("2026-12-07T21:00:00Z", t0), "expired");
  assert.equal(C.countdown("", t0), "");
  assert.equal(C.countdown("soon", t0), "");
});

test("formatFiat follows the locale and falls back to the text", () => {
  assert.equal(C.formatFiat("25.5", "EUR", "en-US"), "€25.50");
  assert.match(C.formatFiat("25.5", "EUR", "es-ES"), /25,50\s€/);
  assert.equal(C.formatFiat("", "EUR", "en"), "");
  assert.equal(C.formatFiat("1", "NOTACURRENCY", "en"), "1 NOTACURRENCY");
});

test("modelContext names the payment and the status", () => {
  const ctx = C.modelContext({ identifier: "4a1c", status: "CO", terminal: true, fiatAmount: "25.00", fiatCurrency: "EUR" });
  assert.match(ctx.content[0].text, /4a1c is now Completed \(CO\), a final status/);
  assert.deepEqual(ctx.structuredContent, { identifier: "4a1c", status: "CO", is_terminal: true });
});

test("pollDelay never goes under 2 s and backs off to 30 s", () => {
  assert.equal(C.pollDelay(500, 0), 2000);
  assert.equal(C.pollDelay(3000, 0), 3000);
  assert.equal(C.pollDelay(3000, 2), 12000);
  assert.equal(C.pollDelay(3000, 10), 30000);
});

test("shopView: search grid, product packages, invoice, order", () => {
  const s = C.shopView({ results: [{ slug: "amazon_com-usa", name: "<untrusted>Amazon</untrusted>", _priceRange: "5-500", currency: "USD", countryCode: "US" }], total_count: 1 });
  assert.equal(s.kind, "search");
  assert.deepEqual(s.items[0], { id: "amazon_com-usa", name: "Amazon", price: "5-500", currency: "USD", country: "US", rating: null });
  const p = C.shopView({ slug: "amazon_com-usa", name: "Amazon", currency: "USD", packages: [{ value: "10", display: null, eurPrice: 9.5 }] });
  assert.equal(p.kind, "product");
  assert.deepEqual(p.packages, [{ value: "10", label: "10", eur: 9.5 }]);
  const inv = { id: "inv1", status: "not_delivered", payment: { method: "balance", status: "unpaid" }, orders: [{ id: "o1", status: "created", product: { id: "amazon_com-usa", name: "Amazon", value: "10" } }] };
  const c = C.shopView({ invoice: inv, amount_eur: "9.50", items: [{ product_id: "amazon_com-usa", value: "10", quantity: 1, eur_price: "9.50" }] });
  assert.equal(c.kind, "invoice");
  assert.equal(c.amountEUR, "9.50");
  assert.equal(C.payable(c), true);
  const g = C.shopView({ data: inv, meta: {} });
  assert.equal(g.kind, "invoice");
  assert.equal(g.orders[0].delivered, false);
  const paid = C.shopView({ status: "paid", paid: true, quote: { invoice_id: "inv1", amount_eur: "9.50", items: [] },
    invoice: { ...inv, payment: { method: "balance", status: "payment_confirmed" }, orders: [{ id: "o1", status: "delivered", product: {} }] } });
  assert.equal(C.payable(paid), false);
  assert.equal(paid.orders[0].delivered, true);
  assert.equal(C.payable(C.shopView({ invoice: { ...inv, payment: { method: "bitcoin", status: "unpaid" } } })), false);
  const o = C.shopView({ data: { id: "o1", status: "delivered", product: { name: "Amazon" } }, note: "" });
  assert.equal(o.kind, "order");
  assert.equal(C.shopView({ error: {} }), null);
});

test("secretsOf lists only the present secrets", () => {
  assert.deepEqual(C.secretsOf({ secret: true, code: "SANDBOX-1", pin: "", link: "https://x" }), [["Code", "SANDBOX-1"], ["Link", "https://x"]]);
  assert.deepEqual(C.secretsOf(null), []);
});

// fakeTimers records setTimeout calls; fire() runs the earliest.
function fakeTimers() {
  let next = 1;
  const pending = new Map();
  return {
    delays: [],
    setTimeout(fn, ms) { const id = next++; pending.set(id, fn); this.delays.push(ms); return id; },
    clearTimeout(id) { pending.delete(id); },
    count() { return pending.size; },
    async fire() {
      const [id, fn] = pending.entries().next().value;
      pending.delete(id);
      fn();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

test("poller: one call at a time, each ≥ 2 s after the last, until done", async () => {
  const timers = fakeTimers();
  let calls = 0, done = false;
  const p = C.createPoller({
    timers, call: () => { calls++; if (calls === 3) done = true; return Promise.resolve(); },
    delay: (e) => C.pollDelay(3000, e), done: () => done, hidden: () => false,
  });
  p.kick();
  p.kick(); // a second kick replaces the timer, never adds one
  assert.equal(timers.count(), 1);
  await timers.fire();
  await timers.fire();
  await timers.fire();
  assert.equal(calls, 3);
  assert.equal(timers.count(), 0, "no refresh after a final status");
  assert.ok(timers.delays.every((d) => d >= 2000));
});

test("poller: nothing while hidden; a kick on visible resumes", async () => {
  const timers = fakeTimers();
  let hidden = true, calls = 0;
  const p = C.createPoller({ timers, call: () => { calls++; return Promise.resolve(); }, delay: () => 3000, done: () => false, hidden: () => hidden });
  p.kick();
  assert.equal(timers.count(), 0);
  hidden = false;
  p.kick();
  assert.equal(timers.count(), 1);
  hidden = true;
  await timers.fire(); // became hidden before the timer fired: no call, no new timer
  assert.equal(calls, 0);
  assert.equal(timers.count(), 0);
});

test("poller: errors back off; stop cancels", async () => {
  const timers = fakeTimers();
  const p = C.createPoller({ timers, call: () => Promise.reject(new Error("down")), delay: (e) => C.pollDelay(3000, e), done: () => false, hidden: () => false });
  p.kick();
  await timers.fire();
  await timers.fire();
  assert.deepEqual(timers.delays, [3000, 6000, 12000]);
  p.stop();
  assert.equal(timers.count(), 0);
  p.kick();
  assert.equal(timers.count(), 0, "a stopped poller stays stopped");
});

test("poller: a call in flight is never doubled by a kick", async () => {
  const timers = fakeTimers();
  let release, calls = 0;
  const p = C.createPoller({ timers, call: () => { calls++; return new Promise((r) => (release = r)); }, delay: () => 2000, done: () => false, hidden: () => false });
  p.kick();
  await timers.fire();
  p.kick();
  assert.equal(timers.count(), 0, "no timer while a call runs");
  release();
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.equal(timers.count(), 1);
  assert.equal(calls, 1);
});

test("poller: the default timers call setTimeout unbound (a browser throws Illegal invocation otherwise)", () => {
  const real = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const seen = [];
  globalThis.setTimeout = function (fn, ms) {
    if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation");
    seen.push(ms);
    return 1;
  };
  globalThis.clearTimeout = function () {
    if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation");
  };
  try {
    const p = C.createPoller({ call: () => Promise.resolve(), delay: () => 2000, done: () => false, hidden: () => false });
    p.kick();
    p.kick();
    p.stop();
  } finally {
    globalThis.setTimeout = real;
    globalThis.clearTimeout = realClear;
  }
  assert.deepEqual(seen, [2000, 2000]);
});
