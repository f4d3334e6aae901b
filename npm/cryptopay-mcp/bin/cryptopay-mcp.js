#!/usr/bin/env node
// Launcher of the cryptopay-mcp binary (the esbuild/biome pattern): npm
// installs the one optional dependency @cryptopay-mcp/<platform>-<arch>
// that matches this machine, and this script runs its binary with stdio
// inherited (stdout stays the MCP protocol: nothing here writes to it),
// forwards termination signals and exits with the binary's status.
"use strict";

const { spawn } = require("node:child_process");

const PACKAGES = {
  "darwin arm64": "@cryptopay-mcp/darwin-arm64",
  "darwin x64": "@cryptopay-mcp/darwin-x64",
  "linux arm64": "@cryptopay-mcp/linux-arm64",
  "linux x64": "@cryptopay-mcp/linux-x64",
  "win32 arm64": "@cryptopay-mcp/win32-arm64",
  "win32 x64": "@cryptopay-mcp/win32-x64",
};

function die(message) {
  process.stderr.write(`cryptopay-mcp (npm launcher): ${message}\n`);
  process.exit(1);
}

function binaryPath() {
  if (process.env.CRYPTOPAY_MCP_BINARY) {
    return process.env.CRYPTOPAY_MCP_BINARY;
  }
  const platform = `${process.platform} ${process.arch}`;
  const pkg = PACKAGES[platform];
  if (!pkg) {
    die(`no prebuilt binary for ${platform}; use a release archive or \`go install\` (see the README)`);
  }
  const exe = process.platform === "win32" ? "cryptopay-mcp.exe" : "cryptopay-mcp";
  try {
    return require.resolve(`${pkg}/bin/${exe}`);
  } catch {
    die(
      `${pkg} is not installed. npm skips it when optional dependencies are omitted ` +
        `(--omit=optional, --no-optional): reinstall without that, or set CRYPTOPAY_MCP_BINARY to a cryptopay-mcp binary`,
    );
  }
}

const child = spawn(binaryPath(), process.argv.slice(2), { stdio: "inherit", windowsHide: true });

// A signal sent to this process alone (a client stopping its server) is
// passed on; the binary shuts down cleanly and its exit ends this process.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
  }
};
for (const signal of SIGNALS) {
  if (process.platform === "win32" && signal !== "SIGINT" && signal !== "SIGTERM") continue;
  process.on(signal, forward);
}

child.on("error", (err) => die(`cannot start ${child.spawnfile}: ${err.message}`));
child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so the caller sees what the binary saw.
    for (const s of SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
