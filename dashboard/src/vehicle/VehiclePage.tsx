import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError, qs } from "../api/client";
import { useApi } from "../api/context";
import type { Overview, Page, Valuation, Vehicle } from "../api/types";
import { useCatchUp, useQuery, useReloadAfterWrite } from "../api/useQuery";
import { ChatPane } from "../chat/ChatPane";
import { Timeline, type TimelineHandle } from "../timeline/Timeline";
import { ErrorText, Loading } from "../ui/Feedback";
import { NoVehiclesYet, RegisterVehicleButton, useRegistering } from "./RegisterVehicle";
import { VehicleActions, type ChangedVehicle } from "./VehicleActions";
import { VehicleHeader } from "./VehicleHeader";

export function vehicleName(v: Vehicle): string {
  const base = `${v.year} ${v.make} ${v.model}`;
  return v.nickname ? `${base} “${v.nickname}”` : base;
}

/**
 * The currencies an event of this vehicle is recorded in, the default first: its purchase currency, then
 * the currencies of its costs (most spent first); USD when it has neither.
 */
export function vehicleCurrencies(vehicle: Vehicle, overview?: Overview): string[] {
  const costs = (overview?.costs ?? [])
    .slice()
    .sort((a, b) => b.lifetimeCents - a.lifetimeCents)
    .map((c) => c.currency);
  const all = [vehicle.purchaseCurrency, ...costs].filter((c): c is string => !!c);
  return all.length ? [...new Set(all)] : ["USD"];
}

/** Vehicles as the picker lists them: by name, then by id (two vehicles may share a name). */
export function byName(vehicles: readonly Vehicle[]): Vehicle[] {
  return vehicles
    .slice()
    .sort(
      (a, b) =>
        vehicleName(a).localeCompare(vehicleName(b), undefined, { numeric: true }) ||
        a.id.localeCompare(b.id),
    );
}

/**
 * Each vehicle's name as the picker lists it: its name (`vehicleName`, with its nickname), and — only where
 * two or more share that name, as a fleet of identical vans does — what tells them apart: the plate where
 * each has its own, else the VIN's last 6 characters (the whole VIN where even those are shared).
 */
export function pickerLabels(vehicles: readonly Vehicle[]): Map<string, string> {
  const byLabel = new Map<string, Vehicle[]>();
  for (const v of vehicles) {
    const name = vehicleName(v);
    byLabel.set(name, [...(byLabel.get(name) ?? []), v]);
  }
  const labels = new Map<string, string>();
  for (const [name, same] of byLabel) {
    if (same.length === 1) {
      labels.set(same[0]!.id, name);
      continue;
    }
    const unique = (key: (v: Vehicle) => string | null | undefined) => (v: Vehicle) => {
      const k = key(v)?.trim();
      return (
        !!k && same.filter((o) => key(o)?.trim().toUpperCase() === k.toUpperCase()).length === 1
      );
    };
    const plate = unique((v) => v.plate);
    const tail = unique((v) => v.vin.slice(-6));
    for (const v of same)
      labels.set(
        v.id,
        plate(v)
          ? `${name} · plate ${v.plate!.trim()}`
          : `${name} · VIN …${tail(v) ? v.vin.slice(-6) : v.vin}`,
      );
  }
  return labels;
}

/** How long the picker waits after a keyboard change before it opens that vehicle. */
export const PICKER_SETTLE_MS = 700;

/**
 * The vehicle picker. Chromium changes a closed select's value on every arrow key: a change right after a
 * key (arrows, type-ahead) opens that vehicle only once the keys have stopped for `PICKER_SETTLE_MS`, or at
 * once on Enter or when focus leaves; a choice made with the pointer opens it at once. So arrowing past 15
 * vehicles is one navigation, not 15 (each with its requests and history entry).
 */
function VehiclePicker({
  vehicles,
  selected,
  children,
}: {
  vehicles: Vehicle[];
  selected?: Vehicle;
  children?: ReactNode;
}) {
  const [choice, setChoice] = useState<string | null>(null);
  const labels = useMemo(() => pickerLabels(vehicles), [vehicles]);
  const lastKey = useRef(0);
  const timer = useRef<number | undefined>(undefined);

  const go = useCallback(
    (id: string) => {
      window.clearTimeout(timer.current);
      timer.current = undefined;
      setChoice(null);
      if (id && id !== selected?.id) window.location.hash = `#/vehicles/${encodeURIComponent(id)}`;
    },
    [selected?.id],
  );
  useEffect(() => () => window.clearTimeout(timer.current), []);

  return (
    <div className="picker">
      <label htmlFor="vehicle-picker">Vehicle</label>
      <select
        id="vehicle-picker"
        value={choice ?? selected?.id ?? ""}
        disabled={!vehicles.length}
        onKeyDown={(e) => {
          if (e.key === "Enter" && choice !== null) go(choice);
          else lastKey.current = Date.now();
        }}
        onBlur={() => {
          if (choice !== null) go(choice);
        }}
        onChange={(e) => {
          const id = e.target.value;
          if (Date.now() - lastKey.current > 100) return go(id);
          setChoice(id);
          window.clearTimeout(timer.current);
          timer.current = window.setTimeout(() => go(id), PICKER_SETTLE_MS);
        }}
      >
        {!selected && <option value="">Choose a vehicle</option>}
        {vehicles.map((v) => (
          <option key={v.id} value={v.id}>
            {labels.get(v.id) ?? vehicleName(v)}
          </option>
        ))}
      </select>
      {children}
    </div>
  );
}

