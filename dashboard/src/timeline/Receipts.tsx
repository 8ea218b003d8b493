import { useId, useRef, useState } from "react";
import { ApiError, problemSentence } from "../api/client";
import { useApi } from "../api/context";
import type { Attachment, AttachmentList, TimelineItem, UploadTicket } from "../api/types";
import { useQuery } from "../api/useQuery";
import { formatDate } from "../format";
import { ErrorText, Loading } from "../ui/Feedback";

/** The server's limit on one file (docs/attachments.md); a larger file is refused here before it is sent. */
export const MAX_RECEIPT_BYTES = 10 * 1024 * 1024;
/**
 * Files up to this size go through the API in every deployment; larger ones, on AWS, straight to the bucket
 * by a pre-signed URL (a Lambda's request is at most 6 MB, and a binary body travels base64-encoded there).
 */
export const DIRECT_BYTES = 4 * 1024 * 1024;
/** What the server accepts, judged there by the file's first bytes: offered to the file picker. */
/** The 409 of a deployment that takes no pre-signed uploads (docs/attachments.md). */
const DIRECT_UPLOAD_UNAVAILABLE = "https://vwc.dev/problems/direct-upload-unavailable";
const ACCEPT =
  "image/jpeg,image/png,image/webp,image/heic,image/heif,image/gif,image/tiff,application/pdf,.heic,.heif,.tif,.tiff";
const TYPE_LABELS: Record<string, string> = {
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/webp": "WebP",
  "image/heic": "HEIC",
  "image/gif": "GIF",
  "image/tiff": "TIFF",
  "application/pdf": "PDF",
};

/** `2,048` → `2 KB`; `3,500,000` → `3.3 MB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * A record's receipts and documents (`…/events/{eventId}/attachments`): listed when the row opens, each
 * downloadable; those who may record the record's kind add files (a voided record keeps its files, readable,
 * and takes no new ones). A file over `DIRECT_BYTES` asks for a pre-signed URL first (AWS mode: the file goes
 * straight to the bucket, then the API checks it); a deployment that keeps files itself says 409, and the file
 * is sent to the API like a smaller one.
 */
export function Receipts({
  vehicleId,
  event,
  mayAttach,
}: {
  vehicleId: string;
  event: TimelineItem;
  /** The signed-in roles may record this record's kind, and it is not voided. */
  mayAttach: boolean;
}) {
  const { api } = useApi();
  const id = useId();
  const base = `/v1/vehicles/${encodeURIComponent(vehicleId)}/events/${encodeURIComponent(event.id)}/attachments`;
  const list = useQuery<AttachmentList>(base, (signal) => api.json(base, { signal }));
  // Files added since the list was read, shown at its end until it is read again.
  const [added, setAdded] = useState<Attachment[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const listed = list.data?.items ?? [];
  const items = [...listed, ...added.filter((a) => !listed.some((l) => l.id === a.id))];

  const upload = async (file: File) => {
    setError(null);
    if (file.size === 0) {
      setError(new Error(`“${file.name}” is empty.`));
      return;
    }
    if (file.size > MAX_RECEIPT_BYTES) {
      setError(
        new Error(
          `“${file.name}” is ${formatBytes(file.size)}; a file may be at most ${formatBytes(MAX_RECEIPT_BYTES)}.`,
        ),
      );
      return;
    }
    setBusy(true);
    setStatus(`Uploading “${file.name}”…`);
    try {
      const attachment = await send(file);
      setAdded((a) => [...a, attachment]);
      setStatus(`“${attachment.fileName}” is attached.`);
    } catch (e) {
      setStatus(null);
      setError(e);
    } finally {
      setBusy(false);
      if (input.current) input.current.value = "";
    }
  };

  const direct = (file: File) =>
    api.json<Attachment>(`${base}?fileName=${encodeURIComponent(file.name)}`, {
      method: "POST",
      file,
    });

  const send = async (file: File): Promise<Attachment> => {
    if (file.size <= DIRECT_BYTES) return direct(file);
    let ticket: UploadTicket | null = null;
    try {
      ticket = await api.json<UploadTicket>(`${base}/uploads`, {
        method: "POST",
        body: { fileName: file.name },
      });
    } catch (e) {
      // This deployment keeps files itself — they go through the API. Told by the problem's type, not
      // its words: a voided record's 409 is another type, and is said.
      if (!(e instanceof ApiError && e.problem?.type === DIRECT_UPLOAD_UNAVAILABLE)) throw e;
    }
    if (!ticket) return direct(file);
    let put: Response;
    try {
      put = await fetch(ticket.upload.url, {
        method: ticket.upload.method,
        headers: ticket.upload.headers,
        body: file,
      });
    } catch {
      throw new ApiError(0, "The file could not be sent to storage. Please try again.");
    }
    if (!put.ok) throw new ApiError(put.status, problemSentence(put.status));
    return api.json<Attachment>(ticket.confirmPath, { method: "POST" });
  };

  const download = async (a: Attachment) => {
    setError(null);
    try {
      // Embedded mode answers the bytes; AWS mode a 303 to a pre-signed URL, which fetch follows (the
      // browser drops the token on the way to the other origin).
      const res = await api.raw(`${base}/${encodeURIComponent(a.id)}`);
      const url = URL.createObjectURL(await res.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = a.fileName;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section className="receipts" aria-labelledby={`${id}-title`}>
      <h4 id={`${id}-title`}>Receipts and documents</h4>
      {list.loading && !list.data && <Loading label="Reading the record's files…" />}
      <ErrorText error={list.error} onRetry={list.reload} />
      {list.data &&
        (items.length === 0 ? (
          <p className="muted">No files attached.</p>
        ) : (
          <ul className="receipt-list">
            {items.map((a) => (
              <li key={a.id}>
                <button type="button" className="link" onClick={() => void download(a)}>
                  <span className="visually-hidden">Download</span> <bdi>{a.fileName}</bdi>
                </button>
                <span className="muted">
                  {" "}
                  {TYPE_LABELS[a.contentType] ?? a.contentType} · {formatBytes(a.sizeBytes)} · added{" "}
                  <time dateTime={a.uploadedAt}>{formatDate(a.uploadedAt)}</time>
                </span>
              </li>
            ))}
          </ul>
        ))}
      {event.voided && list.data && (
        <p className="muted">
          {items.length === 0
            ? "A voided record takes no new files."
            : "A voided record keeps its files; it takes no new ones."}
        </p>
      )}
      {mayAttach && list.data && (
        <div className="receipt-add">
          <label htmlFor={`${id}-file`}>Attach a receipt or document</label>
          <input
            ref={input}
            id={`${id}-file`}
            type="file"
            accept={ACCEPT}
            disabled={busy}
            aria-describedby={`${id}-hint`}
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void upload(file);
            }}
          />
          <span className="hint" id={`${id}-hint`}>
            A photo or scan (JPEG, PNG, WebP, HEIC, GIF, TIFF) or a PDF, up to{" "}
            {formatBytes(MAX_RECEIPT_BYTES)}.
          </span>
        </div>
      )}
      <p className="receipt-status" role="status">
        {status}
      </p>
      <ErrorText error={error} />
    </section>
  );
}
