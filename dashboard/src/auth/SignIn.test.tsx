import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { oidcSettings as oidc } from "../test-utils";
import { SignIn } from "./SignIn";

describe("SignIn", () => {
  it("leaves for the identity provider on one click, and says so while it goes", async () => {
    let leave: () => void = () => {};
    const onProvider = vi.fn(() => new Promise<void>((r) => (leave = r)));
    render(<SignIn config={{ mode: "oidc", oidc }} onToken={vi.fn()} onProvider={onProvider} />);
    await userEvent.click(
      screen.getByRole("button", { name: "Sign in with your identity provider" }),
    );
    expect(onProvider).toHaveBeenCalledWith(oidc);
    expect(screen.getByRole("button", { name: "Opening the identity provider…" })).toBeDisabled();
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
    ).toBeEnabled();
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
});
