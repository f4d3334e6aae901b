#!/usr/bin/env bash
# Bundles the MCP Apps host harness (host.js + @modelcontextprotocol/ext-apps'
# AppBridge and its dependencies, pinned in ../package-lock.json) into
# dist/host.js. Needs `npm ci` in e2e/ first. Prints the bundle's path.
set -euo pipefail
cd "$(dirname "$0")"
../node_modules/.bin/esbuild host.js --bundle --format=iife --platform=browser --target=chrome120 \
	--log-level=warning --outfile=dist/host.js
echo "$PWD/dist/host.js"
