// One typed fetch wrapper: bearer token, JSON, and problem+json turned into an `ApiError` whose message
// is a sentence and whose `fields` map field names to their messages.
import { refusalSentence } from "../auth/permissions";
import type { FieldError, Problem } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly fields: Record<string, string>;
  readonly problem?: Problem;

  constructor(status: number, message: string, problem?: Problem) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.fields = {};
    for (const e of problem?.errors ?? ([] as FieldError[])) {
      if (!(e.field in this.fields)) this.fields[e.field] = e.message;
    }
  }
}

/** A sentence for a person: the problem's detail, else a plain description of the status. */
export function problemSentence(status: number, problem?: Partial<Problem>): string {
  const detail = problem?.detail?.trim();
  // A refusal names the permission it lacks (`record_service_event`): say what it means instead.
  if (status === 403) {
    const plain = refusalSentence(detail);
    if (plain) return plain;
  }
  if (detail) return sentence(detail);
  switch (status) {
    case 401:
      return "Your session has expired. Please sign in again.";
    case 403:
      return "You do not have permission to do that.";
    case 404:
      return "That could not be found.";
    case 429:
      return "Too many requests right now. Please wait a moment and try again.";
    case 503:
      return "The service is unavailable right now. Please try again shortly.";
    default:
      if (status >= 500) return "Something went wrong on the server. Please try again.";
      return sentence(problem?.title ?? `The request failed (${status})`);
  }
}

function sentence(s: string): string {
  const t = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/**
 * The hex SHA-256 of a request body, sent as `x-amz-content-sha256`. On AWS the chat's routes reach their
 * Lambda function URL through CloudFront's origin access control, which signs each request but cannot hash
 * its body, and Lambda accepts no unsigned payload: the page supplies the hash (docs/chat.md). Every other
 * server ignores the header. `undefined` where Web Crypto is missing (a page on plain http off this machine).
 */
export async function bodySha256(body: string | Blob): Promise<string | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return undefined;
  // A file's bytes are copied into this realm's buffer: the file may come from another.
  const bytes =
    typeof body === "string"
      ? new TextEncoder().encode(body)
      : new Uint8Array(await body.arrayBuffer()).slice();
  const digest = await subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export type UnauthorizedHandler = (message: string) => void;

export interface RequestOptions {
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is (`application/octet-stream`): a file. */
  file?: Blob;
  /** The file's media type instead; its body's SHA-256 is then sent too, as for JSON (`bodySha256`). */
  fileType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class Api {
  constructor(
    private readonly token: string,
    private readonly onUnauthorized: UnauthorizedHandler,
  ) {}

  /** A raw authorised fetch (used for the chat stream). 401 still signs the user out. */
  async raw(path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      ...opts.headers,
    };
    let body: string | Blob | undefined;
    if (opts.file !== undefined) {
      headers["Content-Type"] = opts.fileType ?? "application/octet-stream";
      body = opts.file;
      if (opts.fileType) {
        const hash = await bodySha256(opts.file);
        if (hash) headers["x-amz-content-sha256"] = hash;
      }
    } else if (opts.body !== undefined) {
      const text = JSON.stringify(opts.body);
      headers["Content-Type"] = "application/json";
      body = text;
      const hash = await bodySha256(text);
      if (hash) headers["x-amz-content-sha256"] = hash;
    }
    let res: Response;
    try {
      res = await fetch(path, { method: opts.method ?? "GET", headers, body, signal: opts.signal });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(0, "The server could not be reached. Check that vwc is running.");
    }
    if (!res.ok) {
      const problem = await readProblem(res);
      const message = problemSentence(res.status, problem);
      if (res.status === 401) this.onUnauthorized(message);
      throw new ApiError(res.status, message, problem);
    }
    return res;
  }

  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, {
      ...opts,
      headers: { Accept: "application/json", ...opts.headers },
    });
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
}

async function readProblem(res: Response): Promise<Problem | undefined> {
  try {
    const text = await res.text();
    if (!text) return undefined;
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === "object") return body as Problem;
  } catch {
    // Not JSON: the status alone tells the story.
  }
  return undefined;
}

/** Query string from the defined values only. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}
