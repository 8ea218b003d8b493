import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MaintenanceItem, Vehicle } from "../api/types";
import { json, mockFetch, problem, renderWithApi } from "../test-utils";
import { ChatPane } from "./ChatPane";

const vehicle = { id: "veh_1", odometerUnit: "mi" } as Vehicle;
const overdue = {
  task: "oil_change",
  title: "Oil and filter change",
  status: "overdue",
  reason: "Overdue by 30 days",
  dueCycle: "1",
  enabled: true,
} as MaintenanceItem;

/** A response whose body arrives in the given chunks, one after another. */
function stream(chunks: string[]): Response {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      for (const chunk of chunks) {
        c.enqueue(enc.encode(chunk));
        await new Promise((r) => setTimeout(r, 5));
      }
      c.close();
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
}

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("ChatPane", () => {
  it("streams an answer in, cites records and takes feedback", async () => {
    const fetch = mockFetch((url, init) => {
      if (url.pathname.endsWith("/suggestions"))
        return json({
          prompts: ["What is due?"],
          recommendations: [{ title: "Rotate tyres", reason: "Due in 200 mi" }],
        });
      if (url.pathname.endsWith("/feedback")) return new Response(null, { status: 204 });
      if (init.method === "POST")
        return stream([
          'event: delta\ndata: {"text":"Last oil change: "}\n\n',
          'event: delta\ndata: {"text":"2 March 2026."}\n\nevent: do',
          'ne\ndata: {"answer":"Last oil change: 2 March 2026.","citations":[{"eventId":"evt_9","occurredAt":"2026-03-02T09:30:00Z","title":"Oil and filter change"}],"conversationId":"conv_1","messageId":"msg_1"}\n\n',
        ]);
      return problem(404, "route not found");
    });
    const onCitation = vi.fn();
    renderWithApi(<ChatPane vehicle={vehicle} maintenance={[]} onCitation={onCitation} />);

    expect(await screen.findByRole("button", { name: "What is due?" })).toBeInTheDocument();
    expect(screen.getByText("Rotate tyres")).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText("Your question"), "When was the last oil change?");
    await userEvent.click(screen.getByRole("button", { name: "Ask" }));
    expect(await screen.findByText("Last oil change: 2 March 2026.")).toBeInTheDocument();
    expect(screen.getByRole("list", { name: "Conversation" })).toHaveAttribute(
      "aria-live",
      "polite",
    );
    // It scrolls: reachable by keyboard whatever it holds.
    expect(screen.getByRole("list", { name: "Conversation" })).toHaveAttribute("tabIndex", "0");

    await userEvent.click(
      await screen.findByRole("button", { name: /Oil and filter change · 2 Mar 2026/ }),
    );
    expect(onCitation).toHaveBeenCalledWith("evt_9");

    await userEvent.click(screen.getByRole("button", { name: "Helpful" }));
    expect(await screen.findByText("Thanks for the feedback.")).toBeInTheDocument();
    // Said at once; the request follows once its body is hashed (Web Crypto, asynchronous): wait for it (a
    // fresh clone's busy run read the calls before it and failed).
    const sent = () => fetch.mock.calls.find((c) => String(c[0]).endsWith("/feedback"));
    await waitFor(() => expect(sent()).toBeDefined());
    const feedback = sent();
    expect(String(feedback![0])).toContain("/chat/conv_1/messages/msg_1/feedback");
    expect(JSON.parse(String(feedback![1]!.body))).toEqual({ helpful: true });
    expect(sessionStorage.getItem("vwc.chat.veh_1")).toBe("conv_1");
  });

  it("says the historian is unavailable when its routes are missing, and still recommends maintenance", async () => {
    mockFetch(() => problem(404, "route not found"));
    renderWithApi(<ChatPane vehicle={vehicle} maintenance={[overdue]} onCitation={() => {}} />);
    expect(await screen.findByRole("status")).toHaveTextContent("not available on this server yet");
    expect(screen.getByText("Oil and filter change")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "What maintenance is due next?" }));
    await waitFor(() =>
      expect(screen.getAllByText(/not available on this server yet/)).toHaveLength(2),
    );
  });

  it("takes the historian's empty recommendations at its word: no fallback to the scheduler's items", async () => {
    mockFetch((url) => {
      if (url.pathname.endsWith("/suggestions"))
        return json({ prompts: ["What is due?"], recommendations: [], recordCount: 3 });
      return problem(404, "route not found");
    });
    renderWithApi(<ChatPane vehicle={vehicle} maintenance={[overdue]} onCitation={() => {}} />);
    expect(await screen.findByRole("button", { name: "What is due?" })).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Recommended maintenance" })).toBeNull();
    expect(screen.queryByText("Oil and filter change")).toBeNull();
  });

  it("reads the suggestions again while the historian does not yet know the vehicle is sold", async () => {
    let reads = 0;
    mockFetch((url) => {
      if (url.pathname.endsWith("/suggestions")) {
        reads += 1;
        // The first two answers are from before the historian learnt of the sale.
        return reads <= 2
          ? json({ prompts: ["What is it worth?"], recommendations: [], vehicleStatus: "active" })
          : json({ prompts: ["When was it sold?"], recommendations: [], vehicleStatus: "sold" });
      }
      return problem(404, "route not found");
    });
    const sold = { ...vehicle, status: "sold" } as Vehicle;
    renderWithApi(<ChatPane vehicle={sold} maintenance={[]} onCitation={() => {}} />);
    expect(
      await screen.findByRole("button", { name: "When was it sold?" }, { timeout: 3000 }),
    ).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "What is it worth?" })).toBeNull();
    expect(reads).toBe(3);
    // Caught up: no more reads.
    await new Promise((r) => setTimeout(r, 600));
    expect(reads).toBe(3);
  });

  it("recommends nothing for an archived vehicle, even without the historian", async () => {
    mockFetch(() => problem(404, "route not found"));
    const archived = { ...vehicle, status: "archived" } as Vehicle;
    renderWithApi(<ChatPane vehicle={archived} maintenance={[overdue]} onCitation={() => {}} />);
    expect(await screen.findByRole("status")).toHaveTextContent("not available on this server yet");
    expect(screen.queryByText("Oil and filter change")).toBeNull();
  });

  it("keeps focus on the quick prompt and Ask while an answer streams, and ignores them meanwhile", async () => {
    let finish: () => void = () => {};
    const posts: string[] = [];
    mockFetch((url, init) => {
      if (url.pathname.endsWith("/suggestions"))
        return json({ prompts: ["What is due?", "What did I spend?"], recommendations: [] });
      if (init.method === "POST") {
        posts.push(String(init.body));
        const enc = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            finish = () => {
              c.enqueue(enc.encode('event: done\ndata: {"answer":"Nothing is due."}\n\n'));
              c.close();
            };
          },
        });
        return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
      }
      return problem(404, "route not found");
    });
    renderWithApi(<ChatPane vehicle={vehicle} maintenance={[]} onCitation={() => {}} />);
    const prompt = await screen.findByRole("button", { name: "What is due?" });
    await userEvent.click(prompt);
    await waitFor(() => expect(posts).toHaveLength(1));
    // Busy: the prompt keeps focus (aria-disabled; a disabled button would drop it to <body>).
    expect(prompt).toHaveAttribute("aria-disabled", "true");
    expect(prompt).not.toBeDisabled();
    expect(prompt).toHaveFocus();
    const other = screen.getByRole("button", { name: "What did I spend?" });
    await userEvent.click(other);
    expect(other).toHaveFocus();
    await userEvent.type(screen.getByLabelText("Your question"), "And tyres?");
    const ask = screen.getByRole("button", { name: "Ask" });
    await userEvent.click(ask);
    expect(ask).toHaveFocus();
    expect(posts).toHaveLength(1);

    finish();
    expect(await screen.findByText("Nothing is due.")).toBeInTheDocument();
    await waitFor(() => expect(prompt).not.toHaveAttribute("aria-disabled"));
    await userEvent.click(ask);
    await waitFor(() => expect(posts).toHaveLength(2));
    expect(posts[1]).toContain("And tyres?");
  });

  it("takes questions up to the API's 500 characters, and says so", async () => {
    mockFetch(() => problem(404, "route not found"));
    renderWithApi(<ChatPane vehicle={vehicle} maintenance={[]} onCitation={() => {}} />);
    const line = screen.getByLabelText("Your question");
    expect(line).toHaveAttribute("maxLength", "500");
    expect(line).toHaveAccessibleDescription("Up to 500 characters.");
    await userEvent.click(line);
    await userEvent.paste("x".repeat(600));
    expect(line).toHaveValue("x".repeat(500));
  });
});
