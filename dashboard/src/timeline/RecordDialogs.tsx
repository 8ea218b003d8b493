// Changing a recorded event from the timeline: correcting it (the record form, prefilled), voiding it (a
// reason, then a confirm step) and reading its history (every revision: who changed what, when and why).
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useApi } from "../api/context";
import type { EventHistory, EventKind, EventRevision, Vehicle, VehicleEvent } from "../api/types";
import { formatDate, formatDateTime, formatDistance, formatMoney, humanize } from "../format";
import { Dialog } from "../ui/Dialog";
import { ErrorText, Loading } from "../ui/Feedback";
import { TextAreaField } from "../ui/Field";
import { kindStyle } from "./kinds";
import {
  ConflictRetry,
  eventPath,
  historyPath,
  lastRevision,
  MAX_REASON,
  RecordEventForm,
  VoidedNotice,
  VoidedSentence,
} from "./RecordEventForm";
import { detailEntries } from "./details";

/**
 * Reads the record's history when a dialog opens: correcting and voiding work from the record as the server
 * now has it (`current`) and name its last revision in `If-Match`, so a change made meanwhile elsewhere is
 * a 409, never silently undone. `onRead` gets each history read (the timeline shows the record as it reads).
 */
function useRecordHistory(vehicleId: string, eventId: string, onRead?: (h: EventHistory) => void) {
  const { api } = useApi();
  const [generation, setGeneration] = useState(0);
  const [state, setState] = useState<{ history?: EventHistory; error?: unknown }>({});
  const read = useRef(onRead);
  read.current = onRead;

  useEffect(() => {
    const controller = new AbortController();
    setState({});
    api.json<EventHistory>(historyPath(vehicleId, eventId), { signal: controller.signal }).then(
      (history) => {
        if (controller.signal.aborted) return;
        setState({ history });
        read.current?.(history);
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ error });
      },
    );
    return () => controller.abort();
  }, [api, vehicleId, eventId, generation]);

  return { ...state, retry: () => setGeneration((g) => g + 1) };
}

/** A record found voided when a dialog reads it: when and why, and the one way on. */
function VoidedAndClose({ history, onClose }: { history: EventHistory; onClose: () => void }) {
  return (
    <>
      <VoidedNotice history={history} />
      <div className="actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </>
  );
}

export function CorrectDialog({
  vehicle,
  event,
  currencies,
  kinds,
  onCorrected,
  onReloaded,
  onClose,
}: {
  vehicle: Vehicle;
  event: VehicleEvent;
  currencies?: readonly string[];
  kinds: readonly EventKind[];
  onCorrected: (h: EventHistory, warnings: string[]) => void;
  onReloaded: (h: EventHistory) => void;
  onClose: () => void;
}) {
  const { history, error, retry } = useRecordHistory(vehicle.id, event.id, onReloaded);
  const loading = !history && !error;
  return (
    <Dialog
      title={
        <>
          Correct “<bdi>{history?.current.title ?? event.title}</bdi>”
        </>
      }
      onClose={onClose}
      loading={loading}
    >
      {loading && <Loading label="Reading the record as it now is…" />}
      <ErrorText error={error} onRetry={retry} />
      {history?.voided && <VoidedAndClose history={history} onClose={onClose} />}
      {history && !history.voided && (
        <RecordEventForm
          vehicle={vehicle}
          currencies={currencies}
          kinds={kinds}
          onCancel={onClose}
          correcting={{
            event: history.current,
            revision: lastRevision(history),
            onCorrected,
            onReloaded,
          }}
        />
      )}
      {error !== undefined && (
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      )}
    </Dialog>
  );
}

/** Why a void's reason cannot be sent (the API's rule: 1–500 characters), or undefined. */
export function voidReasonError(reason: string): string | undefined {
  const r = reason.trim();
  if (!r) return "Say why the record is voided.";
  if (r.length > MAX_REASON) return `Keep the reason to ${MAX_REASON} characters.`;
  return undefined;
}

