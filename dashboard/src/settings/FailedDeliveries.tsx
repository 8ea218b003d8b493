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

/** How many failed deliveries the section shows at first, and how many more each "Show more" adds. */
export const SHOWN = 50;
/** How many pending deliveries are read to count those being retried (the API's largest page). */
export const PENDING_READ = 200;

/** The statuses the section lists: refused for good, and out of attempts. */
export const FAILED_STATUSES = ["failed", "dead_lettered"] as const;

/** The list of the organisation's deliveries in `status`, `limit` newest (after `cursor`, a `nextCursor`). */
export function deliveriesPath(status: DeliveryStatus, limit = SHOWN, cursor?: string): string {
  const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
  return `/v1/notifications/deliveries?status=${status}&limit=${limit}${after}`;
}

/** What has been read of one status's list: its pages so far, newest first, and the next page's cursor. */
export interface StatusPages {
  items: DeliveryView[];
  next: string | null;
}

export interface FailedListing {
  /** The `failed` and `dead_lettered` lists as read so far (`FAILED_STATUSES`' order). */
  lists: StatusPages[];
  /** Pending deliveries with at least one attempt behind them: being retried. */
  retrying: number;
  /** The pending deliveries were more than one page: `retrying` is a lower bound. */
  retryingAtLeast: boolean;
}

/**
 * An instant as the API writes it, made comparable: the milliseconds `Date.parse` reads, then the digits
 * below the second in full (the store keeps microseconds, which `Date.parse` drops).
 */
function instantKey(at: string): [number, string] {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(at);
  if (!m) return [Date.parse(at), ""];
  return [Date.parse(`${m[1]}${m[3]}`), (m[2] ?? "").padEnd(9, "0")];
}

/**
 * The API's order of deliveries, newest first: by `createdAt`, then by id (descending), as its cursors
 * follow it. Negative when `a` comes before `b`.
 */
export function newestFirst(a: DeliveryView, b: DeliveryView): number {
  const [am, af] = instantKey(a.createdAt);
  const [bm, bf] = instantKey(b.createdAt);
  if (am !== bm) return bm - am;
  if (af !== bf) return af < bf ? 1 : -1;
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1;
}

/**
 * The deliveries of several lists read page by page, merged newest first, that can be shown: those certainly
 * newer than anything not read yet — a list with more pages may still hold deliveries older than its last
 * one read but newer than what another list has read, so nothing after the newest of those lists' last
 * ones is shown until that list is read further. Each delivery once (a delivery resent meanwhile can turn up
 * in the other status's list as well). `more`: some list has more pages.
 */
export function mergePages(lists: readonly StatusPages[]): {
  items: DeliveryView[];
  more: boolean;
} {
  const seen = new Set<string>();
  const all = lists
    .flatMap((l) => l.items)
    .filter((d) => !seen.has(d.id) && !!seen.add(d.id))
    .sort(newestFirst);
  const bounds = lists.filter((l) => l.next !== null).map((l) => l.items[l.items.length - 1]);
  const more = bounds.length > 0;
  if (bounds.some((b) => !b)) return { items: [], more };
  const bound = (bounds as DeliveryView[]).sort(newestFirst)[0];
  return { items: bound ? all.filter((d) => newestFirst(d, bound) <= 0) : all, more };
}

/** The list (of those with more pages) whose unread pages hold back the most: the one to read next. */
export function nextToRead(lists: readonly StatusPages[]): number | undefined {
  let best: number | undefined;
  lists.forEach((l, i) => {
    if (l.next === null) return;
    if (best === undefined) return void (best = i);
    const mine = l.items[l.items.length - 1];
    const theirs = lists[best]!.items[lists[best]!.items.length - 1];
    // A list with more pages but nothing read yet holds back everything.
    if (!mine || (theirs && newestFirst(mine, theirs) < 0)) best = i;
  });
  return best;
}

/**
 * Reads the next pages of `lists` (each time that of the list that holds back the most, `nextToRead`) until
 * at least `want` deliveries can be shown or every list is read to its end. Answers the lists as read.
 */
export async function readMore(
  api: Api,
  lists: readonly StatusPages[],
  want: number,
  signal?: AbortSignal,
): Promise<StatusPages[]> {
  let now = [...lists];
  for (;;) {
    const i = nextToRead(now);
    if (i === undefined || mergePages(now).items.length >= want) return now;
    const page = await api.json<DeliveryPage>(
      deliveriesPath(FAILED_STATUSES[i]!, SHOWN, now[i]!.next!),
      { signal },
    );
    now = now.map((l, j) =>
      j === i ? { items: [...l.items, ...page.items], next: page.nextCursor ?? null } : l,
    );
  }
}

