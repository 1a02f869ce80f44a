#!/usr/bin/env node
// Build dist/ when it is missing or older than any source it is built from (for `npm run e2e`
// and the Makefile), so a stale UI is never tested or served.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const webapp = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(webapp, "dist", "index.html");
const SOURCES = [
  "src",
  "public",
  "index.html",
  "package.json",
  "package-lock.json",
  "vite.config.ts",
  "tsconfig.json",
  "tsconfig.app.json",
];

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(join(path, name))), stat.mtimeMs);
}

const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
const changedAt = Math.max(...SOURCES.map((s) => newest(join(webapp, s))));
if (builtAt >= changedAt) {
  console.log("dist/ is up to date");
} else {
  console.log(builtAt ? "dist/ is older than its sources: building" : "dist/ is missing: building");
  const run = spawnSync("npm", ["run", "build"], { cwd: webapp, stdio: "inherit" });
  process.exit(run.status ?? 1);
}