export function VoidDialog({
  vehicle,
  event,
  onVoided,
  onReloaded,
  onClose,
}: {
  vehicle: Vehicle;
  event: VehicleEvent;
  onVoided: (h: EventHistory) => void;
  onReloaded: (h: EventHistory) => void;
  onClose: () => void;
}) {
  const { api } = useApi();
  const id = useId();
  const read = useRecordHistory(vehicle.id, event.id, onReloaded);
  // The history read at open, replaced by "Reload the record": what is voided and which revision.
  const [reloaded, setReloaded] = useState<EventHistory | undefined>();
  const history = reloaded ?? read.history;
  const loading = !history && !read.error;
  const [reason, setReason] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [general, setGeneral] = useState<string | undefined>();
  const [conflict, setConflict] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // Each step's first control takes focus when the step shows (the one that was focused is gone).
  useEffect(() => {
    document.getElementById(confirming ? `${id}-confirm` : `${id}-reason`)?.focus();
  }, [confirming, id]);

  function next(e: FormEvent) {
    e.preventDefault();
    const err = voidReasonError(reason);
    setError(err);
    if (!err) setConfirming(true);
  }

  async function confirm() {
    if (busy || !history) return;
    setBusy(true);
    setGeneral(undefined);
    setConflict(null);
    try {
      const voided = await api.json<EventHistory>(
        `${eventPath(vehicle.id, event.id)}?reason=${encodeURIComponent(reason.trim())}`,
        { method: "DELETE", headers: { "If-Match": `"${lastRevision(history)}"` } },
      );
      onVoided(voided);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setConflict(err.message);
      else if (err instanceof ApiError && err.fields.reason) {
        setError(err.fields.reason.charAt(0).toUpperCase() + err.fields.reason.slice(1));
        setConfirming(false);
      } else setGeneral(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  async function reload() {
    if (busy) return;
    setBusy(true);
    try {
      const h = await api.json<EventHistory>(historyPath(vehicle.id, event.id));
      onReloaded(h);
      setReloaded(h);
      setConflict(null);
      if (!h.voided) setConfirming(false);
    } catch (err) {
      setGeneral(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const current = history?.current ?? event;
  return (
    <Dialog
      title={
        <>
          Void “<bdi>{current.title}</bdi>”
        </>
      }
      onClose={onClose}
      loading={loading}
    >
      {loading && <Loading label="Reading the record as it now is…" />}
      <ErrorText error={read.error} onRetry={read.retry} />
      {history?.voided ? (
        <VoidedAndClose history={history} onClose={onClose} />
      ) : !history ? (
        read.error !== undefined && (
          <div className="actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        )
      ) : !confirming ? (
        <>
          <p className="muted small">
            A voided record leaves the timeline, the costs and the maintenance schedule. Its history
            is kept.
          </p>
          <form className="record" onSubmit={next} aria-label="Why void the record" noValidate>
            <TextAreaField
              prefix={id}
              name="reason"
              label="Reason (required)"
              rows={2}
              maxLength={MAX_REASON}
              value={reason}
              onValue={setReason}
              error={error}
              hint={<>Up to {MAX_REASON} characters; kept in the record&apos;s history.</>}
            />
            {general && (
              <p className="error" role="alert">
                {general}
              </p>
            )}
            <div className="actions">
              <button type="submit" className="primary">
                Continue
              </button>
              <button type="button" onClick={onClose}>
                Cancel
              </button>
            </div>
          </form>
        </>
      ) : (
        <div className="record">
          <p id={`${id}-question`}>
            Void “<bdi>{current.title}</bdi>” of {formatDate(current.occurredAt)} because “
            <bdi>{reason.trim()}</bdi>”?
          </p>
          {general && (
            <p className="error" role="alert">
              {general}
            </p>
          )}
          {conflict && (
            <ConflictRetry message={conflict} busy={busy} onReload={reload} action="void" />
          )}
          <div className="actions">
            <button
              id={`${id}-confirm`}
              type="button"
              className="danger"
              aria-describedby={`${id}-question`}
              aria-disabled={busy || undefined}
              onClick={() => void confirm()}
            >
              {busy ? "Voiding…" : "Void the record"}
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Back
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}

/** One field of a record as a person reads it (`costCents` → `$79.99`), `—` when it has none. */
export function fieldText(field: string, e: VehicleEvent, unit: string): string {
  const currency = e.currency ?? "USD";
  switch (field) {
    case "kind":
      return kindStyle(e.kind).label;
    case "occurredAt":
      return formatDate(e.occurredAt);
    case "odometer":
      return e.odometer != null ? formatDistance(e.odometer, unit) : "—";
    case "costCents":
      return e.costCents != null ? formatMoney(e.costCents, currency) : "—";
    case "vendor":
      return e.vendor?.name ?? "—";
    case "details": {
      const pairs = detailEntries(e.details, currency);
      return pairs.length ? pairs.map(([k, v]) => `${humanize(k)}: ${v}`).join("; ") : "—";
    }
    default: {
      const v = (e as unknown as Record<string, unknown>)[field];
      return v === null || v === undefined || v === "" ? "—" : String(v);
    }
  }
}

const FIELD_LABELS: Record<string, string> = {
  kind: "Kind",
  occurredAt: "Date",
  title: "Title",
  odometer: "Odometer",
  costCents: "Cost",
  currency: "Currency",
  vendor: "Vendor",
  notes: "Notes",
  details: "Details",
};

/** What a revision changed, each field with its value before and after (from the revision before it). */
export function revisionChanges(
  revisions: readonly EventRevision[],
  index: number,
  unit: string,
): { field: string; from: string; to: string }[] {
  const r = revisions[index];
  const prev = revisions[index - 1];
  if (!r || !prev || r.change !== "corrected") return [];
  return (r.changed ?? []).map((field) => ({
    field: FIELD_LABELS[field] ?? humanize(field),
    from: fieldText(field, prev.event, unit),
    to: fieldText(field, r.event, unit),
  }));
}

const CHANGE_TEXT: Record<EventRevision["change"], string> = {
  recorded: "Recorded",
  corrected: "Corrected",
  voided: "Voided",
};

export function HistoryDialog({
  vehicle,
  event,
  onClose,
}: {
  vehicle: Vehicle;
  event: VehicleEvent;
  onClose: () => void;
}) {
  const { history, error, retry } = useRecordHistory(vehicle.id, event.id);
  // The row may be stale (corrected in another tab): once read, the history names the record.
  return (
    <Dialog
      title={
        <>
          History of “<bdi>{history?.current.title ?? event.title}</bdi>”
        </>
      }
      onClose={onClose}
      className="history-dialog"
      initialFocus="title"
    >
      {!history && !error && <Loading label="Loading the history…" />}
      <ErrorText error={error} onRetry={retry} />
      {history && (
        <>
          {history.voided && (
            <p className="notice">
              <VoidedSentence history={history} />
            </p>
          )}
          <ol className="revisions">
            {history.revisions.map((r, i) => {
              const changes = revisionChanges(history.revisions, i, vehicle.odometerUnit);
              return (
                <li key={r.revision} className={`revision revision-${r.change}`}>
                  <p className="revision-head">
                    <strong>
                      {CHANGE_TEXT[r.change]} (revision {r.revision})
                    </strong>{" "}
                    <span className="muted">
                      <time dateTime={r.at}>{formatDateTime(r.at)}</time>
                      {r.by && (
                        <>
                          {" "}
                          by <bdi>{r.by}</bdi>
                        </>
                      )}
                    </span>
                  </p>
                  {r.reason && (
                    <p className="revision-reason">
                      Reason: <bdi>{r.reason}</bdi>
                    </p>
                  )}
                  {changes.length > 0 && (
                    <dl className="revision-changes">
                      {changes.map((c) => (
                        <div key={c.field}>
                          <dt>{c.field}</dt>
                          <dd>
                            <del>
                              <bdi>{c.from}</bdi>
                            </del>{" "}
                            <span aria-hidden="true">→ </span>
                            <span className="visually-hidden"> changed to </span>
                            <ins>
                              <bdi>{c.to}</bdi>
                            </ins>
                          </dd>
                        </div>
                      ))}
                    </dl>
                  )}
                </li>
              );
            })}
          </ol>
        </>
      )}
      <div className="actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
