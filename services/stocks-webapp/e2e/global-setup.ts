/**
 * Start what the e2e tests drive: a real API on the simulated broker (its own SQLite file
 * under a temporary folder, a market open around the clock, a password and an admin API
 * key set through the CLI), and the built UI on a same-origin static server that proxies
 * /api to it. The tests get the addresses and credentials through `inject()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { startStaticServer } from "./static-server";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    apiUrl: string;
    apiKey: string;
    password: string;
    artifacts: string;
  }
}

const webapp = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(webapp, "../..");
const stocksApi = process.env.STOCKS_API_BIN ?? join(repo, ".venv/bin/stocks-api");
const PASSWORD = "e2e-password-1234";

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

// Two earlier broker sessions in the audit trail, written as the API's owner writes them
// (BrokerSessionLog), for the dashboard's sessions panel: a socket drop and a takeover.
const SEED_SESSIONS = `
import asyncio, os
from datetime import UTC, datetime, timedelta
from stocks_api.connection.sessions import BrokerSessionLog
from stocks_api.core.config import DatabaseSettings
from stocks_api.core.database import Database

async def main():
    db = Database(DatabaseSettings(url=os.environ["DATABASE_URL"]))
    log = BrokerSessionLog(sessionmaker=db.sessionmaker, instance="1001@e2e-host")
    start = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    endpoint = dict(kind="ibkr", host="127.0.0.1", port=4002, server_version="176", account_id="DU1234567")
    assert await log.opened(**endpoint, at=start) is not None
    log.note_orders_sent(4)
    log.note_fills(3)
    await log.closed(reason="socket_drop", at=start + timedelta(minutes=42, seconds=10))
    assert await log.opened(**endpoint, at=start + timedelta(hours=1)) is not None
    await log.closed(reason="takeover", at=start + timedelta(hours=2, minutes=5))
    await db.dispose()

asyncio.run(main())
`;

/** Run one CLI command to completion; its output, or an error with it. */
function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string, input?: string): string {
  const run = spawnSync(stocksApi, args, { env, cwd, input, encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) {
    throw new Error(`stocks-api ${args.join(" ")} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  return run.stdout;
}

async function waitReady(url: string, api: ChildProcess, log: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (api.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/health/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-30).join("\n") : "";
  throw new Error(`the API did not become ready (exit ${api.exitCode}); its log:\n${tail}`);
}

async function stop(api: ChildProcess): Promise<void> {
  if (api.exitCode !== null || api.signalCode !== null) return;
  const exited = new Promise<void>((done) => api.once("exit", () => done()));
  api.kill("SIGTERM");
  const timer = setTimeout(() => api.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export default async function setup(project: TestProject) {
  if (!existsSync(stocksApi)) throw new Error(`${stocksApi} not found: run \`make install\` at the repository root`);
  const dist = join(webapp, "dist");
  if (!existsSync(join(dist, "index.html")))
    throw new Error("dist/ is missing: run `npm run build` (npm run e2e does)");
  const artifacts = join(webapp, "test-artifacts");
  mkdirSync(artifacts, { recursive: true });

  const scratch = mkdtempSync(join(tmpdir(), "stocks-e2e-"));
  const port = await freePort();
  // A clean environment: a developer's .env and exported settings must not leak in
  // (the scratch folder is the working directory, so no .env is read either).
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: scratch,
    LANG: "C.UTF-8",
    ENVIRONMENT: "development",
    DATABASE_URL: `sqlite+aiosqlite:///${join(scratch, "e2e.db")}`,
    SESSION_OPEN: "00:00",
    SESSION_CLOSE: "24:00",
    SESSION_DAYS: "mon-sun",
    SESSION_EXCHANGE: "none",
    SESSION_TIMEZONE: "UTC",
    SIM_SEED: "7",
    // A flat market at the reference prices the specs name; the docs screenshot shows the real one.
    SIM_VOLATILITY: process.env.UPDATE_DOCS_SCREENSHOT ? "" : "0",
    // ... but TSLA moves (its own 500 % a year), for the tests that follow live prices.
    SIM_SYMBOLS: "AAPL,MSFT,GOOGL,AMZN,NVDA,META,TSLA::5,SPY,QQQ,IBM,AMD,NFLX",
    AUTH_BOOTSTRAP_ADMIN_KEY: "false",
    AUTH_TOKEN_RATE_LIMIT: "1000/minute",
    // Every test signs in as admin, some at once: no per-username wait between them.
    AUTH_USERNAME_RATE_LIMIT: "1000/minute",
    LOG_LEVEL: "warning",
  };
  let api: ChildProcess | null = null;
  let server: Awaited<ReturnType<typeof startStaticServer>> | null = null;
  try {
    cli(["migrate"], env, scratch);
    const seeded = spawnSync(join(dirname(stocksApi), "python"), ["-c", SEED_SESSIONS], {
      env,
      cwd: scratch,
      encoding: "utf8",
      timeout: 60_000,
    });
    if (seeded.status !== 0) throw new Error(`seeding the broker sessions failed:\n${seeded.stderr}`);
    cli(["set-password", "--password-stdin"], env, scratch, `${PASSWORD}\n`);
    const apiKey = cli(["create-api-key", "--name", "e2e", "--scopes", "read,trade,admin"], env, scratch)
      .trim()
      .split("\n")
      .pop()!
      .trim();

    const log = join(artifacts, "api.log");
    const logStream = createWriteStream(log);
    api = spawn(stocksApi, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
      env,
      cwd: scratch,
      stdio: ["ignore", "pipe", "pipe"],
    });
    api.stdout?.pipe(logStream);
    api.stderr?.pipe(logStream);
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitReady(apiUrl, api, log);

    server = await startStaticServer(dist, port);
    project.provide("baseUrl", server.url);
    project.provide("apiUrl", apiUrl);
    project.provide("apiKey", apiKey);
    project.provide("password", PASSWORD);
    project.provide("artifacts", artifacts);
  } catch (error) {
    await server?.close();
    if (api) await stop(api);
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }

  return async () => {
    await server?.close();
    if (api) await stop(api);
    rmSync(scratch, { recursive: true, force: true });
  };
}
