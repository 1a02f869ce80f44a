#!/usr/bin/env node
// Print the gzipped size of what a browser loads first (index.html and every script,
// stylesheet and module preload it references) and fail above the budget.
//
//   node scripts/bundle-size.mjs [--budget-kb 300]
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const webapp = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(webapp, "dist");
const flag = process.argv.indexOf("--budget-kb");
const budgetKb = flag > 0 ? Number(process.argv[flag + 1]) : 300;
const budget = budgetKb * 1000;

let html;
try {
  html = readFileSync(join(dist, "index.html"), "utf8");
} catch {
  console.error("bundle-size: dist/index.html not found; run `npm run build` first");
  process.exit(2);
}

// <script type="module" src>, <link rel="stylesheet" href>, <link rel="modulepreload" href>.
const refs = new Set(["index.html"]);
for (const match of html.matchAll(/<(script|link)\b[^>]*>/g)) {
  const tag = match[0];
  const src = /\s(?:src|href)="([^"]+)"/.exec(tag)?.[1];
  if (!src || /^(data:|https?:)/.test(src)) continue;
  if (match[1] === "link" && !/rel="(stylesheet|modulepreload)"/.test(tag)) continue;
  refs.add(src.replace(/^\.?\//, ""));
}

const kb = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
let raw = 0;
let gzipped = 0;
const rows = [];
for (const ref of refs) {
  const content = readFileSync(join(dist, ref));
  const size = gzipSync(content, { level: 9 }).length;
  raw += content.length;
  gzipped += size;
  rows.push([ref, kb(content.length), kb(size)]);
}

console.log("\ninitial load (what index.html pulls in):");
for (const [name, r, g] of rows) console.log(`  ${name.padEnd(36)} ${r.padStart(10)} ${g.padStart(10)} gzip`);
console.log(`  ${"total".padEnd(36)} ${kb(raw).padStart(10)} ${kb(gzipped).padStart(10)} gzip (budget ${budgetKb} kB)`);
if (gzipped > budget) {
  console.error(`bundle-size: the initial load is ${kb(gzipped)} gzipped, over the ${budgetKb} kB budget`);
  process.exit(1);
}
