// The Settings page's "Failed deliveries": the organisation's outbound deliveries that failed for good —
// `failed` (a final answer such as a 404, or a channel that could not be used: one attempt) and
// `dead_lettered` (every attempt failed) — from `GET /v1/notifications/deliveries?status=…`, with a "Resend"
// each (`POST /v1/notifications/deliveries/{id}/retry`), and a line counting the `pending` ones that are
// being retried. All need `configure_notifications`, so other roles see nothing of it.
// docs/outbound-webhooks.md, "Failed deliveries"; docs/dashboard.md, "Settings".
import { useEffect, useRef, useState } from "react";
import type { Api } from "../api/client";
import { useApi } from "../api/context";
import type { components } from "../api/schema";
import { useQuery } from "../api/useQuery";
import { mayConfigureNotifications } from "../auth/permissions";
import { formatDateTime } from "../format";
import { Empty, ErrorText, Loading } from "../ui/Feedback";
import "./FailedDeliveries.css";

type S = components["schemas"];
export type DeliveryPage = S["DeliveryPage"];
export type DeliveryView = S["DeliveryView"];
export type DeliveryStatus = S["DeliveryStatus"];

/** How many of the newest failed deliveries the section lists. */
export const SHOWN = 50;
/** How many pending deliveries are read to count those being retried (the API's largest page). */
export const PENDING_READ = 200;

/** The list of the organisation's deliveries in `status`, `limit` newest. */
export function deliveriesPath(status: DeliveryStatus, limit = SHOWN): string {
  return `/v1/notifications/deliveries?status=${status}&limit=${limit}`;
}

export interface FailedListing {
  /** The `failed` and `dead_lettered` deliveries, newest first, at most `SHOWN`. */
  items: DeliveryView[];
  /** More failed deliveries than those listed. */
  more: boolean;
  /** Pending deliveries with at least one attempt behind them: being retried. */
  retrying: number;
  /** The pending deliveries were more than one page: `retrying` is a lower bound. */
  retryingAtLeast: boolean;
}

/** Reads the failed, dead-lettered and pending deliveries (three requests at once) into one listing. */
export async function loadFailedListing(api: Api, signal: AbortSignal): Promise<FailedListing> {
  const [failed, dead, pending] = await Promise.all(
    (["failed", "dead_lettered", "pending"] as const).map((status) =>
      api.json<DeliveryPage>(deliveriesPath(status, status === "pending" ? PENDING_READ : SHOWN), {
        signal,
      }),
    ),
  );
  const all = [...failed!.items, ...dead!.items].sort(
    (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt),
  );
  return {
    items: all.slice(0, SHOWN),
    more: all.length > SHOWN || !!failed!.nextCursor || !!dead!.nextCursor,
    retrying: pending!.items.filter((d) => d.attempts.length > 0).length,
    retryingAtLeast: !!pending!.nextCursor,
  };
}

/** "2 deliveries are being retried…", or nothing when none is. */
export function retryingText(listing: FailedListing): string | undefined {
  const n = listing.retrying;
  if (n === 0) return undefined;
  if (n === 1 && !listing.retryingAtLeast)
    return "1 delivery is being retried after a failed attempt; it is listed here if every attempt fails.";
  const count = listing.retryingAtLeast ? `${n} or more` : `${n}`;
  return `${count} deliveries are being retried after a failed attempt; they are listed here if every attempt fails.`;
}

export function FailedDeliveries() {
  const { api, session } = useApi();
  const allowed = mayConfigureNotifications(session.roles);
  const list = useQuery(allowed ? "failed-deliveries" : null, (signal) =>
    loadFailedListing(api, signal),
  );
  if (!allowed) return null;
  const items = list.data?.items;
  const retrying = list.data && retryingText(list.data);
  return (
    <section className="card" aria-labelledby="failed-deliveries-title">
      <h2 id="failed-deliveries-title">Failed deliveries</h2>
      <p className="small">
        Webhook requests and e-mails that will not be tried again: those refused for good (an answer
        such as 404 or 410 — often a wrong webhook path — after one attempt, or a channel that could
        not be used) and those that failed every attempt (12, over 6 to 12 hours). Resending one
        tries it again now, with a fresh set of attempts, to the current webhook URL or address and
        signed with the current secret; it keeps its <code>webhook-id</code>, so a receiver that did
        get it can drop the copy.
      </p>
      {list.loading && !items && <Loading label="Loading failed deliveries…" />}
      <ErrorText error={list.error} onRetry={list.reload} />
      {retrying && (
        <p className="small" data-testid="retrying">
          {retrying}
        </p>
      )}
      {items && items.length === 0 && <Empty>No failed deliveries</Empty>}
      {items && items.length > 0 && (
        <ul className="failed-deliveries" data-testid="failed-deliveries">
          {items.map((d) => (
            <FailedDelivery key={d.id} delivery={d} />
          ))}
        </ul>
      )}
      {list.data?.more && <p className="muted small">Showing the {SHOWN} newest.</p>}
    </section>
  );
}

/** Why a delivery is listed, in words. */
export function failedWhy(d: DeliveryView): string {
  return d.status === "failed"
    ? "Refused: the receiver's answer (or the channel) means it is not tried again."
    : "Gave up: every attempt failed.";
}

function FailedDelivery({ delivery }: { delivery: DeliveryView }) {
  const { api } = useApi();
  const [busy, setBusy] = useState(false);
  const [resent, setResent] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const button = useRef<HTMLButtonElement>(null);
  const status = useRef<HTMLSpanElement>(null);
  // Resent, the button is gone: focus that was on it goes to the status saying so, not to <body>.
  const [focusStatus, setFocusStatus] = useState(false);
  useEffect(() => {
    if (focusStatus) status.current?.focus();
  }, [focusStatus]);
  const last = delivery.attempts[delivery.attempts.length - 1];
  const what = delivery.carries;
  const channel = delivery.channel === "email" ? "E-mail" : "Webhook";

  async function resend() {
    if (busy || resent) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.json<DeliveryView>(
        `/v1/notifications/deliveries/${encodeURIComponent(delivery.id)}/retry`,
        { method: "POST" },
      );
      setFocusStatus(button.current === document.activeElement);
      setResent(true);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <li className="failed-delivery" data-testid="failed-delivery">
      <p>
        {/* The reminder's title names its vehicle already ("Oil change overdue — 2021 Toyota RAV4"). */}
        <strong>{what.title}</strong>
      </p>
      <p className="small" data-testid="failed-why">
        {failedWhy(delivery)}
      </p>
      <p className="small">
        {channel}, made {formatDateTime(delivery.createdAt)}
        {last && (
          <>
            ; last tried {formatDateTime(last.at)}
            {delivery.attempts.length > 1 && ` (${delivery.attempts.length} attempts)`}
          </>
        )}
        .
      </p>
      {delivery.lastError && (
        <p className="small muted">
          Last error: <span data-testid="last-error">{delivery.lastError}</span>
        </p>
      )}
      <div className="actions">
        {resent ? null : (
          <button
            ref={button}
            type="button"
            aria-disabled={busy || undefined}
            onClick={() => void resend()}
          >
            {busy ? "Resending…" : "Resend"}
          </button>
        )}
        <span className="changed-status" role="status" ref={status} tabIndex={-1}>
          {resent ? "Resent: it is being sent again now." : ""}
        </span>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
