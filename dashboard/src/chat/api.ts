// The chat historian's routes as DESIGN §4.3 documents them. The service is being built alongside the
// dashboard, so answers are read defensively and a missing route means "not available yet".
import { ApiError, type Api } from "../api/client";
import { readSse } from "./sse";

export interface Citation {
  eventId: string;
  occurredAt?: string;
  title?: string;
}

export interface ChatAnswer {
  answer: string;
  citations: Citation[];
  conversationId?: string;
  messageId?: string;
}

export interface ChatTurn {
  id: string;
  question: string;
  answer: string;
  citations: Citation[];
  messageId?: string;
  streaming?: boolean;
  error?: string;
  feedback?: boolean;
}

export interface Recommendation {
  title: string;
  detail?: string;
  status?: string;
}

export interface Suggestions {
  prompts: string[];
  recommendations: Recommendation[];
  /** The vehicle's status as the historian holds it (null before it knows the vehicle). */
  vehicleStatus?: "active" | "sold" | "archived" | null;
}

/** The chat routes answer 404 "route not found" until the historian is deployed. */
export function isUnavailable(e: unknown): boolean {
  return (
    e instanceof ApiError &&
    (e.status === 404 || e.status === 501) &&
    /route/i.test(e.problem?.detail ?? "route")
  );
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function toCitations(v: unknown): Citation[] {
  if (!Array.isArray(v)) return [];
  return v
    .map((c: Record<string, unknown>) => ({
      eventId: str(c?.eventId) ?? "",
      occurredAt: str(c?.occurredAt),
      title: str(c?.title),
    }))
    .filter((c) => c.eventId);
}

/** A `delta` event's text: `{"text": …}`, `{"delta": …}`, `{"content": …}` or the raw data. */
export function deltaText(data: string): string {
  try {
    const v = JSON.parse(data) as unknown;
    if (typeof v === "string") return v;
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      return str(o.text) ?? str(o.delta) ?? str(o.content) ?? "";
    }
  } catch {
    // Plain text data.
  }
  return data;
}

export function toAnswer(v: unknown): ChatAnswer {
  const o = (v && typeof v === "object" ? v : {}) as Record<string, unknown>;
  return {
    answer: str(o.answer) ?? "",
    citations: toCitations(o.citations),
    conversationId: str(o.conversationId),
    messageId: str(o.messageId),
  };
}

export async function ask(
  api: Api,
  vehicleId: string,
  question: string,
  conversationId: string | undefined,
  onDelta: (text: string) => void,
  signal?: AbortSignal,
): Promise<ChatAnswer> {
  const res = await api.raw(`/v1/vehicles/${encodeURIComponent(vehicleId)}/chat`, {
    method: "POST",
    body: conversationId ? { question, conversationId } : { question },
    headers: { Accept: "text/event-stream" },
    signal,
  });
  const type = res.headers.get("content-type") ?? "";
  if (!type.includes("text/event-stream") || !res.body) {
    const answer = toAnswer(await res.json());
    onDelta(answer.answer);
    return answer;
  }
  let done: ChatAnswer | undefined;
  let failure: string | undefined;
  await readSse(res.body, (e) => {
    if (e.event === "delta" || e.event === "message") onDelta(deltaText(e.data));
    else if (e.event === "done") done = toAnswer(JSON.parse(e.data));
    else if (e.event === "error") {
      try {
        const p = JSON.parse(e.data) as { detail?: string; message?: string };
        failure = p.detail ?? p.message;
      } catch {
        failure = e.data;
      }
    }
  });
  if (failure) throw new ApiError(500, failure);
  if (!done)
    throw new ApiError(500, "The answer stopped before it was complete. Please ask again.");
  return done;
}

export async function history(
  api: Api,
  vehicleId: string,
  conversationId: string,
): Promise<ChatTurn[]> {
  const raw = await api.json<unknown>(
    `/v1/vehicles/${encodeURIComponent(vehicleId)}/chat/${encodeURIComponent(conversationId)}`,
  );
  const o = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const messages = Array.isArray(o.messages) ? o.messages : Array.isArray(raw) ? raw : [];
  return messages.map((m: Record<string, unknown>, i: number) => ({
    id: str(m.id) ?? str(m.messageId) ?? `h${i}`,
    messageId: str(m.id) ?? str(m.messageId),
    question: str(m.question) ?? str(m.prompt) ?? "",
    answer: str(m.answer) ?? "",
    citations: toCitations(m.citations),
  }));
}

export async function suggestions(api: Api, vehicleId: string): Promise<Suggestions> {
  const raw = await api.json<Record<string, unknown>>(
    `/v1/vehicles/${encodeURIComponent(vehicleId)}/chat/suggestions`,
  );
  const prompts = (
    Array.isArray(raw.prompts)
      ? raw.prompts
      : Array.isArray(raw.quickPrompts)
        ? raw.quickPrompts
        : []
  )
    .map((p: unknown) =>
      typeof p === "string"
        ? p
        : (str((p as Record<string, unknown>)?.text) ??
          str((p as Record<string, unknown>)?.question)),
    )
    .filter((p): p is string => !!p);
  const recommendations = (Array.isArray(raw.recommendations) ? raw.recommendations : [])
    .map((r: Record<string, unknown>) => ({
      title: str(r?.title) ?? str(r?.task) ?? "",
      detail: str(r?.detail) ?? str(r?.reason) ?? str(r?.body),
      status: str(r?.status),
    }))
    .filter((r) => r.title);
  const status = raw.vehicleStatus;
  const vehicleStatus =
    status === "active" || status === "sold" || status === "archived" ? status : null;
  return { prompts, recommendations, vehicleStatus };
}

export async function sendFeedback(
  api: Api,
  vehicleId: string,
  conversationId: string,
  messageId: string,
  helpful: boolean,
): Promise<void> {
  await api.raw(
    `/v1/vehicles/${encodeURIComponent(vehicleId)}/chat/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/feedback`,
    { method: "POST", body: { helpful } },
  );
}
