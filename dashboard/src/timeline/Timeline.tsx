import {
  memo,
  useCallback,
  useEffect,
  useImperativeHandle,
  useMemo,
  useRef,
  useState,
  type ReactNode,
  type Ref,
} from "react";
import { qs } from "../api/client";
import { useApi } from "../api/context";
import { mayChangeRecord, recordableKinds, rolesText } from "../auth/permissions";
import {
  EVENT_KINDS,
  type EventHistory,
  type EventKind,
  type Page,
  type TimelineItem,
  type Vehicle,
  type VehicleEvent,
} from "../api/types";
import { formatDate, formatDistance, formatMoney, formatMonth, humanize } from "../format";
import { Empty, ErrorText, Loading } from "../ui/Feedback";
import { detailEntries } from "./details";
import { groupByMonth } from "./group";
import { kindColor, kindStyle } from "./kinds";
import { CorrectDialog, HistoryDialog, VoidDialog } from "./RecordDialogs";
import { Receipts } from "./Receipts";
import { RecordEventForm } from "./RecordEventForm";

export const PAGE_SIZE = 20;

export interface TimelineHandle {
  /** Scrolls to an event and highlights it, loading older pages (or clearing the filter) to find it. */
  reveal: (eventId: string) => void;
  /** Reads the first page again (records written elsewhere: an import). */
  reload: () => void;
}

interface State {
  /** The filters the items were loaded with (`filterKey`). */
  filter: string;
  items: TimelineItem[];
  nextCursor: string | null;
  loading: boolean;
  error: unknown;
  loaded: boolean;
}

const INITIAL: State = {
  filter: "",
  items: [],
  nextCursor: null,
  loading: false,
  error: null,
  loaded: false,
};

/** The filters a page of the timeline is read with, as one comparable string. */
function filterKey(kinds: readonly EventKind[], showVoided: boolean): string {
  return `${kinds.join(",")}${showVoided ? ";voided" : ""}`;
}

