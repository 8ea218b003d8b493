import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { LineForm } from "./LineForm";

describe("LineForm", () => {
  it("submits the trimmed line once it is not blank, then clears it", async () => {
    const onSubmit = vi.fn();
    render(<LineForm label="Question" hideLabel button="Ask" onSubmit={onSubmit} />);
    const line = screen.getByLabelText("Question");
    const ask = screen.getByRole("button", { name: "Ask" });
    expect(ask).toBeDisabled();
    await userEvent.type(line, "   ");
    expect(ask).toBeDisabled();
    await userEvent.type(line, "  when?{Enter}");
    expect(onSubmit).toHaveBeenCalledExactlyOnceWith("when?");
    expect(line).toHaveValue("");
    expect(ask).toBeDisabled();
  });

  it("submits nothing while busy, by button or by Enter", async () => {
    const onSubmit = vi.fn();
    render(<LineForm label="Token" button="Use" busy onSubmit={onSubmit} />);
    await userEvent.type(screen.getByLabelText("Token"), "abc{Enter}");
    expect(screen.getByRole("button", { name: "Use" })).toBeDisabled();
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByLabelText("Token")).toHaveValue("abc");
  });
});
