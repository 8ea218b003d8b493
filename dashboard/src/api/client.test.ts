import { createHash, webcrypto } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api, bodySha256 } from "./client";
import { json, mockFetch } from "../test-utils";

function sentInit(fetch: ReturnType<typeof mockFetch>): RequestInit {
  const call = fetch.mock.calls[0];
  if (!call) throw new Error("nothing was fetched");
  return call[1] ?? {};
}

function sentHeaders(fetch: ReturnType<typeof mockFetch>): Record<string, string> {
  return sentInit(fetch).headers as Record<string, string>;
}

describe("the body hash a signed origin needs", () => {
  beforeEach(() => {
    // Node's Web Crypto, as a browser on https (or localhost) has it.
    vi.stubGlobal("crypto", webcrypto);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("is the hex SHA-256 of exactly the bytes sent", async () => {
    const fetch = mockFetch(() => json({ answer: "x" }));
    const api = new Api("t0k3n", vi.fn());
    await api.raw("/v1/vehicles/veh_1/chat", {
      method: "POST",
      body: { question: "When was the oil last changed? — ölwechsel" },
    });
    const init = sentInit(fetch);
    const expected = createHash("sha256")
      .update(init.body as string, "utf8")
      .digest("hex");
    expect(sentHeaders(fetch)["x-amz-content-sha256"]).toBe(expected);
    expect(sentHeaders(fetch).Authorization).toBe("Bearer t0k3n");
  });

  it("is not sent without a body", async () => {
    const fetch = mockFetch(() => json({ items: [] }));
    await new Api("t0k3n", vi.fn()).json("/v1/vehicles");
    expect(sentHeaders(fetch)["x-amz-content-sha256"]).toBeUndefined();
  });

  it("is left out where the page has no Web Crypto", async () => {
    vi.stubGlobal("crypto", undefined);
    expect(await bodySha256("{}")).toBeUndefined();
    const fetch = mockFetch(() => json({}));
    await new Api("t0k3n", vi.fn()).raw("/v1/x", { method: "POST", body: {} });
    expect(sentHeaders(fetch)["x-amz-content-sha256"]).toBeUndefined();
  });
});

describe("refusals", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("say what the role may not do, not the permission's internal name", async () => {
    mockFetch(() =>
      json(
        { status: 403, title: "forbidden", detail: "your roles do not allow record_service_event" },
        403,
        "application/problem+json",
      ),
    );
    const api = new Api("t0k3n", vi.fn());
    await expect(
      api.json("/v1/vehicles/veh_1/events", { method: "POST", body: {} }),
    ).rejects.toThrow(
      "Your role does not allow you to record maintenance, repairs or odometer readings.",
    );
  });
});
