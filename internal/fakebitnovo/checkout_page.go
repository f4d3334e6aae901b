package fakebitnovo

// The checkout page's HTML: inline CSS and JS only (the CSP allows nothing
// else but same-origin fetches and the QR image). It works without script
// (the server renders the state), and with it polls /status every second,
// counts the window down, and copies address, amount and memo.

const checkoutStyle = `<style>
:root{--ink:#1d2433;--muted:#5d6b82;--line:#e4e7ec;--brand:#2454d6;--ok:#12805c;--bad:#c4320a;--wait:#b54708;--test:#fec84b}
*{box-sizing:border-box}
body{margin:0;background:#f2f4f7;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header{background:#101828;color:#fff;padding:14px 20px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}
header h1{font-size:17px;margin:0;font-weight:600;letter-spacing:.2px}
.pill{font-size:11px;font-weight:700;letter-spacing:.6px;text-transform:uppercase;background:var(--test);color:#101828;border-radius:99px;padding:2px 9px}
.testbar{background:#fffaeb;border-bottom:1px solid #fedf89;color:#7a2e0e;padding:8px 20px;font-size:14px;text-align:center}
main{max-width:640px;margin:24px auto;padding:0 14px}
.card{background:#fff;border:1px solid var(--line);border-radius:14px;padding:22px;box-shadow:0 1px 3px rgba(16,24,40,.06)}
.amount{font-size:32px;font-weight:700;margin:0;line-height:1.2}
.sub{color:var(--muted);margin:4px 0 16px;overflow-wrap:anywhere}
.status{display:flex;align-items:center;gap:12px;padding:12px 14px;border-radius:10px;background:#fffaeb;border:1px solid #fedf89;margin-bottom:16px}
.status.ok{background:#ecfdf3;border-color:#abefc6}
.status.bad{background:#fef3f2;border-color:#fecdca}
.badge{font:700 14px/1 ui-monospace,Menlo,Consolas,monospace;background:var(--wait);color:#fff;border-radius:6px;padding:6px 8px}
.ok .badge{background:var(--ok)}
.bad .badge{background:var(--bad)}
.statusrow{display:flex;gap:10px;align-items:stretch;margin-bottom:16px}
.statusrow .status{flex:1;margin:0;min-width:0}
.timer{flex:none;text-align:center;font-size:13px;color:var(--muted);border:1px solid var(--line);border-radius:10px;padding:8px 12px}
.timer time{display:block;font:700 20px/1.1 ui-monospace,Menlo,Consolas,monospace;color:var(--ink)}
.pay{display:grid;grid-template-columns:220px 1fr;gap:20px;align-items:start;margin:0 0 16px}
.pay img{width:220px;height:220px;border:1px solid var(--line);border-radius:10px;image-rendering:pixelated;background:#fff}
.field{margin:0 0 12px}
.field .label{display:block;color:var(--muted);font-size:13px}
.copyrow{display:flex;gap:8px;align-items:flex-start}
.copyrow code,.copyrow .value{flex:1;min-width:0}
code{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.value{font-weight:700;font-size:18px;overflow-wrap:anywhere}
button,select{font:inherit;border-radius:9px;padding:9px 12px;border:1px solid var(--line);background:#fff;color:var(--ink);cursor:pointer}
button.copy{padding:4px 10px;font-size:13px;flex:none}
button.primary{background:var(--brand);border-color:var(--brand);color:#fff;font-weight:600}
button.danger{color:var(--bad);border-color:#fda29b}
button:disabled{opacity:.45;cursor:not-allowed}
button:focus-visible,select:focus-visible{outline:3px solid #84adff;outline-offset:2px}
#copy-status{min-height:1.3em;color:var(--ok);font-size:13px;margin:0}
.picker{display:flex;gap:8px;margin:0 0 16px}
.picker select{flex:1;min-width:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 16px}
dt{color:var(--muted)}
dd{margin:0;min-width:0;overflow-wrap:anywhere}
fieldset.test-controls{border:2px dashed #fdb022;border-radius:12px;padding:12px 14px 14px;margin:0 0 6px;background:#fffcf5}
fieldset.test-controls legend{font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.6px;color:#93370d;padding:0 6px}
.test-controls p{margin:0 0 10px;font-size:13px;color:#7a2e0e}
.buttons{display:grid;grid-template-columns:1fr 1fr;gap:10px}
#message{min-height:1.4em;color:var(--bad);margin:10px 0 0;font-size:14px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted);margin:12px 0 8px}
ol{list-style:none;margin:0;padding:0;border-left:2px solid var(--line)}
ol li{position:relative;padding:2px 0 8px 16px}
ol li:before{content:"";position:absolute;left:-6px;top:8px;width:10px;height:10px;border-radius:50%;background:var(--brand)}
ol li time{color:var(--muted);font-size:13px;margin-left:6px}
.note{color:var(--muted);font-size:13px;text-align:center;margin:16px 0 28px}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
[hidden]{display:none!important}
@media (max-width:560px){
 main{margin:14px auto;padding:0 10px}
 .card{padding:16px}
 .amount{font-size:28px}
 .pay{grid-template-columns:1fr;justify-items:center}
 .pay .fields{width:100%}
 .buttons{grid-template-columns:1fr}
}
</style>`

const checkoutHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test payment · {{.FiatAmount}} {{.Fiat}} · Bitnovo Pay sandbox</title>
` + checkoutStyle + `
</head>
<body>
<header><h1>Bitnovo Pay — sandbox</h1><span class="pill">Test payment</span></header>
<p class="testbar" id="test-banner">Test payment: no real money moves. Real wallets refuse this address (testnet or a broken checksum).</p>
<main id="checkout" data-base="{{.Base}}">
<div class="card">
<p class="amount"><span id="fiat-amount">{{.FiatAmount}}</span> <span id="fiat">{{.Fiat}}</span></p>
<p class="sub">Payment <code id="identifier">{{.Identifier}}</code>{{if .Notes}}<br><span id="notes">{{.Notes}}</span>{{end}}</p>
<div class="statusrow">
<div id="status-box" class="status{{if eq .Status "CO"}} ok{{else if .Final}} bad{{end}}" role="status" aria-live="polite" aria-atomic="true">
<span class="badge" id="status">{{.Status}}</span>
<span><strong id="status-name">{{.Name}}</strong><br><span id="status-text">{{.Meaning}}</span></span>
</div>
<div class="timer" id="timer"{{if not .SecondsLeft}} hidden{{end}}>Time left<time id="countdown" role="timer" datetime="{{.ExpiredTime.UTC.Format "2006-01-02T15:04:05Z"}}">{{.Countdown}}</time></div>
</div>
<div class="picker" id="picker"{{if not .Currencies}} hidden{{end}}>
<label class="sr-only" for="currency">Currency</label>
<select id="currency">{{range .Currencies}}<option value="{{.}}"{{if eq . $.Default}} selected{{end}}>{{.}}</option>{{end}}</select>
<button type="button" id="choose">Choose currency</button>
</div>
<section class="pay" id="pay" aria-label="Pay with a wallet"{{if not .PaymentURI}} hidden{{end}}>
<img id="qr"{{if .PaymentURI}} src="{{.Base}}qr.png"{{end}} width="220" height="220" alt="QR code of the payment request: scan it with a wallet">
<div class="fields">
<div class="field"><span class="label" id="amount-label">Send exactly</span>
<div class="copyrow"><span class="value" id="crypto-amount" data-amount="{{.CryptoAmount}}">{{if .Currency}}{{.CryptoAmount}} {{.Currency}}{{end}}</span>
<button type="button" class="copy" id="copy-amount" aria-describedby="amount-label">Copy amount</button></div></div>
<div class="field"><span class="label" id="address-label">To the address</span>
<div class="copyrow"><code id="address">{{.Address}}</code>
<button type="button" class="copy" id="copy-address" aria-describedby="address-label">Copy address</button></div></div>
<div class="field" id="memo-field"{{if not .TagMemo}} hidden{{end}}><span class="label" id="memo-label">With the tag / memo (required)</span>
<div class="copyrow"><code id="memo">{{.TagMemo}}</code>
<button type="button" class="copy" id="copy-memo" aria-describedby="memo-label">Copy memo</button></div></div>
<p id="copy-status" role="status" aria-live="polite"></p>
</div>
</section>
<dl>
<dt>Currency</dt><dd id="currency-name">{{if .Currency}}{{.Currency}}{{else}}not chosen yet{{end}}</dd>
<dt>Received</dt><dd id="received">{{if .Currency}}{{.Received}} {{.Currency}}{{else}}—{{end}}</dd>
<dt>Expires</dt><dd id="expires">{{.ExpiredTime.UTC.Format "2006-01-02 15:04:05 UTC"}}</dd>
</dl>
<fieldset class="test-controls" id="test-controls">
<legend>Test controls · sandbox only</legend>
<p>These buttons act as the customer's wallet would. A real checkout has none.</p>
<div class="buttons">
<button type="button" class="primary" id="pay-full" data-action="pay"{{if .Final}} disabled{{end}}>Pay in full</button>
<button type="button" id="underpay" data-action="underpay"{{if not .CanUnderpay}} disabled{{end}}>Underpay</button>
<button type="button" id="expire" data-action="expire"{{if .Final}} disabled{{end}}>Let it expire</button>
<button type="button" class="danger" id="cancel" data-action="cancel"{{if .Final}} disabled{{end}}>Cancel</button>
</div>
</fieldset>
<p id="message" role="alert"></p>
<h2>Timeline</h2>
<ol id="timeline">
{{- range .Timeline}}
<li data-status="{{.Status}}"><code>{{.Status}}</code> {{.Name}}<time>{{.At.Format "15:04:05 UTC"}}</time></li>
{{- end}}
</ol>
</div>
<p class="note">Bitnovo Pay sandbox of cryptopay-mcp. Test payment: no real money moves.</p>
</main>
<script nonce="{{.Nonce}}">
(function () {
  "use strict";
  var root = document.getElementById("checkout");
  var base = root.getAttribute("data-base");
  var $ = function (id) { return document.getElementById(id); };
  var buttons = ["pay-full", "underpay", "expire", "cancel"].map($);
  var busy = false, last = null, deadline = 0, qrFor = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(sec) {
    if (sec >= 3600) { return Math.floor(sec / 3600) + ":" + pad(Math.floor(sec / 60) % 60) + ":" + pad(sec % 60); }
    return pad(Math.floor(sec / 60)) + ":" + pad(sec % 60);
  }
  function tick() {
    var open = last && (last.status === "NR" || last.status === "PE") && deadline > 0;
    $("timer").hidden = !open;
    if (open) { $("countdown").textContent = clock(Math.max(0, Math.ceil((deadline - Date.now()) / 1000))); }
  }

  function render(st) {
    last = st;
    deadline = st.seconds_left > 0 ? Date.now() + st.seconds_left * 1000 : 0;
    if ($("status").textContent !== st.status) {
      $("status").textContent = st.status;
      $("status-name").textContent = st.name || "";
      $("status-text").textContent = st.meaning || "";
    }
    $("status-box").className = "status" + (st.status === "CO" ? " ok" : st.final ? " bad" : "");
    $("currency-name").textContent = st.currency || "not chosen yet";
    $("received").textContent = st.currency ? st.received_amount + " " + st.currency : "—";
    $("pay").hidden = !st.payment_uri;
    if (qrFor === null && $("qr").getAttribute("src")) {
      qrFor = st.payment_uri; // drawn by the server with the page
    }
    if (st.payment_uri && qrFor !== st.payment_uri) {
      qrFor = st.payment_uri;
      $("qr").src = base + "qr.png?v=" + encodeURIComponent(st.currency + "-" + st.address);
    }
    $("crypto-amount").textContent = st.currency ? st.crypto_amount + " " + st.currency : "";
    $("crypto-amount").setAttribute("data-amount", st.crypto_amount || "");
    $("address").textContent = st.address || "";
    $("memo").textContent = st.tag_memo || "";
    $("memo-field").hidden = !st.tag_memo;
    $("picker").hidden = !!st.currency || st.status !== "NR" || !$("currency").options.length;
    $("expires").textContent = st.expired_time.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
    var ol = $("timeline");
    while (ol.firstChild) { ol.removeChild(ol.firstChild); }
    (st.timeline || []).forEach(function (step) {
      var li = document.createElement("li"), code = document.createElement("code"), t = document.createElement("time");
      li.setAttribute("data-status", step.status);
      code.textContent = step.status;
      t.textContent = step.at.substr(11, 8) + " UTC";
      li.appendChild(code);
      li.appendChild(document.createTextNode(" " + step.name));
      li.appendChild(t);
      ol.appendChild(li);
    });
    buttons.forEach(function (b) { b.disabled = busy || st.final; });
    $("underpay").disabled = busy || !(st.status === "NR" || st.status === "PE");
    $("choose").disabled = busy;
    tick();
  }

  function poll() {
    fetch(base + "status", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (st) { if (st && !busy) { render(st); } })
      .catch(function () {})
      .then(function () { setTimeout(poll, 1000); });
  }

  function act(action) {
    busy = true;
    if (last) { render(last); }
    $("message").textContent = "";
    var body = { action: action };
    if (!$("picker").hidden) { body.currency = $("currency").value; }
    fetch(base + "simulate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().then(function (j) {
          busy = false;
          if (r.ok) { render(j); } else { $("message").textContent = j.message || ("Error " + r.status); if (last) { render(last); } }
        });
      })
      .catch(function (e) { busy = false; $("message").textContent = String(e); if (last) { render(last); } });
  }

  function copied(what, ok) {
    $("copy-status").textContent = ok ? what + " copied" : "Could not copy the " + what.toLowerCase() + ": select it and copy by hand";
  }
  function copy(text, what) {
    if (!text) { return; }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { copied(what, true); }, function () { copied(what, fallback(text)); });
    } else {
      copied(what, fallback(text));
    }
  }
  function fallback(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { act(b.getAttribute("data-action")); }); });
  $("choose").addEventListener("click", function () { act("choose"); });
  $("copy-amount").addEventListener("click", function () { copy($("crypto-amount").getAttribute("data-amount"), "Amount"); });
  $("copy-address").addEventListener("click", function () { copy($("address").textContent, "Address"); });
  $("copy-memo").addEventListener("click", function () { copy($("memo").textContent, "Memo"); });
  setInterval(tick, 1000);
  poll();
})();
</script>
</body>
</html>
`

const notFoundHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Payment not found · Bitnovo Pay sandbox</title>
` + checkoutStyle + `
</head>
<body>
<header><h1>Bitnovo Pay — sandbox</h1><span class="pill">Test payment</span></header>
<main>
<div class="card">
<p class="amount">Payment not found</p>
<p class="sub">There is no payment at this address. The link may be mistyped, or the payment belongs to another
sandbox (each data directory has its own payments; the oldest are forgotten after 10 000).</p>
<p class="sub">Ask whoever sent the link for a new one.</p>
</div>
<p class="note">Bitnovo Pay sandbox of cryptopay-mcp. Test payment: no real money moves.</p>
</main>
</body>
</html>
`
