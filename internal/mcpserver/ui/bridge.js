// A minimal MCP Apps view bridge: JSON-RPC 2.0 over postMessage with the
// host, as the MCP Apps spec (2026-01-26) defines it: ui/initialize, then
// ui/notifications/initialized; notifications from the host (tool-input,
// tool-result, host-context-changed); requests to the host (tools/call,
// ui/open-link, ui/update-model-context). Written here instead of using
// @modelcontextprotocol/ext-apps' App (541 KB with its dependencies) so
// each view stays one small self-contained document. Tested by
// bridge.test.mjs under node --test.
(function (root) {
  "use strict";

  var PROTOCOL_VERSION = "2026-01-26";

  // createBridge connects to a host. opts.post(msg) sends a message to the
  // host; the caller feeds every message received from the host (and only
  // from it) to bridge.receive(msg). opts.timeoutMs bounds each request.
  function createBridge(opts) {
    var nextId = 1;
    var pending = {};
    var handlers = {};
    var requestHandlers = {};
    var timeoutMs = opts.timeoutMs || 30000;

    function request(method, params) {
      var id = nextId++;
      return new Promise(function (resolve, reject) {
        var timer = setTimeout(function () {
          delete pending[id];
          reject(new Error(method + ": no answer from the host"));
        }, timeoutMs);
        pending[id] = { resolve: resolve, reject: reject, timer: timer };
        opts.post({ jsonrpc: "2.0", id: id, method: method, params: params || {} });
      });
    }

    function notify(method, params) {
      opts.post({ jsonrpc: "2.0", method: method, params: params || {} });
    }

    function receive(msg) {
      if (!msg || msg.jsonrpc !== "2.0") return;
      if (msg.method === undefined && msg.id !== undefined) {
        var p = pending[msg.id];
        if (!p) return;
        delete pending[msg.id];
        clearTimeout(p.timer);
        if (msg.error) {
          var err = new Error(msg.error.message || "host error");
          err.code = msg.error.code;
          p.reject(err);
        } else {
          p.resolve(msg.result);
        }
        return;
      }
      if (typeof msg.method !== "string") return;
      if (msg.id === undefined) {
        (handlers[msg.method] || []).forEach(function (h) {
          try { h(msg.params || {}); } catch (e) { /* one bad listener must not stop the others */ }
        });
        return;
      }
      var rh = requestHandlers[msg.method];
      if (msg.method === "ping" && !rh) rh = function () { return {}; };
      if (!rh) {
        opts.post({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "method not found: " + msg.method } });
        return;
      }
      Promise.resolve().then(function () { return rh(msg.params || {}); }).then(function (r) {
        opts.post({ jsonrpc: "2.0", id: msg.id, result: r || {} });
      }, function (e) {
        opts.post({ jsonrpc: "2.0", id: msg.id, error: { code: -32603, message: String(e && e.message || e) } });
      });
    }

    function on(method, h) { (handlers[method] = handlers[method] || []).push(h); }
    function handle(method, h) { requestHandlers[method] = h; }

    // connect performs the handshake and returns the host's
    // McpUiInitializeResult (hostContext, hostCapabilities).
    function connect(appInfo) {
      return request("ui/initialize", {
        appInfo: appInfo, appCapabilities: {}, protocolVersion: PROTOCOL_VERSION,
      }).then(function (res) {
        notify("ui/notifications/initialized", {});
        return res || {};
      });
    }

    return {
      request: request, notify: notify, receive: receive, on: on, handle: handle, connect: connect,
      callTool: function (name, args) { return request("tools/call", { name: name, arguments: args || {} }); },
      openLink: function (url) { return request("ui/open-link", { url: url }); },
      updateModelContext: function (ctx) { return request("ui/update-model-context", ctx); },
      sizeChanged: function (w, h) { notify("ui/notifications/size-changed", { width: w, height: h }); },
    };
  }

  // connectWindow wires a bridge to window.parent (a view in an iframe):
  // only messages whose source is the parent are read.
  function connectWindow(win, timeoutMs) {
    var b = createBridge({ post: function (m) { win.parent.postMessage(m, "*"); }, timeoutMs: timeoutMs });
    win.addEventListener("message", function (ev) {
      if (ev.source !== win.parent) return;
      b.receive(ev.data);
    });
    return b;
  }

  // applyHostContext applies theme, host CSS variables and container size
  // from a (partial) McpUiHostContext to the document.
  function applyHostContext(doc, ctx) {
    if (!ctx) return;
    var el = doc.documentElement;
    if (ctx.theme === "light" || ctx.theme === "dark") el.setAttribute("data-theme", ctx.theme);
    if (typeof ctx.locale === "string") el.setAttribute("lang", ctx.locale);
    var vars = ctx.styles && ctx.styles.variables;
    if (vars && typeof vars === "object") {
      Object.keys(vars).forEach(function (k) {
        if (/^--[a-z0-9-]+$/i.test(k) && typeof vars[k] === "string") el.style.setProperty(k, vars[k]);
      });
    }
    var d = ctx.containerDimensions;
    if (d) {
      var w = d.width || d.maxWidth;
      if (typeof w === "number" && w > 0) el.style.setProperty("--container-width", w + "px");
    }
  }

  var api = { createBridge: createBridge, connectWindow: connectWindow, applyHostContext: applyHostContext, PROTOCOL_VERSION: PROTOCOL_VERSION };
  root.CryptopayBridge = api;
  if (typeof module === "object" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
