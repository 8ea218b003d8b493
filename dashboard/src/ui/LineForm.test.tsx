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
    expect(ask).toHaveAttribute("aria-disabled", "true");
    await userEvent.type(line, "   ");
    expect(ask).toHaveAttribute("aria-disabled", "true");
    await userEvent.type(line, "  when?{Enter}");
    expect(onSubmit).toHaveBeenCalledExactlyOnceWith("when?");
    // Blank again: a click does nothing, and the button keeps focus (not `disabled`, which drops it).
    await userEvent.click(ask);
    expect(onSubmit).toHaveBeenCalledOnce();
    expect(ask).not.toBeDisabled();
    expect(ask).toHaveFocus();
    expect(line).toHaveValue("");
    expect(ask).toHaveAttribute("aria-disabled", "true");
  });

  it("submits nothing while busy, by button or by Enter", async () => {
    const onSubmit = vi.fn();
    render(<LineForm label="Token" button="Use" busy onSubmit={onSubmit} />);
    await userEvent.type(screen.getByLabelText("Token"), "abc{Enter}");
    const use = screen.getByRole("button", { name: "Use" });
    expect(use).toHaveAttribute("aria-disabled", "true");
    await userEvent.click(use);
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByLabelText("Token")).toHaveValue("abc");
  });
});
