// Pure helpers of the cryptopay-mcp MCP Apps cards: no DOM, no messaging,
// so node --test can check them (cards.test.mjs). Inlined into every view.
(function (root) {
  "use strict";

  // Bitnovo statuses: which are final, which failed (payments.Statuses).
  var TERMINAL = { CO: true, CA: true, EX: true, FA: true };
  var FAILED = { CA: true, EX: true, FA: true, OC: true };
  var NAMES = {
    NR: "Not ready", PE: "Waiting for payment", AC: "Seen, confirming",
    IA: "Underpaid", OC: "Out of condition", CO: "Completed",
    CA: "Cancelled", EX: "Expired", FA: "Failed",
  };

  // paymentFromResult turns the structuredContent of any tool that renders
  // the payment card (create_payment_onchain, create_payment_link,
  // get_payment_status, wait_for_payment, card_payment_status) into one
  // flat view model; fields a result lacks are undefined.
  function paymentFromResult(sc) {
    if (!sc || typeof sc !== "object") return null;
    var p = sc.payment && typeof sc.payment === "object" ? sc.payment : sc;
    if (typeof p.identifier !== "string" || !p.identifier) return null;
    var qr = [sc.qr_payment_uri, sc.qr_web_url].filter(function (u) {
      return typeof u === "string" && u.indexOf("data:image/png;base64,") === 0;
    })[0];
    return {
      identifier: p.identifier,
      status: p.status || sc.status || "",
      statusName: p.status_name,
      fiatAmount: p.fiat_amount,
      fiatCurrency: p.fiat_currency,
      cryptoAmount: p.crypto_amount || p.expected_input_amount || undefined,
      currency: p.currency_id || p.input_currency || undefined,
      address: p.address,
      memo: p.tag_memo,
      paymentURI: p.payment_uri,
      webURL: typeof p.web_url === "string" && /^https?:\/\//.test(p.web_url) ? p.web_url : undefined,
      expiresAt: p.expires_at,
      qr: qr,
      terminal: typeof p.is_terminal === "boolean" ? p.is_terminal : !!TERMINAL[p.status || sc.status],
      sandbox: !!(sc.sandbox || p.sandbox),
    };
  }

  // merge lays a fresh status read over what the card already shows (the
  // create result's QR and address stay).
  function merge(old, fresh) {
    if (!old) return fresh;
    if (!fresh) return old;
    var out = {};
    Object.keys(old).forEach(function (k) { out[k] = old[k]; });
    Object.keys(fresh).forEach(function (k) { if (fresh[k] !== undefined) out[k] = fresh[k]; });
    return out;
  }

  // timeline returns the steps of the status timeline: each
  // {label, state: "done" | "current" | "todo" | "failed"}.
  function timeline(status) {
    var steps = [
      { code: "NR", label: "Created" },
      { code: "PE", label: "Waiting for payment" },
      { code: "AC", label: "Seen on chain" },
      { code: "CO", label: "Completed" },
    ];
    var at = { NR: 0, PE: 1, IA: 1, AC: 2, CO: 3 }[status];
    var failed = FAILED[status];
    if (failed) {
      at = 3;
      steps[3] = { code: status, label: NAMES[status] || status };
    }
    if (at === undefined) at = 0;
    return steps.map(function (s, i) {
      var state = i < at ? "done" : i === at ? (failed ? "failed" : status === "CO" ? "done" : "current") : "todo";
      if (i === 1 && status === "IA") return { label: "Underpaid: waiting for the rest", state: "current" };
      return { label: s.label, state: state };
    });
  }

  function statusLabel(status) { return NAMES[status] || status || "Unknown"; }

  // countdown formats the time left until expiresAt ("14:05", "1:02:03"),
  // "expired" once it passed, "" when unknown.
  function countdown(expiresAt, nowMs) {
    if (!expiresAt) return "";
    var t = Date.parse(expiresAt);
    if (isNaN(t)) return "";
    var s = Math.floor((t - nowMs) / 1000);
    if (s <= 0) return "expired";
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return h > 0 ? h + ":" + two(m) + ":" + two(sec) : m + ":" + two(sec);
  }

  // formatFiat formats a decimal string in the host's locale; the text as
  // given when the locale or currency is unknown.
  function formatFiat(amount, currency, locale) {
    if (amount === undefined || amount === null || amount === "") return "";
    var n = Number(amount);
    if (!isFinite(n)) return String(amount);
    try {
      return new Intl.NumberFormat(locale || undefined, { style: "currency", currency: currency || "EUR" }).format(n);
    } catch (e) {
      return amount + " " + (currency || "");
    }
  }

  // modelContext is what the card tells the model when the status changes
  // (ui/update-model-context): text plus the structured status.
  function modelContext(p) {
    var text = "Payment " + p.identifier + " is now " + statusLabel(p.status) + " (" + p.status + ")" +
      (p.terminal ? ", a final status" : "") + ", as shown live on the payment card" +
      (p.fiatAmount ? " for " + p.fiatAmount + " " + (p.fiatCurrency || "") : "") + ".";
    return {
      content: [{ type: "text", text: text }],
      structuredContent: { identifier: p.identifier, status: p.status, is_terminal: !!p.terminal },
    };
  }

  // pollDelay is the next refresh delay in ms: at least 2 s, backing off
  // after errors up to 30 s.
  function pollDelay(base, errors) {
    var d = Math.max(2000, base || 3000) * Math.pow(2, Math.min(errors || 0, 4));
    return Math.min(d, 30000);
  }

  // untrusted strips the <untrusted> ... </untrusted> wrapping the shop
  // puts around third-party text (the card shows it as text, never HTML).
  function untrusted(s) {
    return typeof s === "string" ? s.replace(/<\/?untrusted>/g, "").trim() : "";
  }

  // shopView classifies the structuredContent of a shop tool (search,
  // detail, create_invoice, get_invoice, pay_invoice, get_order, and the
  // card's own card_pay_invoice) into what the shop card draws:
  // {kind: "search"|"product"|"invoice"|"order", ...}; null otherwise.
  function shopView(sc) {
    if (!sc || typeof sc !== "object") return null;
    if (Array.isArray(sc.results)) {
      return { kind: "search", sandbox: !!sc.sandbox, total: sc.total_count, items: sc.results.map(function (r) {
        return { id: r.slug || r.id, name: untrusted(r.name), price: r._priceRange || "", currency: r.currency || "", country: r.countryCode || "",
          rating: typeof r._ratingValue === "number" ? r._ratingValue : null };
      }) };
    }
    if (Array.isArray(sc.packages) && (sc.slug || sc._id)) {
      return { kind: "product", sandbox: !!sc.sandbox, id: sc.slug || sc._id, name: untrusted(sc.name), type: sc.type || "",
        country: sc.countryCode || "", currency: sc.currency || "", outOfStock: !!sc.outOfStock,
        packages: sc.packages.map(function (k) { return { value: k.value, label: untrusted(k.display) || k.value, eur: k.eurPrice }; }) };
    }
    var inv = sc.invoice || (sc.data && sc.data.payment && sc.data.orders ? sc.data : null);
    var quote = sc.quote || (sc.payment && sc.payment.quote) || null;
    if (inv || (quote && quote.invoice_id)) {
      inv = inv || {};
      var pay = inv.payment || {};
      return { kind: "invoice", sandbox: !!sc.sandbox, id: inv.id || quote.invoice_id, status: inv.status || "",
        method: pay.method || (quote && quote.payment_method) || "", paymentStatus: pay.status || (sc.paid ? "payment_confirmed" : ""),
        amountEUR: sc.amount_eur || (quote && quote.amount_eur) || "", paid: !!sc.paid || pay.status === "payment_confirmed",
        items: (sc.items || (quote && quote.items) || []).map(function (i) { return { name: untrusted(i.name) || i.product_id, value: i.value, qty: i.quantity, eur: i.eur_price }; }),
        orders: (inv.orders || []).map(orderOf) };
    }
    if (sc.data && sc.data.product && sc.data.id) {
      return { kind: "order", sandbox: !!sc.sandbox, order: orderOf(sc.data) };
    }
    return null;
  }

  function orderOf(o) {
    var p = o.product || {};
    return { id: o.id, status: o.status || "", name: untrusted(p.name) || p.id || "", value: p.value || "", currency: p.currency || "",
      delivered: o.status === "delivered" || !!o.delivered_time };
  }

  // payable reports whether the invoice card may offer its Pay button:
  // a balance invoice not yet paid.
  function payable(v) {
    return !!v && v.kind === "invoice" && v.method === "balance" && !v.paid && (v.paymentStatus === "" || v.paymentStatus === "unpaid");
  }

  // secretsOf lists the secret fields of a card_reveal_order result as
  // [label, value] pairs, for the card only.
  function secretsOf(u) {
    if (!u || typeof u !== "object") return [];
    return [["Code", u.code], ["PIN", u.pin], ["PIN code", u.pin_code], ["Link", u.link], ["Phone", u.phone_number]].filter(function (x) {
      return typeof x[1] === "string" && x[1] !== "";
    });
  }

  // createPoller runs o.call() (returning a promise) again and again, each
  // time o.delay(errors) ms (pollDelay: ≥ 2 s) after the previous call
  // ended; never two at once. It does not schedule while o.done() or
  // o.hidden() is true; call kick() when either may have changed (a
  // result, visibilitychange) and stop() on teardown. o.timers defaults
  // to the global setTimeout/clearTimeout.
  function createPoller(o) {
    // Wrapped: a browser's setTimeout called as a method of another object
    // throws "Illegal invocation".
    var timers = o.timers || {
      setTimeout: function (f, ms) { return setTimeout(f, ms); },
      clearTimeout: function (id) { clearTimeout(id); },
    };
    var timer = null, running = false, stopped = false, errors = 0;
    function schedule() {
      if (timer !== null) { timers.clearTimeout(timer); timer = null; }
      if (stopped || running || o.done() || o.hidden()) return;
      timer = timers.setTimeout(run, o.delay(errors));
    }
    function run() {
      timer = null;
      if (stopped || o.done() || o.hidden()) return;
      running = true;
      Promise.resolve().then(o.call).then(function () { errors = 0; }, function () { errors++; })
        .then(function () { running = false; schedule(); });
    }
    return {
      kick: schedule,
      stop: function () { stopped = true; if (timer !== null) { timers.clearTimeout(timer); timer = null; } },
      pending: function () { return timer !== null || running; },
    };
  }

  var api = {
    createPoller: createPoller,
    untrusted: untrusted, shopView: shopView, payable: payable, secretsOf: secretsOf,
    paymentFromResult: paymentFromResult, merge: merge, timeline: timeline, statusLabel: statusLabel,
    countdown: countdown, formatFiat: formatFiat, modelContext: modelContext, pollDelay: pollDelay,
  };
  root.CryptopayCards = api;
  if (typeof module === "object" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
