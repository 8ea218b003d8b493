import { useEffect, useRef, useState } from "react";
import { qs } from "../api/client";
import { useApi } from "../api/context";
import type { MarkedRead, NotificationView, Page } from "../api/types";
import { useQuery } from "../api/useQuery";
import { formatDate } from "../format";
import { ErrorText, Loading } from "../ui/Feedback";

const POLL_MS = 60_000;
/** Notifications a page of the panel. */
export const FEED_PAGE_SIZE = 20;

/** The unread count (polled each minute) and a panel listing the feed, page by page, with mark-as-read. */
export function Bell() {
  const { api, session } = useApi();
  const [open, setOpen] = useState(false);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const panel = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  // The older pages read with "Load more" since the panel opened (the first page is polled).
  const [older, setOlder] = useState<{ items: NotificationView[]; nextCursor: string | null }>();
  const [loadingMore, setLoadingMore] = useState(false);
  const focusId = useRef<string | null>(null);

  const unread = useQuery(`unread:${session.org}`, (signal) =>
    api.json<Page<NotificationView>>(`/v1/notifications?unread=true&limit=100`, { signal }),
  );
  const feed = useQuery(open ? `feed:${session.org}` : null, (signal) =>
    api.json<Page<NotificationView>>(`/v1/notifications?limit=${FEED_PAGE_SIZE}`, { signal }),
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

  // A closed panel starts again from the first page.
  useEffect(() => {
    if (!open) setOlder(undefined);
  }, [open]);

  // After "Load more", focus moves to the first notification it brought (the button may be gone).
  useEffect(() => {
    const id = focusId.current;
    if (!id || !older) return;
    focusId.current = null;
    document.getElementById(`notification-${id}`)?.focus();
  }, [older]);

  const items: NotificationView[] = [...(feed.data?.items ?? [])];
  for (const n of older?.items ?? []) if (!items.some((m) => m.id === n.id)) items.push(n);
  const nextCursor = older ? older.nextCursor : (feed.data?.nextCursor ?? null);

  async function loadMore() {
    if (!nextCursor || loadingMore) return;
    setError(null);
    setLoadingMore(true);
    try {
      const page = await api.json<Page<NotificationView>>(
        `/v1/notifications${qs({ limit: FEED_PAGE_SIZE, cursor: nextCursor })}`,
      );
      focusId.current = page.items.find((n) => !items.some((m) => m.id === n.id))?.id ?? null;
      setOlder((o) => ({
        items: [...(o?.items ?? []), ...page.items],
        nextCursor: page.nextCursor ?? null,
      }));
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  }

  const count = unread.data?.items.length ?? 0;
  const countText = unread.data?.nextCursor ? `${count}+` : String(count);

  async function markRead(id: string) {
    setError(null);
    try {
      await api.raw(`/v1/notifications/${encodeURIComponent(id)}/read`, { method: "POST" });
      // The older pages are not read again: mark this one here.
      const readAt = new Date().toISOString();
      setOlder(
        (o) => o && { ...o, items: o.items.map((n) => (n.id === id ? { ...n, readAt } : n)) },
      );
      setTick((n) => n + 1);
      // Its button goes: focus moves to the notification's title rather than falling to <body>.
      document.getElementById(`notification-${id}`)?.focus();
    } catch (e) {
      setError(e);
    }
  }

  // "Mark all as read" covers what the panel shows: the newest notification listed and every older one,
  // not one that arrived since the list was read.
  const newest = feed.data?.items[0];
  const anyUnreadListed = items.some((n) => !n.readAt);
  const [markingAll, setMarkingAll] = useState(false);

  async function markAllRead() {
    if (!newest || markingAll) return;
    setError(null);
    setMarkingAll(true);
    try {
      await api.json<MarkedRead>(`/v1/notifications/read`, {
        method: "POST",
        body: { through: newest.id },
      });
      const readAt = new Date().toISOString();
      setOlder((o) => o && { ...o, items: o.items.map((n) => (n.readAt ? n : { ...n, readAt })) });
      setTick((n) => n + 1);
      focusId.current = null;
      panel.current?.querySelector<HTMLElement>("h2")?.focus();
    } catch (e) {
      setError(e);
    } finally {
      setMarkingAll(false);
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
          <div className="bell-head">
            <h2 className="label" tabIndex={-1}>
              Notifications
            </h2>
            {anyUnreadListed && (
              <button
                type="button"
                className="link"
                aria-disabled={markingAll || undefined}
                onClick={() => void markAllRead()}
              >
                {markingAll ? "Marking…" : "Mark all as read"}
              </button>
            )}
          </div>
          {feed.loading && !feed.data && <Loading label="Loading notifications…" />}
          <ErrorText error={feed.error ?? error} />
          {feed.data && items.length === 0 && <p className="muted">Nothing yet.</p>}
          <ul>
            {items.map((n) => (
              <li key={n.id} className={n.readAt ? "read" : "unread"}>
                <p className="n-title" id={`notification-${n.id}`} tabIndex={-1}>
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
          {nextCursor && (
            <button
              type="button"
              className="more"
              aria-disabled={loadingMore || undefined}
              onClick={() => void loadMore()}
            >
              {loadingMore ? "Loading…" : "Load more"}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
