/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The dev server proxies the API, so the app always talks to its own origin (/api/v1/...),
// exactly as when the API or nginx serves the built folder. The Host header is passed on
// unchanged (no changeOrigin): the API accepts a browser WebSocket only from its own origin.
const api = process.env.STOCKS_API_URL ?? "http://127.0.0.1:8000";
const proxy = {
  "/api": { target: api, ws: true },
  "/health": { target: api },
  "/docs": { target: api },
  "/openapi.json": { target: api },
};

export default defineConfig({
  plugins: [react()],
  server: { host: "127.0.0.1", port: 5173, strictPort: true, proxy },
  preview: { host: "127.0.0.1", port: 4173, strictPort: true, proxy },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      // The chart library in a chunk of its own: it changes less often than the app, so a
      // new release of the app leaves it cached in the browser.
      output: { manualChunks: { chart: ["lightweight-charts"] } },
    },
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    environment: "jsdom",
    restoreMocks: true,
  },
});