export function Timeline({
  vehicle,
  soldAt,
  currencies,
  onRecorded,
  refresh = 0,
  ref,
}: {
  vehicle: Vehicle;
  /** The vehicle's sale, when sold: it takes no new record (the API refuses one dated after the sale), so
   * "Record event" is not offered; its records can still be corrected and voided. */
  soldAt?: string;
  /** The currencies the record form offers, the vehicle's own first. */
  currencies?: readonly string[];
  /** After each write from the timeline (a record, a correction, a void): the views derived from records
   * are read again. */
  onRecorded: () => void;
  /** Bumped while a new vehicle's views catch up: a timeline that failed (404) or is empty is read again. */
  refresh?: number;
  ref?: Ref<TimelineHandle>;
}) {
  const { api, session } = useApi();
  const recordable = recordableKinds(session.roles);
  const [kinds, setKinds] = useState<EventKind[]>([]);
  // Voided records too (`includeVoided=true`), marked: off by default, as the API lists them.
  const [showVoided, setShowVoided] = useState(false);
  const [state, setState] = useState<State>(INITIAL);
  const [open, setOpen] = useState<string | null>(null);
  const [highlight, setHighlight] = useState<string | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [notFound, setNotFound] = useState<string | null>(null);
  const [showForm, setShowForm] = useState(false);
  // The dialog open on a record (correct, void, history), with the record as it was when opened and the
  // ids of its neighbours' row buttons then (next, previous): its row may leave while the dialog is open
  // (found voided), and focus then goes to where it was.
  const [dialog, setDialog] = useState<{
    action: RecordAction;
    event: TimelineItem;
    neighbours: string[];
  } | null>(null);
  const [changed, setChanged] = useState<ReactNode>(null);
  // Where focus goes once the dialog has closed: the button that opened it, else (its row is gone: voided)
  // the next row, else the previous one, else the timeline's heading. Never <body>.
  const focusAfter = useRef<string[] | null>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const request = useRef(0);
  const formButton = useRef<HTMLButtonElement>(null);
  // After "Load older events", focus moves to the first event of the new page (the index it will have):
  // the button itself goes once the last page is in.
  const focusAt = useRef<number | null>(null);

  const load = useCallback(
    async (cursor: string | null) => {
      const id = ++request.current;
      const filter = filterKey(kinds, showVoided);
      setState((s) => ({ ...(cursor ? s : INITIAL), filter, loading: true, error: null }));
      try {
        const page = await api.json<Page<TimelineItem>>(
          `/v1/vehicles/${encodeURIComponent(vehicle.id)}/events${qs({
            limit: PAGE_SIZE,
            kind: kinds.join(",") || undefined,
            cursor: cursor ?? undefined,
            includeVoided: showVoided || undefined,
          })}`,
        );
        if (id !== request.current) return;
        setState((s) => ({
          filter,
          items: cursor ? [...s.items, ...page.items] : page.items,
          nextCursor: page.nextCursor ?? null,
          loading: false,
          error: null,
          loaded: true,
        }));
      } catch (error) {
        if (id !== request.current) return;
        setState((s) => ({ ...s, loading: false, error, loaded: true }));
      }
    },
    [api, vehicle.id, kinds, showVoided],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  const settled = useRef(state);
  settled.current = state;
  useEffect(() => {
    const s = settled.current;
    if (refresh && !s.loading && (s.error || !s.items.length)) void load(null);
    // Only a new `refresh` reads again, not a new filter (`load`), which reads by itself.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [refresh]);

  const loadMore = useCallback(() => {
    if (!state.loading && state.nextCursor && !state.error) void load(state.nextCursor);
  }, [state, load]);

  const loadMoreFromButton = () => {
    if (state.loading || !state.nextCursor || state.error) return;
    focusAt.current = state.items.length;
    loadMore();
  };

  useEffect(() => {
    const at = focusAt.current;
    if (at === null || state.loading) return;
    focusAt.current = null;
    const next = state.items[at];
    if (!next) return;
    document
      .getElementById(`event-${next.id}`)
      ?.querySelector<HTMLButtonElement>("button.event-row")
      ?.focus();
  }, [state]);

  // Infinite scroll: the sentinel after the last month loads the next page as it comes into view. Not
  // when the columns stack (narrow screens): the chat below would never be reached; the button loads more.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || typeof IntersectionObserver === "undefined") return;
    if (window.matchMedia?.("(max-width: 900px)").matches) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) loadMore();
    });
    io.observe(el);
    return () => io.disconnect();
  }, [loadMore]);

  // A citation to reveal: scroll to it when loaded, else fetch older pages until it is.
  useEffect(() => {
    if (!pending) return;
    const found = state.items.some((e) => e.id === pending);
    if (found) {
      const el = document.getElementById(`event-${pending}`);
      el?.scrollIntoView({ behavior: "smooth", block: "center" });
      el?.querySelector<HTMLButtonElement>("button.event-row")?.focus({ preventScroll: true });
      setHighlight(pending);
      setPending(null);
      const t = window.setTimeout(() => setHighlight((h) => (h === pending ? null : h)), 4000);
      return () => window.clearTimeout(t);
    }
    // Decide only on a settled list loaded with the current filter.
    if (state.loading || state.filter !== filterKey(kinds, showVoided)) return;
    if (state.nextCursor && !state.error) void load(state.nextCursor);
    else if (kinds.length) setKinds([]);
    else {
      setNotFound(pending);
      setPending(null);
    }
  }, [pending, state, load, kinds, showVoided]);

  useImperativeHandle(ref, () => ({
    reveal: (id: string) => {
      setNotFound(null);
      setPending(id);
    },
    reload: () => void load(null),
  }));

  function toggle(kind: EventKind) {
    setChanged(null);
    setKinds((ks) => (ks.includes(kind) ? ks.filter((k) => k !== kind) : [...ks, kind]));
  }

  // Rows are memoised (EventItem): opening the form, loading a page or toggling one row re-renders only
  // the rows whose props changed, not all of a long timeline's.
  const groups = useMemo(() => groupByMonth(state.items), [state.items]);
  const toggleOpen = useCallback((id: string) => setOpen((o) => (o === id ? null : id)), []);
  const items = useRef(state.items);
  items.current = state.items;
  const openDialog = useCallback((action: RecordAction, event: TimelineItem) => {
    const list = items.current;
    const at = list.findIndex((e) => e.id === event.id);
    setDialog({ action, event, neighbours: neighbourRows(list, at) });
  }, []);

  useEffect(() => {
    const targets = focusAfter.current;
    if (!targets || dialog) return;
    focusAfter.current = null;
    for (const t of targets) {
      const el = document.getElementById(t);
      if (el) {
        el.focus();
        return;
      }
    }
  }, [dialog, state.items]);

  /** Closes the dialog and sends focus back to the button that opened it (or, if its row is gone, near it). */
  const closeDialog = (gone = false) => {
    if (!dialog) return;
    const { action, event, neighbours } = dialog;
    const at = state.items.findIndex((e) => e.id === event.id);
    focusAfter.current = [
      `${action}-${event.id}`,
      // Its row gone already (read voided while the dialog was open): its neighbours when it opened.
      ...(at === -1
        ? neighbours
        : gone
          ? neighbourRows(state.items, at)
          : [`event-${event.id}-row`]),
      "timeline-title",
    ];
    setDialog(null);
  };

  /** The timeline as a record's history says it now reads (the read model catches up a moment later). */
  const applyHistory = (h: EventHistory) => {
    setState((s) => ({ ...s, items: withHistory(s.items, h, kinds, showVoided) }));
  };

  return (
    <div className="timeline">
      <div className="column-head">
        <h2 id="timeline-title" tabIndex={-1}>
          Timeline
        </h2>
        {soldAt ? (
          <span className="muted small" data-testid="sold-no-records">
            Sold on {formatDate(soldAt)}: no new records.
          </span>
        ) : recordable.length > 0 ? (
          <button
            ref={formButton}
            type="button"
            className="primary"
            aria-expanded={showForm}
            onClick={() => setShowForm((s) => !s)}
          >
            {showForm ? "Close form" : "Record event"}
          </button>
        ) : (
          <span className="muted small" data-testid="read-only">
            Read only: your role ({rolesText(session.roles)}) cannot record events.
          </span>
        )}
      </div>
      {showForm && !soldAt && recordable.length > 0 && (
        <RecordEventForm
          vehicle={vehicle}
          currencies={currencies}
          kinds={recordable}
          onCancel={() => {
            setShowForm(false);
            formButton.current?.focus();
          }}
          onRecorded={(event, warnings) => {
            setShowForm(false);
            onRecorded();
            // Kept as sent, but doubtful (an odometer below an earlier reading): said where corrections are.
            setChanged(
              warnings.length > 0 ? (
                <Doubtful title={event.title} done="recorded" warnings={warnings} />
              ) : null,
            );
            // The read model catches up through the bus a moment later: show the recorded event now.
            if (kinds.length === 0 || kinds.includes(event.kind)) {
              setState((s) => ({ ...s, items: insertEvent(s.items, event) }));
              setPending(event.id);
            }
          }}
        />
      )}
      <div className="chips" role="group" aria-label="Filter by kind">
        <button
          type="button"
          className="chip"
          aria-pressed={kinds.length === 0}
          onClick={() => {
            setChanged(null);
            setKinds([]);
          }}
        >
          All
        </button>
        {EVENT_KINDS.map((k) => (
          <button
            key={k}
            type="button"
            className={`chip kind-${k}`}
            style={kindColor(k)}
            aria-pressed={kinds.includes(k)}
            onClick={() => toggle(k)}
          >
            <span className="chip-glyph" aria-hidden="true">
              {kindStyle(k).glyph}
            </span>
            {kindStyle(k).label}
          </button>
        ))}
      </div>
      <label className="toggle">
        <input
          type="checkbox"
          checked={showVoided}
          onChange={(e) => {
            setShowVoided(e.target.checked);
            // "… has left the timeline" / "… stays here" no longer holds once the list changes.
            setChanged(null);
          }}
        />
        Show voided records
      </label>
      {/* What the last correction or void did, for everyone (a screen reader hears it). */}
      <p className="changed-status" aria-live="polite">
        {changed}
      </p>
      {dialog?.action === "correct" && (
        <CorrectDialog
          vehicle={vehicle}
          event={dialog.event}
          currencies={currencies}
          kinds={recordable}
          onClose={() => closeDialog()}
          onReloaded={applyHistory}
          onCorrected={(h, warnings) => {
            applyHistory(h);
            setChanged(
              warnings.length > 0 ? (
                <Doubtful title={h.current.title} done="corrected" warnings={warnings} />
              ) : (
                <>
                  “<bdi>{h.current.title}</bdi>” is corrected.
                </>
              ),
            );
            closeDialog();
            onRecorded();
          }}
        />
      )}
      {dialog?.action === "void" && (
        <VoidDialog
          vehicle={vehicle}
          event={dialog.event}
          onClose={() => closeDialog(!state.items.some((e) => e.id === dialog.event.id))}
          onReloaded={applyHistory}
          onVoided={(h) => {
            applyHistory(h);
            setChanged(
              showVoided ? (
                <>
                  “<bdi>{h.current.title}</bdi>” is voided: it stays here, marked voided.
                </>
              ) : (
                <>
                  “<bdi>{h.current.title}</bdi>” is voided: it has left the timeline.
                </>
              ),
            );
            // Shown voided, its row stays: focus goes back to it; else to a neighbour.
            closeDialog(!showVoided);
            onRecorded();
          }}
        />
      )}
      {dialog?.action === "history" && (
        <HistoryDialog vehicle={vehicle} event={dialog.event} onClose={() => closeDialog()} />
      )}
      {notFound && (
        <p className="notice" role="status">
          The cited event is no longer on this vehicle&apos;s timeline.
        </p>
      )}
      {state.loaded && !state.error && groups.length === 0 && (
        <Empty>{kinds.length ? "No events of these kinds yet." : "No events recorded yet."}</Empty>
      )}
      <div className="months">
        {groups.map((g) => (
          <section key={g.month} className="month" aria-labelledby={`month-${g.month}`}>
            <h3 id={`month-${g.month}`} className="month-title">
              {formatMonth(g.month)}
            </h3>
            <ol className="events">
              {g.events.map((e) => (
                <EventItem
                  key={e.id}
                  event={e}
                  unit={vehicle.odometerUnit}
                  open={open === e.id}
                  highlighted={highlight === e.id}
                  mayChange={!e.voided && mayChangeRecord(session.roles, e)}
                  mayAttach={!e.voided && recordable.includes(e.kind)}
                  vehicleId={vehicle.id}
                  onToggle={toggleOpen}
                  onAction={openDialog}
                />
              ))}
            </ol>
          </section>
        ))}
      </div>
      {state.loading && (
        <Loading label={state.items.length ? "Loading older events…" : "Loading the timeline…"} />
      )}
      <ErrorText
        error={state.error}
        onRetry={() => void load(state.items.length ? state.nextCursor : null)}
      />
      <div ref={sentinel} className="sentinel" />
      {/* Stays while the page loads (aria-disabled, not disabled: a disabled button would drop focus). */}
      {state.nextCursor && !state.error && (
        <button
          type="button"
          className="more"
          aria-disabled={state.loading || undefined}
          onClick={loadMoreFromButton}
        >
          Load older events
        </button>
      )}
      {state.loaded && !state.nextCursor && state.items.length > 0 && (
        <p className="muted end">That is the whole history.</p>
      )}
    </div>
  );
}

