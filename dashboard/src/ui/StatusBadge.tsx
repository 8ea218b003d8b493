import type { MaintenanceStatus } from "../api/types";

export const STATUS_LABEL: Record<MaintenanceStatus, string> = {
  ok: "OK",
  due_soon: "Due soon",
  overdue: "Overdue",
  unknown: "Unknown",
};

/** A coloured status pill; the status is also written out, so colour is never the only signal. */
export function StatusBadge({
  status,
  children,
}: {
  status: MaintenanceStatus;
  children?: string;
}) {
  const label = STATUS_LABEL[status] ?? status;
  return (
    <span className={`badge badge-${status}`}>
      <span className="badge-dot" aria-hidden="true" />
      <span>
        {children ? (
          <>
            {children}
            <span className="badge-status"> · {label}</span>
          </>
        ) : (
          label
        )}
      </span>
    </span>
  );
}
