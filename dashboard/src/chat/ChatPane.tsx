import { useEffect, useRef, useState } from "react";
import { useApi } from "../api/context";
import { CHAT_KEY_PREFIX } from "../auth/session";
import type { MaintenanceItem, Vehicle } from "../api/types";
import { formatDate } from "../format";
import { useQuery, useReloadAfterWrite } from "../api/useQuery";
import { nextDue } from "../vehicle/VehicleHeader";
import { LineForm } from "../ui/LineForm";
import { StatusBadge } from "../ui/StatusBadge";
import {
  ask,
  history,
  isUnavailable,
  sendFeedback,
  suggestions,
  type ChatTurn,
  type Recommendation,
  type Suggestions,
} from "./api";

const DEFAULT_PROMPTS = [
  "When was the last oil change?",
  "What maintenance is due next?",
  "How much have I spent on this car in the last year?",
];

/** The longest question the chat API takes (docs/chat.md: a longer one is a 422). */
export const MAX_QUESTION_CHARS = 500;

const UNAVAILABLE =
  "The chat historian is not available on this server yet. The timeline has the full history.";

const conversationKey = (vehicleId: string) => `${CHAT_KEY_PREFIX}${vehicleId}`;

/** Maintenance recommendations from the scheduler's own status, when the historian offers none. */
export function recommendationsFrom(items: readonly MaintenanceItem[]): Recommendation[] {
  return nextDue(items)
    .filter((i) => i.status === "overdue" || i.status === "due_soon")
    .map((i) => ({ title: i.title, detail: i.reason, status: i.status }));
}

/** How often, and how far apart, the suggestions are read again while the historian has not yet learnt the
 * vehicle's new status (about 4 s in all). */
const STATUS_CATCH_UP_READS = 10;
const STATUS_CATCH_UP_MS = 400;

