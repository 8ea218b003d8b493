import { afterEach, describe, expect, it } from "vitest";
import { clearSession, decodeToken, isExpired, saveSession } from "./session";

function token(claims: object): string {
  const b64 = (o: object) =>
    btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "HS256" })}.${b64(claims)}.sig`;
}

afterEach(() => sessionStorage.clear());

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

  it("keeps the chats for the same user and forgets them for another, or on sign-out", () => {
    const ann = token({ sub: "ann", org: "org_a", roles: ["owner"], exp: 10 });
    saveSession(ann);
    sessionStorage.setItem("vwc.chat.veh_1", "conv_ann");
    // The session expired and Ann signed in again: her conversation is still hers.
    clearSession();
    saveSession(ann);
    expect(sessionStorage.getItem("vwc.chat.veh_1")).toBe("conv_ann");
    // Someone else's token in this tab: Ann's conversation is not shown to them.
    saveSession(token({ sub: "bob", org: "org_a", roles: ["viewer"], exp: 10 }));
    expect(sessionStorage.getItem("vwc.chat.veh_1")).toBeNull();
    sessionStorage.setItem("vwc.chat.veh_1", "conv_bob");
    saveSession(token({ sub: "bob", org: "org_b", roles: ["viewer"], exp: 10 }));
    expect(sessionStorage.getItem("vwc.chat.veh_1")).toBeNull();
    sessionStorage.setItem("vwc.chat.veh_2", "conv_bob_b");
    clearSession(true);
    expect(sessionStorage.getItem("vwc.chat.veh_2")).toBeNull();
    expect(sessionStorage.getItem("vwc.token")).toBeNull();
  });
});