/** One row of the timeline; its props are stable, so a row re-renders only when it changes. */
const EventItem = memo(function EventItem({
  event: e,
  unit,
  open,
  highlighted,
  mayChange,
  mayAttach,
  vehicleId,
  onToggle,
  onAction,
}: {
  event: TimelineItem;
  unit: string;
  open: boolean;
  highlighted: boolean;
  /** The signed-in roles may correct and void this record (`mayChangeRecord`). */
  mayChange: boolean;
  /** The signed-in roles may attach files to this record (they may record its kind; not voided). */
  mayAttach: boolean;
  vehicleId: string;
  /** Opens or closes the row with this event id. */
  onToggle: (eventId: string) => void;
  /** Opens the dialog to correct or void the record, or to read its history. */
  onAction: (action: RecordAction, event: TimelineItem) => void;
}) {
  const style = kindStyle(e.kind);
  const detailsId = `event-${e.id}-details`;
  return (
    <li
      id={`event-${e.id}`}
      className={`event kind-${e.kind}${e.voided ? " voided" : ""}${highlighted ? " highlighted" : ""}`}
      style={kindColor(e.kind)}
    >
      <button
        id={`event-${e.id}-row`}
        type="button"
        className="event-row"
        aria-expanded={open}
        aria-controls={detailsId}
        onClick={() => onToggle(e.id)}
      >
        <span className="event-icon" aria-hidden="true">
          {style.glyph}
        </span>
        <span className="event-main">
          <span className="event-title">{e.title}</span>
          <span className="event-meta">
            <span className="kind-label">{style.label}</span> ·{" "}
            <time dateTime={e.occurredAt}>{formatDate(e.occurredAt)}</time>
            {e.odometer != null ? ` · ${formatDistance(e.odometer, unit)}` : ""}
            {e.corrected ? " · corrected" : ""}
          </span>
          {e.voided && (
            <span className="event-void">
              <strong>Voided</strong>
              {e.voidedAt && (
                <>
                  {" on "}
                  <time dateTime={e.voidedAt}>{formatDate(e.voidedAt)}</time>
                </>
              )}
              {e.voidReason && (
                <>
                  {": "}
                  <bdi>{e.voidReason}</bdi>
                </>
              )}
            </span>
          )}
        </span>
        {e.costCents != null && (
          <span className="event-cost">{formatMoney(e.costCents, e.currency ?? "USD")}</span>
        )}
      </button>
      {open && (
        <div id={detailsId} className="event-more">
          <dl className="event-details">
            {e.vendor && (
              <>
                <dt>Vendor</dt>
                <dd>{e.vendor.name}</dd>
              </>
            )}
            {e.notes && (
              <>
                <dt>Notes</dt>
                <dd>{e.notes}</dd>
              </>
            )}
            {detailEntries(e.details, e.currency ?? "USD").map(([k, v]) => (
              <FragmentPair
                key={k}
                term={humanize(k.replace(/([A-Z])/g, "_$1").toLowerCase())}
                value={v}
              />
            ))}
            <dt>Source</dt>
            <dd>{humanize(e.source)}</dd>
            <dt>Recorded</dt>
            <dd>{formatDate(e.recordedAt)}</dd>
            {e.corrected && e.correctedAt && (
              <>
                <dt>Corrected</dt>
                <dd>{formatDate(e.correctedAt)}</dd>
              </>
            )}
            {e.voided && (
              <>
                <dt>Voided</dt>
                <dd>
                  {e.voidedAt ? formatDate(e.voidedAt) : "Yes"}
                  {e.voidReason && (
                    <>
                      {" — "}
                      <bdi>{e.voidReason}</bdi>
                    </>
                  )}
                </dd>
              </>
            )}
          </dl>
          <Receipts vehicleId={vehicleId} event={e} mayAttach={mayAttach} />
          <div className="event-actions">
            {mayChange && (
              <>
                <button type="button" id={`correct-${e.id}`} onClick={() => onAction("correct", e)}>
                  {"Correct "}
                  <span className="visually-hidden">“{e.title}”</span>
                </button>
                <button type="button" id={`void-${e.id}`} onClick={() => onAction("void", e)}>
                  {"Void "}
                  <span className="visually-hidden">“{e.title}”</span>
                </button>
              </>
            )}
            <button type="button" id={`history-${e.id}`} onClick={() => onAction("history", e)}>
              {"History "}
              <span className="visually-hidden">of “{e.title}”</span>
            </button>
          </div>
        </div>
      )}
    </li>
  );
});

