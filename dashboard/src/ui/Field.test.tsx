import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useRef, useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { expectHelpLinked } from "../test-utils";
import {
  bindFields,
  CheckField,
  RadioField,
  SelectField,
  TextAreaField,
  TextField,
  type FieldHelp,
} from "./Field";
import { useFocusFirstError } from "./focusFirstError";

describe("TextField", () => {
  it("is named by its label, with the id scheme of its form", () => {
    render(<TextField prefix="f1" name="email" label="E-mail address" value="" type="email" />);
    const input = screen.getByRole("textbox", { name: "E-mail address" });
    expect(input).toHaveAttribute("id", "f1-email");
    expect(input).toHaveAttribute("name", "email");
    expect(input).toHaveAttribute("type", "email");
    // Nothing to say: not invalid, described by nothing.
    expect(input).not.toHaveAttribute("aria-invalid");
    expect(input).not.toHaveAttribute("aria-describedby");
    expect(input.closest(".field")).not.toHaveClass("invalid");
  });

  it("is described by its hint", () => {
    render(<TextField prefix="f1" name="plate" label="Plate" value="" hint="As on the plate." />);
    const input = screen.getByLabelText("Plate");
    expect(input).toHaveAccessibleDescription("As on the plate.");
    expect(input).toHaveAttribute("aria-describedby", "f1-plate-hint");
    expect(screen.getByText("As on the plate.")).toHaveClass("hint");
    expect(input).not.toHaveAttribute("aria-invalid");
  });

  it("marks an error invalid and names it first, then the warning, then the hint", () => {
    render(
      <TextField
        prefix="f1"
        name="vin"
        label="VIN"
        value="X"
        hint="17 letters and digits."
        warning="Check the 9th character."
        error="A VIN is 17 characters."
      />,
    );
    const input = screen.getByLabelText("VIN");
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toHaveAttribute("aria-describedby", "f1-vin-error f1-vin-warning f1-vin-hint");
    expect(input).toHaveAccessibleDescription(
      "A VIN is 17 characters. Check the 9th character. 17 letters and digits.",
    );
    const error = screen.getByRole("alert");
    expect(error).toHaveTextContent("A VIN is 17 characters.");
    expect(error).toHaveClass("field-error");
    expect(input.closest(".field")).toHaveClass("invalid");
    // Under the input: hint, warning, then the error.
    const help = [...input.closest(".field")!.querySelectorAll("span")].map((s) => s.className);
    expect(help).toEqual(["hint", "field-warning", "field-error"]);
    expect(expectHelpLinked(document.body)).toBe(2);
  });

  it("hands over what is typed; an onChange given replaces it", async () => {
    const onValue = vi.fn();
    const { rerender } = render(
      <TextField prefix="f" name="t" label="Title" value="" onValue={onValue} />,
    );
    fireEvent.change(screen.getByLabelText("Title"), { target: { value: "Oil" } });
    expect(onValue).toHaveBeenCalledExactlyOnceWith("Oil");
    const onChange = vi.fn();
    rerender(
      <TextField
        prefix="f"
        name="t"
        label="Title"
        value=""
        onValue={onValue}
        onChange={onChange}
      />,
    );
    fireEvent.change(screen.getByLabelText("Title"), { target: { value: "Tyres" } });
    expect(onChange).toHaveBeenCalledOnce();
    expect(onValue).toHaveBeenCalledOnce();
  });
});

const UNITS = [
  { value: "mi", label: "Miles (mi)" },
  { value: "km", label: "Kilometres (km)" },
] as const;