export function VehiclePage({ vehicleId }: { vehicleId?: string }) {
  const { api, session } = useApi();
  const vehicles = useQuery(`vehicles:${session.org}`, async (signal) => {
    const all: Vehicle[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await api.json<Page<Vehicle>>(`/v1/vehicles${qs({ limit: 200, cursor })}`, {
        signal,
      });
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  });

  // Registered on this page: listed at once, and opened (docs/dashboard.md, "Registering a vehicle").
  const {
    vehicles: all,
    onRegistered,
    registeredIds,
  } = useRegistering(vehicles.data, vehicles.reload);
  // Changed, sold or archived on this page: shown so at once, until the list reads so too.
  const { vehicles: changed, onChanged } = useVehicleChanges(all, vehicles.reload);
  const list = useMemo(() => byName(changed), [changed]);
  const selected = list.find((v) => v.id === vehicleId) ?? (vehicleId ? undefined : list[0]);

  return (
    <div className="vehicle-page">
      <VehiclePicker vehicles={list} selected={selected}>
        {list.length > 0 && <RegisterVehicleButton primary={false} onRegistered={onRegistered} />}
      </VehiclePicker>
      {vehicles.loading && <Loading label="Loading vehicles…" />}
      <ErrorText error={vehicles.error} onRetry={vehicles.reload} />
      {vehicles.data && !list.length && <NoVehiclesYet onRegistered={onRegistered} />}
      {vehicles.data && !vehicles.loading && vehicleId && !selected && (
        <p className="error" role="alert">
          That vehicle could not be found in your organisation.
        </p>
      )}
      {selected && (
        <VehicleView
          key={selected.id}
          vehicle={selected}
          isNew={registeredIds.has(selected.id) || isRecent(selected)}
          onChanged={onChanged}
        />
      )}
    </div>
  );
}

/** A 404 on a vehicle's view: the vehicle is not in the read model (yet). */
function lagging(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

/** How long after its registration a vehicle with no records counts as new (its views may lag). */
export const NEW_VEHICLE_MS = 10 * 60_000;

/** A vehicle registered in the last minutes, with no records yet (registered elsewhere: another tab). */
export function isRecent(v: Vehicle, now = Date.now()): boolean {
  const at = Date.parse(v.registeredAt);
  return !v.eventCount && Number.isFinite(at) && now - at < NEW_VEHICLE_MS;
}

/** The fields a change, sale or archive of a vehicle sets: equal in both, the list has caught up. */
export function sameState(a: Vehicle, b: ChangedVehicle): boolean {
  const keys = [
    "nickname",
    "trim",
    "plate",
    "colour",
    "odometerUnit",
    "status",
    "archivedAt",
  ] as const;
  return (
    keys.every((k) => (a[k] ?? null) === (b[k] ?? null)) &&
    (a.sale?.soldAt ?? null) === (b.sale?.soldAt ?? null)
  );
}

/** A vehicle as a change answered it, with the read model's counts of the copy it replaces. */
export function withChange(listed: Vehicle, answer: ChangedVehicle): Vehicle {
  return {
    eventCount: listed.eventCount,
    lastEventAt: listed.lastEventAt,
    odometer: listed.odometer,
    ...answer,
  } as Vehicle;
}

/**
 * The vehicle page's side of changing a vehicle (details, sale, archive): the answer replaces the listed
 * copy at once — the list is a read model the bus updates a moment later — and the list is read again
 * (`useReloadAfterWrite`), until it reads as the answer did.
 */
function useVehicleChanges(listed: readonly Vehicle[], reload: () => void) {
  const [answers, setAnswers] = useState<Record<string, ChangedVehicle>>({});
  const [writes, setWrites] = useState(0);
  useReloadAfterWrite(writes, reload);
  const onChanged = useCallback((v: ChangedVehicle) => {
    setAnswers((a) => ({ ...a, [v.id]: v }));
    setWrites((n) => n + 1);
  }, []);
  // Once the list reads as an answer did, the answer goes: a later change made elsewhere shows then.
  useEffect(() => {
    setAnswers((a) => {
      const caughtUp = listed.filter((v) => a[v.id] && sameState(v, a[v.id]!));
      if (!caughtUp.length) return a;
      const next = { ...a };
      for (const v of caughtUp) delete next[v.id];
      return next;
    });
  }, [listed]);
  return useMemo(() => {
    const vehicles = listed.map((v) => {
      const answer = answers[v.id];
      return !answer || sameState(v, answer) ? v : withChange(v, answer);
    });
    return { vehicles, onChanged };
  }, [listed, answers, onChanged]);
}

function VehicleView({
  vehicle,
  isNew = false,
  onChanged,
}: {
  vehicle: Vehicle;
  /** Registered a moment ago: its views are read again until they have caught up (`useCatchUp`). */
  isNew?: boolean;
  onChanged: (vehicle: ChangedVehicle) => void;
}) {
  const { api } = useApi();
  const base = `/v1/vehicles/${encodeURIComponent(vehicle.id)}`;
  const overview = useQuery(`overview:${vehicle.id}`, (signal) =>
    api.json<Overview>(`${base}/overview`, { signal }),
  );
  // The newest value, when the overview has none. An empty history or a 404 both mean "no value yet";
  // any other failure is shown as one (with "Try again"), not as "Not valued yet".
  const valuations = useQuery(`valuations:${vehicle.id}`, (signal) =>
    api.json<Page<Valuation>>(`${base}/valuations?limit=1`, { signal }).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return { items: [] } as Page<Valuation>;
      throw e;
    }),
  );
  const timeline = useRef<TimelineHandle>(null);
  // Events recorded on this page: every view derived from them is read again after each one.
  const [recorded, setRecorded] = useState(0);
  const onRecorded = useCallback(() => setRecorded((n) => n + 1), []);
  useReloadAfterWrite(recorded, overview.reload);
  useReloadAfterWrite(recorded, valuations.reload);
  // Rows imported from a file: the timeline too is read again as the bus projects them.
  const [imported, setImported] = useState(0);
  const onImported = useCallback(() => {
    setImported((n) => n + 1);
    onRecorded();
  }, [onRecorded]);
  const reloadTimeline = useCallback(() => timeline.current?.reload(), []);
  useReloadAfterWrite(imported, reloadTimeline);
  // A sale or an archive changes the overview (no value, no due items) as the bus delivers it.
  const [answer, setAnswer] = useState<ChangedVehicle>();
  const [changes, setChanges] = useState(0);
  useReloadAfterWrite(changes, overview.reload);
  const changed = useCallback(
    (v: ChangedVehicle) => {
      setAnswer(v);
      setChanges((n) => n + 1);
      onChanged(v);
    },
    [onChanged],
  );

  useEffect(() => {
    document.title = `${vehicleName(vehicle)} · Vehicle Wellness Center`;
  }, [vehicle]);

  const valuation =
    (overview.data?.valuation as Valuation | null | undefined) ?? valuations.data?.items[0];
  // The overview's copy of the vehicle is the newer one (a sale or an archive since the list was read) —
  // unless a change made on this page is newer still: its answer stands until the overview reads so too.
  const read = overview.data?.vehicle ?? vehicle;
  const current = answer && !sameState(read, answer) ? withChange(read, answer) : read;
  const caughtUp = !!answer && !!overview.data && sameState(overview.data.vehicle, answer);
  useEffect(() => {
    if (caughtUp) setAnswer(undefined);
  }, [caughtUp]);
  const currencies = vehicleCurrencies(current, overview.data);
  const { reload: reloadOverview } = overview;
  const { reload: reloadValuations } = valuations;
  const retry = useCallback(() => {
    reloadOverview();
    reloadValuations();
  }, [reloadOverview, reloadValuations]);
  // A vehicle just registered: its views are read models the bus fills a moment later, so the first reads
  // may find no value, no schedule, or no vehicle at all (404). They are read again a few times while that
  // lasts (`CATCH_UP_MS`), the timeline and the chat's suggestions with them.
  const [catchUpReads, setCatchUpReads] = useState(0);
  const catchingUp = useCatchUp(
    isNew,
    () => !overview.data || !valuation || !overview.data.maintenance?.length,
    () => {
      retry();
      setCatchUpReads((n) => n + 1);
    },
  );

  return (
    <>
      <VehicleHeader
        vehicle={current}
        overview={overview.data}
        valuation={valuation}
        loading={(overview.loading && !overview.data) || (catchingUp && lagging(overview.error))}
        error={catchingUp && lagging(overview.error) ? undefined : overview.error}
        valuationError={valuation ? undefined : valuations.error}
        onRetry={retry}
        actions={
          <VehicleActions
            vehicle={current}
            currencies={currencies}
            onChanged={changed}
            onImported={onImported}
          />
        }
      />
      <div className="columns">
        <section className="column" aria-labelledby="timeline-title">
          <Timeline
            ref={timeline}
            vehicle={vehicle}
            soldAt={current.sale?.soldAt}
            currencies={currencies}
            onRecorded={onRecorded}
            refresh={catchUpReads}
          />
        </section>
        <section className="column" aria-labelledby="chat-title">
          <ChatPane
            vehicle={current}
            maintenance={overview.data?.maintenance ?? []}
            recorded={recorded + changes}
            refresh={catchUpReads}
            onCitation={(eventId) => timeline.current?.reveal(eventId)}
          />
        </section>
      </div>
    </>
  );
}
