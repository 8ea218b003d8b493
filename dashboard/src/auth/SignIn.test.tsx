import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, oidcSettings as oidc, problem } from "../test-utils";
import { SignIn } from "./SignIn";

afterEach(() => vi.unstubAllGlobals());

describe("SignIn", () => {
  it("leaves for the identity provider on one click, and says so while it goes", async () => {
    let leave: () => void = () => {};
    const onProvider = vi.fn(() => new Promise<void>((r) => (leave = r)));
    render(<SignIn config={{ mode: "oidc", oidc }} onToken={vi.fn()} onProvider={onProvider} />);
    await userEvent.click(
      screen.getByRole("button", { name: "Sign in with your identity provider" }),
    );
    expect(onProvider).toHaveBeenCalledWith(oidc);
    const opening = screen.getByRole("button", { name: "Opening the identity provider…" });
    expect(opening).toHaveAttribute("aria-disabled", "true");
    expect(opening).toHaveFocus();
    await userEvent.click(opening);
    expect(onProvider).toHaveBeenCalledOnce();
    leave();
  });

  it("says in a sentence when the provider cannot be reached, and lets the user try again", async () => {
    const onProvider = vi.fn(() => Promise.reject(new TypeError("Failed to fetch")));
    render(<SignIn config={{ mode: "oidc", oidc }} onToken={vi.fn()} onProvider={onProvider} />);
    await userEvent.click(
      screen.getByRole("button", { name: "Sign in with your identity provider" }),
    );
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The identity provider at id.example.com could not be reached. Try again in a moment.",
    );
    expect(
      screen.getByRole("button", { name: "Sign in with your identity provider" }),
    ).not.toHaveAttribute("aria-disabled");
  });

  it("offers only the paste box when the server verifies tokens from elsewhere", async () => {
    const onToken = vi.fn();
    render(<SignIn config={{ mode: "token" }} onToken={onToken} onProvider={vi.fn()} />);
    expect(screen.queryByRole("heading", { name: "Sign in (development token)" })).toBeNull();
    expect(screen.queryByRole("button", { name: /identity provider/ })).toBeNull();
    await userEvent.type(
      screen.getByLabelText("A bearer token for this API"),
      "Bearer abc.def.ghi",
    );
    await userEvent.click(screen.getByRole("button", { name: "Use this token" }));
    expect(onToken).toHaveBeenCalledWith("abc.def.ghi");
  });

  it("shows that it is finishing the provider's sign-in instead of the forms", () => {
    render(<SignIn config={{ mode: "oidc", oidc }} busy onToken={vi.fn()} onProvider={vi.fn()} />);
    expect(screen.getByRole("status")).toHaveTextContent("Signing you in…");
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("says to tick a role when Sign in is pressed with none, and sends nothing", async () => {
    const fetch = mockFetch(() => problem(500, "x"));
    render(<SignIn config={{ mode: "embedded" }} onToken={vi.fn()} onProvider={vi.fn()} />);
    const roles = screen.getByRole("group", { name: "Roles" });
    for (const box of within(roles).getAllByRole("checkbox"))
      if ((box as HTMLInputElement).checked) await userEvent.click(box);
    const signIn = screen.getByRole("button", { name: "Sign in" });
    expect(signIn).not.toHaveAttribute("aria-disabled");
    await userEvent.click(signIn);
    expect(await screen.findByRole("alert")).toHaveTextContent("Tick at least one role.");
    expect(roles).toHaveAccessibleDescription("Tick at least one role.");
    expect(fetch).not.toHaveBeenCalled();
    await userEvent.click(within(roles).getAllByRole("checkbox")[0]!);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("announces the server's field error beside its field and keeps focus on Sign in", async () => {
    let answer: (r: Response) => void = () => {};
    mockFetch(() => new Promise<Response>((r) => (answer = r)));
    render(<SignIn config={{ mode: "embedded" }} onToken={vi.fn()} onProvider={vi.fn()} />);
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const busy = screen.getByRole("button", { name: "Signing in…" });
    // aria-disabled, not disabled: a disabled button drops focus to <body>.
    expect(busy).toHaveAttribute("aria-disabled", "true");
    expect(busy).toHaveFocus();
    answer(problem(422, "invalid", [{ field: "org", message: "must be 1–100 characters" }]));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Must be 1–100 characters.");
    const org = screen.getByLabelText("Organisation");
    expect(org).toHaveAttribute("aria-invalid", "true");
    expect(org).toHaveAccessibleDescription("Must be 1–100 characters.");
    expect(screen.getByLabelText("User")).not.toHaveAttribute("aria-invalid");
    expect(screen.getByRole("button", { name: "Sign in" })).toHaveFocus();
  });
});
