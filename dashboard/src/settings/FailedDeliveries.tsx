// The Settings page's "Failed deliveries": the organisation's dead-lettered outbound deliveries
// (`GET /v1/notifications/deliveries?status=dead_lettered`) with a "Resend" each
// (`POST /v1/notifications/deliveries/{id}/retry`). Both need `configure_notifications`, so other roles
// see nothing of it. docs/outbound-webhooks.md, "Failed deliveries"; docs/dashboard.md, "Settings".
import { useState } from "react";
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

/** How many of the newest dead-lettered deliveries the section lists. */
export const SHOWN = 50;

export const DEAD_LETTERED_PATH = `/v1/notifications/deliveries?status=dead_lettered&limit=${SHOWN}`;

export function FailedDeliveries() {
  const { api, session } = useApi();
  const allowed = mayConfigureNotifications(session.roles);
  const list = useQuery(allowed ? "failed-deliveries" : null, (signal) =>
    api.json<DeliveryPage>(DEAD_LETTERED_PATH, { signal }),
  );
  if (!allowed) return null;
  const items = list.data?.items;
  return (
    <section className="card" aria-labelledby="failed-deliveries-title">
      <h2 id="failed-deliveries-title">Failed deliveries</h2>
      <p className="small">
        Webhook requests and e-mails that failed every attempt (12, over 6 to 12 hours). Resending
        one tries it again now, with a fresh set of attempts, to the current webhook URL or address
        and signed with the current secret; it keeps its <code>webhook-id</code>, so a receiver that
        did get it can drop the copy.
      </p>
      {list.loading && !items && <Loading label="Loading failed deliveries…" />}
      <ErrorText error={list.error} onRetry={list.reload} />
      {items && items.length === 0 && <Empty>No failed deliveries</Empty>}
      {items && items.length > 0 && (
        <ul className="failed-deliveries" data-testid="failed-deliveries">
          {items.map((d) => (
            <FailedDelivery key={d.id} delivery={d} />
          ))}
        </ul>
      )}
      {list.data?.nextCursor && <p className="muted small">Showing the {SHOWN} newest.</p>}
    </section>
  );
}

function FailedDelivery({ delivery }: { delivery: DeliveryView }) {
  const { api } = useApi();
  const [busy, setBusy] = useState(false);
  const [resent, setResent] = useState(false);
  const [error, setError] = useState<string | undefined>();
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
          <button type="button" aria-disabled={busy || undefined} onClick={() => void resend()}>
            {busy ? "Resending…" : "Resend"}
          </button>
        )}
        <span className="changed-status" role="status">
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