export function ChatPane({
  vehicle,
  maintenance,
  recorded = 0,
  refresh = 0,
  onCitation,
}: {
  vehicle: Vehicle;
  maintenance: MaintenanceItem[];
  /** Writes the page has made — events recorded, the vehicle sold or archived: the suggestions (and their
   * recommendations) are read again after each. */
  recorded?: number;
  /** Bumped while a new vehicle's views catch up: the suggestions are read again. */
  refresh?: number;
  onCitation: (eventId: string) => void;
}) {
  const { api } = useApi();
  const [turns, setTurns] = useState<ChatTurn[]>([]);
  const [conversationId, setConversationId] = useState<string | undefined>(
    () => sessionStorage.getItem(conversationKey(vehicle.id)) ?? undefined,
  );
  const [unavailable, setUnavailable] = useState(false);
  const [busy, setBusy] = useState(false);
  const log = useRef<HTMLOListElement>(null);

  const hints = useQuery(`suggestions:${vehicle.id}`, (signal) => {
    void signal;
    return suggestions(api, vehicle.id).catch((e: unknown) => {
      if (isUnavailable(e)) setUnavailable(true);
      const none: Suggestions = { prompts: [], recommendations: [] };
      return none;
    });
  });
  useReloadAfterWrite(recorded, hints.reload);
  const { reload: reloadHints } = hints;
  useEffect(() => {
    if (refresh) reloadHints();
  }, [refresh, reloadHints]);
  // The historian learns a sale or an archive from the bus a moment after the page made it: while its
  // suggestions say another status than the vehicle's, they are read again (a few times, then left).
  const behind = useRef(0);
  const known = hints.data?.vehicleStatus;
  const status = vehicle.status ?? "active";
  useEffect(() => {
    if (known == null || known === status) {
      behind.current = 0;
      return;
    }
    if (behind.current >= STATUS_CATCH_UP_READS) return;
    behind.current += 1;
    const timer = setTimeout(reloadHints, STATUS_CATCH_UP_MS);
    return () => clearTimeout(timer);
  }, [hints.data, known, status, reloadHints]);

  // The conversation of this tab, if there is one: show its history.
  useEffect(() => {
    const id = sessionStorage.getItem(conversationKey(vehicle.id));
    if (!id) return;
    let live = true;
    history(api, vehicle.id, id).then(
      (h) => live && setTurns(h),
      () => {
        if (!live) return;
        sessionStorage.removeItem(conversationKey(vehicle.id));
        setConversationId(undefined);
      },
    );
    return () => {
      live = false;
    };
  }, [api, vehicle.id]);

  useEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [turns]);

  async function submit(text: string) {
    const q = text.trim();
    if (!q || busy) return;
    setBusy(true);
    const id = `t${Date.now()}`;
    setTurns((ts) => [...ts, { id, question: q, answer: "", citations: [], streaming: true }]);
    const update = (f: (t: ChatTurn) => ChatTurn) =>
      setTurns((ts) => ts.map((t) => (t.id === id ? f(t) : t)));
    try {
      const done = await ask(api, vehicle.id, q, conversationId, (delta) =>
        update((t) => ({ ...t, answer: t.answer + delta })),
      );
      update((t) => ({
        ...t,
        answer: done.answer || t.answer,
        citations: done.citations,
        messageId: done.messageId,
        streaming: false,
      }));
      if (done.conversationId) {
        setConversationId(done.conversationId);
        sessionStorage.setItem(conversationKey(vehicle.id), done.conversationId);
      }
    } catch (e) {
      if (isUnavailable(e)) setUnavailable(true);
      const message = isUnavailable(e)
        ? UNAVAILABLE
        : e instanceof Error
          ? e.message
          : "The question could not be answered. Please try again.";
      update((t) => ({ ...t, streaming: false, error: message }));
    } finally {
      setBusy(false);
    }
  }

  async function feedback(turn: ChatTurn, helpful: boolean) {
    if (!conversationId || !turn.messageId) return;
    setTurns((ts) => ts.map((t) => (t.id === turn.id ? { ...t, feedback: helpful } : t)));
    try {
      await sendFeedback(api, vehicle.id, conversationId, turn.messageId, helpful);
    } catch {
      setTurns((ts) => ts.map((t) => (t.id === turn.id ? { ...t, feedback: undefined } : t)));
    }
  }

  const prompts = hints.data?.prompts.length ? hints.data.prompts : DEFAULT_PROMPTS;
  // The historian's list when it answers (empty means nothing is due); the scheduler's own due items only
  // while the historian is not deployed, and never for a sold or archived vehicle (nothing is due for it).
  const retired = (vehicle.status ?? "active") !== "active";
  const recommendations = retired
    ? []
    : unavailable
      ? recommendationsFrom(maintenance)
      : (hints.data?.recommendations ?? []);

  return (
    <div className="chat card">
      <h2 id="chat-title">Ask the historian</h2>
      {unavailable && (
        <p className="notice" role="status">
          {UNAVAILABLE}
        </p>
      )}
      {recommendations.length > 0 && (
        <div className="recommendations">
          <h3 className="label">Recommended maintenance</h3>
          <ul>
            {recommendations.map((r) => (
              <li key={r.title}>
                {r.status === "overdue" || r.status === "due_soon" ? (
                  <StatusBadge status={r.status}>{r.title}</StatusBadge>
                ) : (
                  <strong>{r.title}</strong>
                )}
                {r.detail && <span className="muted"> {r.detail}</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
      <ol
        className="chat-log"
        ref={log}
        aria-live="polite"
        aria-busy={busy}
        aria-label="Conversation"
        // It scrolls (on a short screen, after a few answers): keyboard users can reach and scroll it even
        // when none of its answers has a button (axe: scrollable-region-focusable).
        tabIndex={0}
      >
        {turns.length === 0 && (
          <li className="muted chat-empty">
            Ask about this vehicle&apos;s history. Answers cite the records they come from.
          </li>
        )}
        {turns.map((t) => (
          <li key={t.id} className="turn">
            <p className="bubble question">{t.question}</p>
            <div className={`bubble answer${t.streaming ? " streaming" : ""}`}>
              {t.error ? (
                <p className="error">{t.error}</p>
              ) : (
                <p>{t.answer || (t.streaming ? "Thinking…" : "")}</p>
              )}
              {t.citations.length > 0 && (
                <ul className="citations" aria-label="Sources">
                  {t.citations.map((c) => (
                    <li key={c.eventId}>
                      <button
                        type="button"
                        className="citation"
                        onClick={() => onCitation(c.eventId)}
                      >
                        {c.title ?? "Record"}
                        {c.occurredAt ? ` · ${formatDate(c.occurredAt)}` : ""}
                      </button>
                    </li>
                  ))}
                </ul>
              )}
              {!t.streaming && !t.error && t.messageId && conversationId && (
                <div className="helpful" role="group" aria-label="Was this helpful?">
                  <button
                    type="button"
                    aria-pressed={t.feedback === true}
                    onClick={() => void feedback(t, true)}
                  >
                    Helpful
                  </button>
                  <button
                    type="button"
                    aria-pressed={t.feedback === false}
                    onClick={() => void feedback(t, false)}
                  >
                    Not helpful
                  </button>
                  {t.feedback !== undefined && (
                    <span className="muted">Thanks for the feedback.</span>
                  )}
                </div>
              )}
            </div>
          </li>
        ))}
      </ol>
      <div className="prompts" role="group" aria-label="Quick prompts">
        {prompts.map((p) => (
          <button
            key={p}
            type="button"
            className="chip"
            aria-disabled={busy || undefined}
            onClick={() => void submit(p)}
          >
            {p}
          </button>
        ))}
      </div>
      <LineForm
        className="ask"
        label="Your question"
        hideLabel
        input={{
          placeholder: "Ask about this vehicle…",
          maxLength: MAX_QUESTION_CHARS,
          "aria-describedby": "chat-limit",
        }}
        button="Ask"
        buttonClass="primary"
        busy={busy}
        onSubmit={(text) => void submit(text)}
      />
      <p id="chat-limit" className="muted small chat-limit">
        Up to {MAX_QUESTION_CHARS} characters.
      </p>
    </div>
  );
}
