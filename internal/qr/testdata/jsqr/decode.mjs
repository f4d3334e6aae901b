// Decodes PNG files with jsQR: one path per line on stdin, one JSON line per
// file on stdout, {"file": path, "text": decoded} or {"file": path, "error": why}.
// Used by internal/qr/qrtest; one process decodes a whole batch.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import jsQR from "jsqr";
import { PNG } from "pngjs";

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const file of rl) {
  if (file === "") continue;
  let out;
  try {
    const png = PNG.sync.read(readFileSync(file));
    const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
    out = code ? { file, text: code.data } : { file, error: "no QR code found" };
  } catch (e) {
    out = { file, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
