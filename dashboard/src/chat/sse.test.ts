import { describe, expect, it } from "vitest";
import { SseParser, parseSse } from "./sse";

describe("SSE parsing", () => {
  it("reads named events with JSON data", () => {
    const events = parseSse(
      'event: delta\ndata: {"text":"Hel"}\n\nevent: delta\ndata: {"text":"lo"}\n\nevent: done\ndata: {"answer":"Hello"}\n\n',
    );
    expect(events.map((e) => e.event)).toEqual(["delta", "delta", "done"]);
    expect(JSON.parse(events[2]!.data)).toEqual({ answer: "Hello" });
  });

  it("joins multi-line data with newlines and defaults the event name", () => {
    expect(parseSse("data: one\ndata: two\n\n")).toEqual([{ event: "message", data: "one\ntwo" }]);
  });

  it("keeps events split across chunks at any byte", () => {
    const text = 'event: delta\r\ndata: {"text":"a b"}\r\n\r\nevent: done\r\ndata: {}\r\n\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(events.map((e) => [e.event, e.data])).toEqual([
        ["delta", '{"text":"a b"}'],
        ["done", "{}"],
      ]);
    }
  });

  it("ignores comments and events without data, and keeps only one leading space", () => {
    expect(parseSse(": keep-alive\n\nevent: ping\n\ndata:  two spaces\n\n")).toEqual([
      { event: "message", data: " two spaces" },
    ]);
  });

  it("drops an unterminated final event", () => {
    expect(parseSse("event: delta\ndata: partial")).toEqual([]);
  });

  it("remembers the last event id", () => {
    expect(parseSse("id: 7\ndata: x\n\n")).toEqual([{ event: "message", data: "x", id: "7" }]);
  });
});
