// Names for the contract's schemas. `schema.d.ts` is generated from contracts/openapi.json (`npm run
// gen:api`, run by `npm ci` and before every `npm run typecheck`) and not committed, so it cannot drift.
import type { components } from "./schema";

type S = components["schemas"];
export type Vehicle = S["VehicleView"];
export type VehicleEvent = S["VehicleEvent"];
/** A timeline row: the record as it now reads, with its marks (`corrected`, `revision`, `voided`…). */
export type TimelineItem = S["TimelineItem"];
export type EventHistory = S["EventHistory"];
export type EventRevision = S["EventRevision"];
export type EventCorrection = S["EventCorrection"];
export type EventKind = S["EventKind"];
export type Overview = S["Overview"];
export type FuelEconomy = S["FuelEconomy"];
export type MaintenanceItem = S["MaintenanceItemView"];
export type MaintenanceStatus = S["MaintenanceStatus"];
export type VehicleMaintenance = S["VehicleMaintenance"];
export type FleetOverview = S["FleetOverview"];
export type FleetRow = S["FleetRow"];
export type FleetCosts = S["FleetCosts"];
export type CostGroup = S["CostGroup"];
export type CurrencyTotal = S["CurrencyTotal"];
export type NotificationView = S["NotificationView"];
export type MarkedRead = S["MarkedRead"];
export type Attachment = S["Attachment"];
export type AttachmentList = S["AttachmentList"];
export type UploadTicket = S["UploadTicket"];
export type Problem = S["Problem"];
export type FieldError = S["FieldError"];
export type DevToken = S["DevToken"];
export type RoleName = S["RoleName"];
export type Page<T> = { items: T[]; nextCursor?: string | null };

/** Every kind the contract names, in the order the filter chips show them. */
export const EVENT_KINDS: EventKind[] = [
  "acquisition",
  "maintenance",
  "repair",
  "collision",
  "upgrade",
  "valuation",
  "odometer_reading",
  "fuel",
];

/**
 * A valuation as DESIGN §4.3 describes it (`overview.valuation`, `GET …/valuations`). The valuation
 * service is being built alongside this dashboard and the contract types it as an open object, so the
 * fields are read defensively.
 */
export interface Valuation {
  amountCents?: number;
  currency?: string;
  asOf?: string;
  method?: string;
  factors?: ValuationFactor[];
}

export interface ValuationFactor {
  name?: string;
  label?: string;
  description?: string;
  amountCents?: number;
  effectCents?: number;
  percent?: number;
}
