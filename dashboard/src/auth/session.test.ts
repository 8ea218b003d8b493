import { describe, expect, it } from "vitest";
import { decodeToken, isExpired } from "./session";

function token(claims: object): string {
  const b64 = (o: object) =>
    btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "HS256" })}.${b64(claims)}.sig`;
}

describe("session", () => {
  it("reads the claims the dashboard shows", () => {
    const s = decodeToken(token({ sub: "demo-owner", org: "org_demo", roles: ["owner"], exp: 10 }));
    expect(s).toMatchObject({ sub: "demo-owner", org: "org_demo", roles: ["owner"], exp: 10 });
  });
  it("knows when a token has expired", () => {
    const s = decodeToken(token({ sub: "a", org: "o", roles: [], exp: 100 }))!;
    expect(isExpired(s, 99_000)).toBe(false);
    expect(isExpired(s, 100_000)).toBe(true);
  });
  it("rejects what is not a JWT", () => {
    expect(decodeToken("nonsense")).toBeUndefined();
    expect(decodeToken("a.!!!.c")).toBeUndefined();
  });
});
