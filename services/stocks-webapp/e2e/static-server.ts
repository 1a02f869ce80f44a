/**
 * A tiny same-origin server for the e2e tests: the built `dist` folder, with /api, /health
 * and /docs proxied to the API (HTTP and the WebSocket upgrade), as nginx or the API itself
 * will serve the UI. It keeps the browser's Host header, so the API sees a same-origin page.
 *
 * Test hooks under /__e2e/: `POST /__e2e/websockets/drop?block_ms=N` cuts every proxied
 * WebSocket and refuses new ones for N ms (to test how the page copes with a lost stream).
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { extname, join, normalize, resolve } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".ico": "image/x-icon",
};

const PROXIED = /^\/(api\/|health(\/|$)|docs(\/|$)|openapi\.json$)/;

/**
 * The Content-Security-Policy the UI is built to run under (same-origin scripts, styles,
 * API and WebSocket; no inline code). Served here so the e2e run proves it: a violation is
 * a console error, and console errors fail the tests. nginx and the API should send it too.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export interface StaticServer {
  url: string;
  close: () => Promise<void>;
}

function rawHead(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

export async function startStaticServer(dist: string, apiPort: number): Promise<StaticServer> {
  const root = resolve(dist);
  const sockets = new Set<Socket>();
  let blockedUntil = 0;
  let apiDownUntil = 0; // the API "gone": every proxied request gets nginx's 502

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/__e2e/websockets/drop" && req.method === "POST") {
      blockedUntil = Date.now() + Number(url.searchParams.get("block_ms") ?? 0);
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ dropped: count }));
      return;
    }
    if (url.pathname === "/__e2e/api/down" && req.method === "POST") {
      const ms = Number(url.searchParams.get("ms") ?? 0);
      apiDownUntil = Date.now() + ms;
      blockedUntil = Math.max(blockedUntil, apiDownUntil);
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ down_ms: ms }));
      return;
    }
    if (PROXIED.test(url.pathname) && Date.now() < apiDownUntil) {
      res.writeHead(502, { "content-type": "text/plain" }).end("bad gateway: the API is down (e2e)");
      return;
    }
    if (PROXIED.test(url.pathname)) {
      const upstream = request(
        { host: "127.0.0.1", port: apiPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", (error) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`proxy error: ${error.message}`);
      });
      req.pipe(upstream);
      return;
    }
    // Static files; anything else is the single page (index.html).
    let path = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!path.startsWith(root) || !existsSync(path) || statSync(path).isDirectory()) path = join(root, "index.html");
    const immutable = path.includes(`${root}/assets/`);
    res.writeHead(200, {
      "content-type": TYPES[extname(path)] ?? "application/octet-stream",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
    });
    createReadStream(path).pipe(res);
  });

  server.on("upgrade", (req, client: Socket, head: Buffer) => {
    if (!PROXIED.test(req.url ?? "") || Date.now() < blockedUntil) {
      client.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const upstream = connect(apiPort, "127.0.0.1", () => {
      upstream.write(rawHead(req));
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    sockets.add(client);
    const drop = () => {
      sockets.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", drop).on("error", drop);
    upstream.on("close", drop).on("error", drop);
  });

  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
