import { useEffect, useRef, useState } from "react";
import { useApi } from "../api/context";
import type { NotificationView, Page } from "../api/types";
import { useQuery } from "../api/useQuery";
import { formatDate } from "../format";
import { ErrorText, Loading } from "../ui/Feedback";

const POLL_MS = 60_000;

/** The unread count (polled each minute) and a panel listing the feed with mark-as-read. */
export function Bell() {
  const { api, session } = useApi();
  const [open, setOpen] = useState(false);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const panel = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  const unread = useQuery(`unread:${session.org}`, (signal) =>
    api.json<Page<NotificationView>>(`/v1/notifications?unread=true&limit=100`, { signal }),
  );
  const feed = useQuery(open ? `feed:${session.org}` : null, (signal) =>
    api.json<Page<NotificationView>>(`/v1/notifications?limit=20`, { signal }),
  );
  const { reload: reloadUnread } = unread;
  const { reload: reloadFeed } = feed;

  // Reloads keep the previous answer on screen until the new one arrives (no flicker of the count).
  useEffect(() => {
    if (tick === 0) return;
    reloadUnread();
    reloadFeed();
  }, [tick, reloadUnread, reloadFeed]);

  useEffect(() => {
    const t = window.setInterval(() => setTick((n) => n + 1), POLL_MS);
    return () => window.clearInterval(t);
  }, []);

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        setOpen(false);
        button.current?.focus();
      }
    };
    const onClick = (e: MouseEvent) => {
      if (!panel.current?.contains(e.target as Node) && !button.current?.contains(e.target as Node))
        setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onClick);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onClick);
    };
  }, [open]);

  const count = unread.data?.items.length ?? 0;
  const countText = unread.data?.nextCursor ? `${count}+` : String(count);

  async function markRead(id: string) {
    setError(null);
    try {
      await api.raw(`/v1/notifications/${encodeURIComponent(id)}/read`, { method: "POST" });
      setTick((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <div className="bell">
      <button
        ref={button}
        type="button"
        className="bell-button"
        aria-expanded={open}
        aria-controls="notifications-panel"
        aria-label={`Notifications, ${countText} unread`}
        onClick={() => setOpen((o) => !o)}
      >
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
          <path
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"
            fill="currentColor"
          />
        </svg>
        {count > 0 && (
          <span className="bell-count" data-testid="unread-count">
            {countText}
          </span>
        )}
      </button>
      {open && (
        <div
          id="notifications-panel"
          className="bell-panel card"
          ref={panel}
          role="region"
          aria-label="Notifications"
        >
          <h2 className="label">Notifications</h2>
          {feed.loading && !feed.data && <Loading label="Loading notifications…" />}
          <ErrorText error={feed.error ?? error} />
          {feed.data && feed.data.items.length === 0 && <p className="muted">Nothing yet.</p>}
          <ul>
            {feed.data?.items.map((n) => (
              <li key={n.id} className={n.readAt ? "read" : "unread"}>
                <p className="n-title">
                  {!n.readAt && <span className="visually-hidden">Unread: </span>}
                  {n.title}
                </p>
                <p className="muted small">
                  {n.body} · {formatDate(n.createdAt)}
                </p>
                {!n.readAt && (
                  <button type="button" className="link" onClick={() => void markRead(n.id)}>
                    Mark as read<span className="visually-hidden">: {n.title}</span>
                  </button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
