/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The bundle is committed (see docs/dashboard.md), so the build must be byte-for-byte reproducible:
// no source maps, no timestamps, hashed names derived from content only.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: process.env.VWC_DASHBOARD_OUT ?? "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    proxy: { "/v1": "http://127.0.0.1:8080" },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test-setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