/** A record recorded or corrected as sent, with what the server found doubtful about it (its warnings). */
function Doubtful({
  title,
  done,
  warnings,
}: {
  title: string;
  done: "recorded" | "corrected";
  warnings: string[];
}) {
  return (
    <span className="record-warning" data-testid="record-warning">
      “<bdi>{title}</bdi>” is {done}. {warnings.join(" ")}
    </span>
  );
}

function FragmentPair({ term, value }: { term: string; value: string }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
}

export type RecordAction = "correct" | "void" | "history";

/**
 * The timeline after a record's change, as its history tells it: a voided record leaves (the default
 * timeline lists no voided records) or, with `showVoided`, stays marked as the API marks it (`voided`,
 * `voidedAt`, `voidReason`); a corrected one takes its new place (its date may have moved) with its marks,
 * or leaves when the filter no longer covers its kind.
 */
export function withHistory(
  items: readonly TimelineItem[],
  h: EventHistory,
  kinds: readonly EventKind[] = [],
  showVoided = false,
): TimelineItem[] {
  const rest = items.filter((e) => e.id !== h.current.id);
  if (rest.length === items.length || (h.voided && !showVoided)) return rest;
  if (kinds.length && !kinds.includes(h.current.kind)) return rest;
  const last = h.revisions[h.revisions.length - 1];
  const corrections = h.revisions.filter((r) => r.change === "corrected");
  const item: TimelineItem = {
    ...h.current,
    ...(corrections.length
      ? { corrected: true, correctedAt: corrections[corrections.length - 1]!.at }
      : {}),
    ...(last && last.revision > 1 ? { revision: last.revision } : {}),
    ...(h.voided && last?.change === "voided"
      ? { voided: true, voidedAt: last.at, voidReason: last.reason ?? null }
      : {}),
  };
  return insertEvent(rest, item);
}

/** The row buttons beside the row at `at` (the next one first, then the previous one), for focus. */
function neighbourRows(items: readonly TimelineItem[], at: number): string[] {
  if (at === -1) return [];
  return [items[at + 1], items[at - 1]]
    .filter((e) => e !== undefined)
    .map((e) => `event-${e.id}-row`);
}

/** Inserts an event into a newest-first list at its place (a no-op when it is already there). */
export function insertEvent<E extends VehicleEvent>(items: readonly E[], event: E): E[] {
  if (items.some((e) => e.id === event.id)) return items.slice();
  const at = items.findIndex((e) => e.occurredAt < event.occurredAt);
  return at === -1 ? [...items, event] : [...items.slice(0, at), event, ...items.slice(at)];
}
