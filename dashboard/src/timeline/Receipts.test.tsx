import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Attachment, TimelineItem } from "../api/types";
import { demoVehicle, event, json, mockFetch, problem, renderWithApi } from "../test-utils";
import { DIRECT_BYTES, MAX_RECEIPT_BYTES } from "./Receipts";
import { Timeline } from "./Timeline";

const vehicle = demoVehicle();
const FILES = "/v1/vehicles/veh_1/events/a/attachments";

function receipt(id: string, fileName: string, overrides: Partial<Attachment> = {}): Attachment {
  return {
    id,
    eventId: "a",
    vehicleId: "veh_1",
    fileName,
    contentType: "application/pdf",
    sizeBytes: 48_213,
    uploadedAt: "2026-03-21T09:00:00Z",
    uploadedBy: "demo-owner",
    ...overrides,
  };
}

type Answer = (url: URL, init: RequestInit) => Response | Promise<Response> | undefined;

/** The timeline of one record `a` (or `row`), whose files `answer` serves; opens its row. */
async function open(
  answer: Answer,
  roles = ["owner"],
  row: TimelineItem = event("a", "2026-03-20T00:00:00Z"),
) {
  const fetch = mockFetch(
    (url, init) => answer(url, init) ?? json({ items: [row], nextCursor: null }),
    { attachments: true },
  );
  renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />, vi.fn(), roles);
  await userEvent.click(await screen.findByRole("button", { name: /^Event a/ }));
  const files = await screen.findByRole("region", { name: "Receipts and documents" });
  return { fetch, files };
}

const sent = (fetch: ReturnType<typeof mockFetch>, method: string, path: string) =>
  fetch.mock.calls.filter(
    (c) =>
      (c[1]?.method ?? "GET") === method &&
      new URL(String(c[0]), "http://localhost").pathname === path,
  );

function pdf(name: string, size = 1200): File {
  const bytes = new Uint8Array(size);
  bytes.set(new TextEncoder().encode("%PDF-1.7"));
  return new File([bytes], name, { type: "application/pdf" });
}

beforeEach(() => {
  vi.stubGlobal(
    "URL",
    Object.assign(URL, { createObjectURL: vi.fn(() => "blob:x"), revokeObjectURL: vi.fn() }),
  );
});
afterEach(() => vi.unstubAllGlobals());

