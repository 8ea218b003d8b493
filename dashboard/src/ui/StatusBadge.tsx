import type { MaintenanceStatus } from "../api/types";

const LABEL: Record<MaintenanceStatus, string> = {
  ok: "OK",
  due_soon: "Due soon",
  overdue: "Overdue",
  unknown: "Unknown",
};

export function StatusBadge({
  status,
  children,
}: {
  status: MaintenanceStatus;
  children?: string;
}) {
  return (
    <span className={`badge badge-${status}`}>
      <span className="badge-dot" aria-hidden="true" />
      {children ? (
        <>
          {children}
          <span className="badge-status">: {LABEL[status] ?? status}</span>
        </>
      ) : (
        (LABEL[status] ?? status)
      )}
    </span>
  );
}