/** Reads the first page of the failed, dead-lettered and pending deliveries (three requests at once). */
export async function loadFailedListing(api: Api, signal: AbortSignal): Promise<FailedListing> {
  const [failed, dead, pending] = await Promise.all(
    ([...FAILED_STATUSES, "pending"] as const).map((status) =>
      api.json<DeliveryPage>(deliveriesPath(status, status === "pending" ? PENDING_READ : SHOWN), {
        signal,
      }),
    ),
  );
  const pages = (p: DeliveryPage): StatusPages => ({ items: p.items, next: p.nextCursor ?? null });
  return {
    lists: [pages(failed!), pages(dead!)],
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

/** The pages read past the first ones ("Show more"), and how many deliveries are shown. */
interface Paging {
  /** The listing (a load of the first pages) these pages follow: a reload starts over. */
  of: FailedListing;
  lists: StatusPages[];
  shown: number;
}

export function FailedDeliveries() {
  const { api, session } = useApi();
  const allowed = mayConfigureNotifications(session.roles);
  const list = useQuery(allowed ? "failed-deliveries" : null, (signal) =>
    loadFailedListing(api, signal),
  );
  const [paging, setPaging] = useState<Paging | undefined>();
  const [moreBusy, setMoreBusy] = useState(false);
  const [moreError, setMoreError] = useState<unknown>();
  const listRef = useRef<HTMLUListElement>(null);
  const moreButton = useRef<HTMLButtonElement>(null);
  // "Show more" gone (everything is shown) while it had focus: focus goes to the first delivery it added.
  const [focusItem, setFocusItem] = useState<number | undefined>();
  useEffect(() => {
    if (focusItem === undefined) return;
    listRef.current?.querySelectorAll<HTMLElement>(".failed-delivery")[focusItem]?.focus();
  }, [focusItem]);
  const aborter = useRef<AbortController | null>(null);
  useEffect(() => () => aborter.current?.abort(), []);

  const data = list.data;
  const current: Paging | undefined =
    data && (paging?.of === data ? paging : { of: data, lists: data.lists, shown: SHOWN });
  const merged = current && mergePages(current.lists);
  const items = merged?.items.slice(0, current!.shown);
  const more = !!merged && (merged.more || merged.items.length > current!.shown);

  async function showMore() {
    if (!current || moreBusy) return;
    setMoreBusy(true);
    setMoreError(undefined);
    const controller = new AbortController();
    aborter.current = controller;
    const want = current.shown + SHOWN;
    const had = items?.length ?? 0;
    try {
      const lists = await readMore(api, current.lists, want, controller.signal);
      if (controller.signal.aborted) return;
      const next = { of: current.of, lists, shown: want };
      const after = mergePages(lists);
      const done = !after.more && after.items.length <= want;
      if (done && moreButton.current === document.activeElement) setFocusItem(had);
      setPaging(next);
    } catch (e) {
      if (!controller.signal.aborted) setMoreError(e);
    } finally {
      if (!controller.signal.aborted) setMoreBusy(false);
    }
  }

  if (!allowed) return null;
  const retrying = data && retryingText(data);
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
      {items && items.length === 0 && !more && <Empty>No failed deliveries</Empty>}
      {items && items.length > 0 && (
        <ul className="failed-deliveries" data-testid="failed-deliveries" ref={listRef}>
          {items.map((d) => (
            <FailedDelivery key={d.id} delivery={d} />
          ))}
        </ul>
      )}
      {more && (
        <div className="failed-more">
          <p className="muted small" data-testid="failed-shown">
            Showing the {items!.length} newest; older ones follow.
          </p>
          {moreError !== undefined && (
            <p className="error" role="alert">
              Older deliveries could not be read.{" "}
              {moreError instanceof Error ? moreError.message : String(moreError)}
            </p>
          )}
          {/* aria-disabled, not disabled: a disabled button would drop focus to <body> while it reads. */}
          <button
            ref={moreButton}
            type="button"
            aria-disabled={moreBusy || undefined}
            onClick={() => void showMore()}
          >
            {moreBusy ? "Reading more…" : moreError !== undefined ? "Try again" : "Show more"}
          </button>
        </div>
      )}
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
    <li className="failed-delivery" data-testid="failed-delivery" tabIndex={-1}>
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