describe("the other fields", () => {
  it("a select: its options (a text is its own value), label and error", () => {
    const onValue = vi.fn();
    render(
      <SelectField<string>
        prefix="f"
        name="tz"
        label="Time zone"
        value="60"
        onValue={onValue}
        error="Choose a time zone."
        options={[{ value: "0", label: "UTC+00:00" }, { value: "60", label: "UTC+01:00" }, "120"]}
      />,
    );
    const select = screen.getByRole("combobox", { name: "Time zone" });
    expect(select).toHaveValue("60");
    expect(select).toHaveAttribute("id", "f-tz");
    expect(select).toHaveAttribute("aria-invalid", "true");
    expect(select).toHaveAccessibleDescription("Choose a time zone.");
    expect(
      screen.getAllByRole("option").map((o) => [o.textContent, (o as HTMLOptionElement).value]),
    ).toEqual([
      ["UTC+00:00", "0"],
      ["UTC+01:00", "60"],
      ["120", "120"],
    ]);
    fireEvent.change(select, { target: { value: "0" } });
    expect(onValue).toHaveBeenCalledWith("0");
  });

  it("a text area", () => {
    render(
      <TextAreaField prefix="f" name="notes" label="Notes" value="" rows={2} hint="Any length." />,
    );
    const area = screen.getByRole("textbox", { name: "Notes" });
    expect(area.tagName).toBe("TEXTAREA");
    expect(area).toHaveAttribute("id", "f-notes");
    expect(area).toHaveAccessibleDescription("Any length.");
  });

  it("a checkbox: named by the label around it, its error beside it", async () => {
    const onValue = vi.fn();
    render(
      <CheckField
        prefix="f"
        name="rotate"
        label="Issue a new secret"
        value={false}
        onValue={onValue}
        error="Not now."
      />,
    );
    const box = screen.getByRole("checkbox", { name: "Issue a new secret" });
    expect(box).toHaveAttribute("id", "f-rotate");
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(box).toHaveAccessibleDescription("Not now.");
    expect(box.closest(".field")).toHaveClass("invalid");
    await userEvent.click(box);
    expect(onValue).toHaveBeenCalledExactlyOnceWith(true);
  });

  it("radio buttons: a group named by its legend and described by its help; an error marks each", async () => {
    const onValue = vi.fn();
    const { rerender } = render(
      <RadioField
        prefix="f"
        name="unit"
        className="unit-choice"
        legend="Odometer unit"
        value="mi"
        onValue={onValue}
        hint="Only before the first reading."
        options={UNITS}
      />,
    );
    const group = screen.getByRole("group", { name: "Odometer unit" });
    expect(group).toHaveAccessibleDescription("Only before the first reading.");
    expect(group).toHaveClass("unit-choice");
    expect(screen.getByRole("radio", { name: "Miles (mi)" })).toBeChecked();
    expect(screen.getByRole("radio", { name: "Kilometres (km)" })).not.toHaveAttribute(
      "aria-invalid",
    );
    await userEvent.click(screen.getByRole("radio", { name: "Kilometres (km)" }));
    expect(onValue).toHaveBeenCalledExactlyOnceWith("km");

    rerender(
      <RadioField
        prefix="f"
        name="unit"
        className="unit-choice"
        legend="Odometer unit"
        value="mi"
        error="Records carry readings."
        hint="Only before the first reading."
        options={UNITS}
      />,
    );
    expect(group).toHaveClass("unit-choice", "invalid");
    expect(group).toHaveAttribute("aria-describedby", "f-unit-error f-unit-hint");
    for (const r of screen.getAllByRole("radio")) expect(r).toHaveAttribute("aria-invalid", "true");
  });
});

/** A form of two fields bound with `bindFields`, whose "Save" finds their errors. */
function Form({ check }: { check: (f: { name: string; size: string }) => Record<string, string> }) {
  const form = useRef<HTMLFormElement>(null);
  const focusFirstError = useFocusFirstError(form);
  const [values, setValues] = useState({ name: "", size: "S" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const hints: Partial<Record<"name" | "size", FieldHelp["hint"]>> = { name: "Your own name." };
  const field = bindFields({
    prefix: "p",
    values,
    set: (name, value) => setValues((v) => ({ ...v, [name]: value })),
    errors,
    hints,
  });
  return (
    <form
      ref={form}
      aria-label="Order"
      onSubmit={(e) => {
        e.preventDefault();
        setErrors(check(values));
        focusFirstError();
      }}
    >
      <TextField {...field("name")} label="Name" />
      <SelectField {...field("size")} label="Size" options={["S", "M"]} />
      <button type="submit">Save</button>
    </form>
  );
}

describe("bindFields", () => {
  it("binds each field's value, help and error, and focus goes to the first field with an error", async () => {
    const check = vi.fn((f: { name: string; size: string }): Record<string, string> =>
      f.size === "M" ? {} : { size: "Too small." },
    );
    render(<Form check={check} />);
    await userEvent.type(screen.getByLabelText("Name"), "Ada");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(check).toHaveBeenLastCalledWith({ name: "Ada", size: "S" });
    const size = screen.getByLabelText("Size");
    expect(size).toHaveAttribute("id", "p-size");
    expect(size).toHaveAttribute("aria-invalid", "true");
    expect(size).toHaveAccessibleDescription("Too small.");
    expect(size).toHaveFocus();
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("Your own name.");
    await userEvent.selectOptions(size, "M");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(check).toHaveBeenLastCalledWith({ name: "Ada", size: "M" });
    expect(size).not.toHaveAttribute("aria-invalid");
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