describe("a record's receipts", () => {
  it("lists the record's files when its row opens, and downloads one with the token, under its name", async () => {
    const clicked: string[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (
      this: HTMLAnchorElement,
    ) {
      clicked.push(`${this.download} ${this.href}`);
    });
    const { fetch, files } = await open((url) => {
      if (url.pathname === FILES)
        return json({
          items: [
            receipt("att_1", "invoice-march.pdf"),
            receipt("att_2", "receipt.jpg", { contentType: "image/jpeg", sizeBytes: 3_500_000 }),
          ],
        });
      if (url.pathname === `${FILES}/att_2`)
        return new Response(new Uint8Array([0xff, 0xd8, 0xff]), {
          headers: { "Content-Type": "image/jpeg" },
        });
      return undefined;
    });
    const items = await within(files).findAllByRole("listitem");
    expect(items.map((i) => i.textContent)).toEqual([
      "Download invoice-march.pdf PDF · 47 KB · added 21 Mar 2026",
      "Download receipt.jpg JPEG · 3.3 MB · added 21 Mar 2026",
    ]);
    await userEvent.click(within(files).getByRole("button", { name: "Download receipt.jpg" }));
    await waitFor(() => expect(clicked).toEqual(["receipt.jpg blob:x"]));
    const [download] = sent(fetch, "GET", `${FILES}/att_2`);
    expect(download![1]!.headers).toMatchObject({ Authorization: "Bearer t0k3n" });
    click.mockRestore();
  });

  it("sends a small file to the API, and a large one too where the deployment keeps files itself", async () => {
    const { fetch, files } = await open((url, init) => {
      if (url.pathname === FILES && (init.method ?? "GET") === "GET") return json({ items: [] });
      if (url.pathname === `${FILES}/uploads`)
        return problem(
          409,
          "this deployment keeps attachments itself: POST the file to …/attachments",
          undefined,
          "direct-upload-unavailable",
        );
      if (url.pathname === FILES && init.method === "POST")
        return json(
          receipt(`att_${url.searchParams.get("fileName")}`, url.searchParams.get("fileName")!),
          201,
        );
      return undefined;
    });
    expect(within(files).getByText("No files attached.")).toBeInTheDocument();
    const input = within(files).getByLabelText("Attach a receipt or document");
    await userEvent.upload(input, pdf("brakes.pdf"));
    expect(await within(files).findByRole("status")).toHaveTextContent("“brakes.pdf” is attached.");
    expect(within(files).getByRole("button", { name: "Download brakes.pdf" })).toBeInTheDocument();
    // A small file asks for no pre-signed URL.
    expect(sent(fetch, "POST", `${FILES}/uploads`)).toHaveLength(0);
    const [post] = sent(fetch, "POST", FILES);
    expect(post![1]!.body).toBeInstanceOf(File);
    expect(post![1]!.headers).toMatchObject({
      Authorization: "Bearer t0k3n",
      "Content-Type": "application/octet-stream",
    });
    expect(new URL(String(post![0]), "http://localhost").searchParams.get("fileName")).toBe(
      "brakes.pdf",
    );

    await userEvent.upload(input, pdf("scan.pdf", DIRECT_BYTES + 1));
    expect(await within(files).findByRole("status")).toHaveTextContent("“scan.pdf” is attached.");
    expect(sent(fetch, "POST", `${FILES}/uploads`)).toHaveLength(1);
    expect(sent(fetch, "POST", FILES)).toHaveLength(2);
    expect(within(files).getAllByRole("listitem")).toHaveLength(2);
  });

  it("puts a file to the pre-signed URL without the token, then has the API check it", async () => {
    const upload = "https://bucket.s3.example.com/pending/org_demo/veh_1/a/att_7?X-Amz-Signature=s";
    const { fetch, files } = await open((url, init) => {
      if (url.pathname === FILES && (init.method ?? "GET") === "GET") return json({ items: [] });
      if (url.pathname === `${FILES}/uploads`)
        return json(
          {
            attachmentId: "att_7",
            upload: {
              url: upload,
              method: "PUT",
              headers: { "content-type": "application/octet-stream" },
              expiresAt: "2026-12-03T10:15:00Z",
            },
            confirmPath: `${FILES}/att_7/confirm`,
            maxBytes: MAX_RECEIPT_BYTES,
          },
          201,
        );
      if (url.host === "bucket.s3.example.com") return new Response(null, { status: 200 });
      if (url.pathname === `${FILES}/att_7/confirm`)
        return json(receipt("att_7", "tyres.pdf"), 201);
      return undefined;
    });
    await userEvent.upload(
      within(files).getByLabelText("Attach a receipt or document"),
      pdf("tyres.pdf", DIRECT_BYTES + 1),
    );
    expect(await within(files).findByRole("status")).toHaveTextContent("“tyres.pdf” is attached.");
    const put = fetch.mock.calls.find((c) => String(c[0]) === upload)!;
    expect(put[1]).toMatchObject({
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
    });
    expect(JSON.stringify(put[1]!.headers)).not.toContain("Bearer");
    expect(JSON.parse(String(sent(fetch, "POST", `${FILES}/uploads`)[0]![1]!.body))).toEqual({
      fileName: "tyres.pdf",
    });
    expect(sent(fetch, "POST", `${FILES}/att_7/confirm`)).toHaveLength(1);
  });

  it("refuses a file over 10 MB before sending it, and says why the server refused another", async () => {
    const { fetch, files } = await open((url, init) => {
      if (url.pathname === FILES && (init.method ?? "GET") === "GET") return json({ items: [] });
      if (url.pathname === `${FILES}/uploads`)
        return problem(
          409,
          "this deployment keeps attachments itself: POST the file to …/attachments",
          undefined,
          "direct-upload-unavailable",
        );
      if (url.pathname === FILES)
        return problem(415, "the file is a Windows executable, not an image or a PDF");
      return undefined;
    });
    const input = within(files).getByLabelText("Attach a receipt or document");
    await userEvent.upload(input, pdf("scan.pdf", MAX_RECEIPT_BYTES + 1));
    expect(await within(files).findByRole("alert")).toHaveTextContent(
      "“scan.pdf” is 10.0 MB; a file may be at most 10.0 MB.",
    );
    expect(fetch.mock.calls.filter((c) => c[1]?.method === "POST")).toHaveLength(0);

    await userEvent.upload(input, pdf("setup.pdf"));
    expect(await within(files).findByRole("alert")).toHaveTextContent(
      "The file is a Windows executable, not an image or a PDF.",
    );
    expect(within(files).getByText("No files attached.")).toBeInTheDocument();
    expect(input).toHaveValue("");
  });

  it("tells a 409 that is no deployment's choice by its type, not its words, and says it", async () => {
    const { fetch, files } = await open((url, init) => {
      if (url.pathname === FILES && (init.method ?? "GET") === "GET") return json({ items: [] });
      if (url.pathname === `${FILES}/uploads`)
        // A conflict of another kind, even one whose words say "POST the file".
        return problem(
          409,
          "the record was voided: POST the file to another record",
          undefined,
          "conflict",
        );
      return undefined;
    });
    const input = within(files).getByLabelText("Attach a receipt or document");
    await userEvent.upload(input, pdf("scan.pdf", DIRECT_BYTES + 1));
    expect(await within(files).findByRole("alert")).toHaveTextContent(
      "The record was voided: POST the file to another record.",
    );
    expect(sent(fetch, "POST", FILES)).toHaveLength(0);
  });

  it("shows a viewer the files without the picker", async () => {
    const answer: Answer = (url) =>
      url.pathname === FILES ? json({ items: [receipt("att_1", "invoice.pdf")] }) : undefined;
    const { files } = await open(answer, ["viewer"]);
    expect(
      await within(files).findByRole("button", { name: "Download invoice.pdf" }),
    ).toBeInTheDocument();
    expect(within(files).queryByLabelText("Attach a receipt or document")).toBeNull();
  });

  it("keeps a voided record's files readable and takes no new ones", async () => {
    const voided = {
      ...event("a", "2026-03-20T00:00:00Z"),
      voided: true,
      voidedAt: "2026-03-22T00:00:00Z",
      voidReason: "entered twice",
    } as TimelineItem;
    const answer: Answer = (url) =>
      url.pathname === FILES ? json({ items: [receipt("att_1", "invoice.pdf")] }) : undefined;
    mockFetch((url, init) => answer(url, init) ?? json({ items: [voided], nextCursor: null }), {
      attachments: true,
    });
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    await userEvent.click(await screen.findByRole("checkbox", { name: "Show voided records" }));
    await userEvent.click(await screen.findByRole("button", { name: /^Event a/ }));
    const files = await screen.findByRole("region", { name: "Receipts and documents" });
    expect(
      await within(files).findByRole("button", { name: "Download invoice.pdf" }),
    ).toBeInTheDocument();
    expect(
      within(files).getByText("A voided record keeps its files; it takes no new ones."),
    ).toBeInTheDocument();
    expect(within(files).queryByLabelText("Attach a receipt or document")).toBeNull();
  });

  it("tells of a voided record without files only that it takes none", async () => {
    const voided = {
      ...event("a", "2026-03-20T00:00:00Z"),
      voided: true,
      voidedAt: "2026-03-22T00:00:00Z",
      voidReason: "entered twice",
    } as TimelineItem;
    mockFetch(
      (url) =>
        url.pathname === FILES ? json({ items: [] }) : json({ items: [voided], nextCursor: null }),
      { attachments: true },
    );
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    await userEvent.click(await screen.findByRole("checkbox", { name: "Show voided records" }));
    await userEvent.click(await screen.findByRole("button", { name: /^Event a/ }));
    const files = await screen.findByRole("region", { name: "Receipts and documents" });
    expect(await within(files).findByText("No files attached.")).toBeInTheDocument();
    expect(within(files).getByText("A voided record takes no new files.")).toBeInTheDocument();
    expect(within(files).queryByText(/keeps its files/)).toBeNull();
    expect(within(files).queryByLabelText("Attach a receipt or document")).toBeNull();
  });
});
