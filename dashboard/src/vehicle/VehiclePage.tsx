import { useCallback, useEffect, useRef, useState } from "react";
import { qs } from "../api/client";
import { useApi } from "../api/context";
import type { Overview, Page, Valuation, Vehicle } from "../api/types";
import { useQuery, useReloadAfterWrite } from "../api/useQuery";
import { ChatPane } from "../chat/ChatPane";
import { Timeline, type TimelineHandle } from "../timeline/Timeline";
import { Empty, ErrorText, Loading } from "../ui/Feedback";
import { VehicleHeader } from "./VehicleHeader";

export function vehicleName(v: Vehicle): string {
  const base = `${v.year} ${v.make} ${v.model}`;
  return v.nickname ? `${base} “${v.nickname}”` : base;
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

  const list = vehicles.data ?? [];
  const selected = list.find((v) => v.id === vehicleId) ?? (vehicleId ? undefined : list[0]);

  return (
    <div className="vehicle-page">
      <div className="picker">
        <label htmlFor="vehicle-picker">Vehicle</label>
        <select
          id="vehicle-picker"
          value={selected?.id ?? ""}
          disabled={!list.length}
          onChange={(e) => {
            window.location.hash = `#/vehicles/${encodeURIComponent(e.target.value)}`;
          }}
        >
          {!selected && <option value="">Choose a vehicle</option>}
          {list.map((v) => (
            <option key={v.id} value={v.id}>
              {vehicleName(v)}
            </option>
          ))}
        </select>
      </div>
      {vehicles.loading && <Loading label="Loading vehicles…" />}
      <ErrorText error={vehicles.error} />
      {vehicles.data && !list.length && (
        <Empty>No vehicles are registered in this organisation yet.</Empty>
      )}
      {vehicles.data && vehicleId && !selected && (
        <p className="error" role="alert">
          That vehicle could not be found in your organisation.
        </p>
      )}
      {selected && <VehicleView key={selected.id} vehicle={selected} />}
    </div>
  );
}

function VehicleView({ vehicle }: { vehicle: Vehicle }) {
  const { api } = useApi();
  const base = `/v1/vehicles/${encodeURIComponent(vehicle.id)}`;
  const overview = useQuery(`overview:${vehicle.id}`, (signal) =>
    api.json<Overview>(`${base}/overview`, { signal }),
  );
  // The newest value, when the overview has none. An empty history or a 404 both mean "no value yet".
  const valuations = useQuery(`valuations:${vehicle.id}`, (signal) =>
    api
      .json<Page<Valuation>>(`${base}/valuations?limit=1`, { signal })
      .catch(() => ({ items: [] }) as Page<Valuation>),
  );
  const timeline = useRef<TimelineHandle>(null);
  // Events recorded on this page: every view derived from them is read again after each one.
  const [recorded, setRecorded] = useState(0);
  const onRecorded = useCallback(() => setRecorded((n) => n + 1), []);
  useReloadAfterWrite(recorded, overview.reload);
  useReloadAfterWrite(recorded, valuations.reload);

  useEffect(() => {
    document.title = `${vehicleName(vehicle)} · Vehicle Wellness Center`;
  }, [vehicle]);

  const valuation =
    (overview.data?.valuation as Valuation | null | undefined) ?? valuations.data?.items[0];

  return (
    <>
      <VehicleHeader
        vehicle={vehicle}
        overview={overview.data}
        valuation={valuation}
        loading={overview.loading && !overview.data}
        error={overview.error}
      />
      <div className="columns">
        <section className="column" aria-labelledby="timeline-title">
          <Timeline ref={timeline} vehicle={vehicle} onRecorded={onRecorded} />
        </section>
        <section className="column" aria-labelledby="chat-title">
          <ChatPane
            vehicle={vehicle}
            maintenance={overview.data?.maintenance ?? []}
            recorded={recorded}
            onCitation={(eventId) => timeline.current?.reveal(eventId)}
          />
        </section>
      </div>
    </>
  );
}
