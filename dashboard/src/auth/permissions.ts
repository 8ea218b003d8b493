// What the signed-in roles may do, as docs/roles.md tabulates it (`vwc_auth::role_permissions`), for the
// actions the dashboard offers: it hides or narrows what the API would refuse. The API still decides.
import { EVENT_KINDS, type EventKind, type VehicleEvent } from "../api/types";

/** The kinds `record_service_event` covers (`Permission::for_event_kind`). */
export const SERVICE_KINDS: readonly EventKind[] = ["maintenance", "repair", "odometer_reading"];

/** Roles with `record_any_event`: every kind. */
const RECORD_ANY = ["owner", "fleet_manager"];
/** Roles with `record_service_event` (and not `record_any_event`): the service kinds. */
const RECORD_SERVICE = ["technician"];

/** Whether these roles have `record_any_event` (a CSV import records every kind). */
export function mayRecordAnyEvent(roles: readonly string[]): boolean {
  return roles.some((r) => RECORD_ANY.includes(r));
}

/** The kinds these roles may record, in the form's order (none for a viewer). Roles add up. */
export function recordableKinds(roles: readonly string[]): EventKind[] {
  if (roles.some((r) => RECORD_ANY.includes(r))) return EVENT_KINDS.slice();
  if (roles.some((r) => RECORD_SERVICE.includes(r)))
    return EVENT_KINDS.filter((k) => SERVICE_KINDS.includes(k));
  return [];
}

/** Roles with `register_vehicles` (`POST /v1/vehicles`). */
const REGISTER = ["owner", "fleet_manager"];

export function mayRegisterVehicles(roles: readonly string[]): boolean {
  return roles.some((r) => REGISTER.includes(r));
}

/** Roles with `manage_vehicles`: change a vehicle's details, sell it, archive it. */
const MANAGE_VEHICLES = ["owner", "fleet_manager"];

export function mayManageVehicles(roles: readonly string[]): boolean {
  return roles.some((r) => MANAGE_VEHICLES.includes(r));
}

/** Roles with `configure_notifications`: the preferences (read and change) and rotating calendar links. */
const CONFIGURE_NOTIFICATIONS = ["owner", "fleet_manager"];

export function mayConfigureNotifications(roles: readonly string[]): boolean {
  return roles.some((r) => CONFIGURE_NOTIFICATIONS.includes(r));
}

/** Roles with `correct_dealer_records`: only they may correct or void what a dealer sent. */
const CORRECT_DEALER = ["fleet_manager"];

/**
 * Whether these roles may correct or void this record: they must be allowed to record its kind, and a
 * dealer's record (`source: dealer`) needs `correct_dealer_records` as well (docs/roles.md).
 */
export function mayChangeRecord(
  roles: readonly string[],
  event: Pick<VehicleEvent, "kind" | "source">,
): boolean {
  if (!recordableKinds(roles).includes(event.kind)) return false;
  return event.source !== "dealer" || roles.some((r) => CORRECT_DEALER.includes(r));
}

/** "viewer", "technician and viewer": the roles as a person reads them. */
export function rolesText(roles: readonly string[]): string {
  const names = roles.map((r) => r.replace(/_/g, " "));
  if (names.length <= 1) return names[0] ?? "no role";
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** What a permission lets someone do, for a refusal a person can read (`your roles do not allow …`). */
const PERMISSION_TEXT: Record<string, string> = {
  read_vehicles: "view vehicles",
  register_vehicles: "register vehicles",
  record_any_event: "record events of this kind",
  record_service_event: "record maintenance, repairs or odometer readings",
  manage_dealers: "manage dealers",
  configure_maintenance: "change maintenance schedules",
  run_sweep: "run the maintenance sweep",
  read_notifications: "view notifications",
  configure_notifications: "change notification settings",
  read_fleet: "view the fleet",
  chat: "ask the historian",
  manage_vehicles: "change, sell or archive vehicles",
  correct_dealer_records: "correct records a dealer sent",
};

/** The API's 403 detail (`your roles do not allow record_service_event`) in plain words. */
export function refusalSentence(detail: string | undefined): string | undefined {
  const m = /roles do not allow ([a-z_]+)/i.exec(detail ?? "");
  if (!m) return undefined;
  const what = PERMISSION_TEXT[m[1]!.toLowerCase()];
  return what
    ? `Your role does not allow you to ${what}.`
    : "Your role does not allow you to do that.";
}
