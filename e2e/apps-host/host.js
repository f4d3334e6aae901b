// MCP Apps host harness: the host side of @modelcontextprotocol/ext-apps
// (AppBridge + PostMessageTransport) in a page, bundled by esbuild into
// one script (build.sh) for the Chromium test of the cards
// (cmd/cryptopay-mcp/apps_e2e_test.go). The Go test plays the MCP client:
// the page forwards the view's tools/call to it (POST /call) and records
// everything the view asks of the host in window.hostEvents.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

window.hostEvents = [];

// startHost renders one view: html is the ui:// resource's text, tool the
// tool definition that named it, input its arguments, result its
// CallToolResult, hostContext the McpUiHostContext to offer.
window.startHost = async function ({ html, tool, input, result, hostContext }) {
  const iframe = document.createElement("iframe");
  iframe.id = "view";
  // A real host serves the view from a sandbox origin of its own; the
  // harness adds allow-same-origin only so the test can read the view's DOM.
  iframe.setAttribute("sandbox", "allow-scripts allow-same-origin");
  iframe.setAttribute("title", "MCP App");
  document.body.appendChild(iframe);

  const bridge = new AppBridge(null, { name: "cryptopay-test-host", version: "1" },
    { openLinks: {}, serverTools: {}, updateModelContext: { text: {}, structuredContent: {} }, logging: {} },
    { hostContext: { ...hostContext, toolInfo: { tool } } });
  bridge.oncalltool = async (params) => {
    window.hostEvents.push({ method: "tools/call", params, at: Date.now() });
    const r = await fetch("/call", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(params) });
    if (!r.ok) throw new Error("call failed: " + r.status);
    return r.json();
  };
  bridge.onupdatemodelcontext = async (params) => {
    window.hostEvents.push({ method: "ui/update-model-context", params, at: Date.now() });
    return {};
  };
  bridge.onopenlink = async (params) => {
    window.hostEvents.push({ method: "ui/open-link", params, at: Date.now() });
    return {};
  };
  bridge.onsizechange = (params) => {
    if (params.height) iframe.style.height = params.height + "px";
  };
  bridge.oninitialized = () => {
    window.hostEvents.push({ method: "ui/notifications/initialized", at: Date.now() });
    bridge.sendToolInput({ arguments: input || {} });
    bridge.sendToolResult(result);
  };
  window.hostBridge = bridge;
  // Listen before the view loads: its ui/initialize is sent while the
  // document is still loading, and a message sent before the host listens
  // is lost (the view would wait in vain).
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  const loaded = new Promise((r) => iframe.addEventListener("load", r, { once: true }));
  iframe.srcdoc = html;
  await loaded;
};

// setTheme changes the host context as a host does when the user switches.
window.setHostContext = (ctx) => window.hostBridge.setHostContext(ctx);
