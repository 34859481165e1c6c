// Scanner-first behaviour. USB scanners type the code and press Enter: inside a form field
// marked data-scan, Enter moves to the next field instead of submitting the form by accident.
document.addEventListener("keydown", (event) => {
  const field = event.target;
  if (event.key !== "Enter" || !(field instanceof HTMLInputElement) || !field.dataset.scan) return;
  event.preventDefault();
  const fields = Array.from(field.form.querySelectorAll("input:not([type=hidden]), select, textarea, button"));
  const next = fields[fields.indexOf(field) + 1];
  if (next) next.focus();
});

// Move focus to the error summary so keyboard and screen-reader users hear what is wrong.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
});

// "Add more rows" on the registration form: copy the last item row with the next index,
// so typed rows are kept (without JavaScript the link reloads the form with more rows).
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-add-row]");
  if (!link) return;
  const rows = document.querySelectorAll("[data-item-row]");
  const last = rows[rows.length - 1];
  if (!last || rows.length >= 50) return;
  event.preventDefault();
  const index = rows.length;
  const copy = last.cloneNode(true);
  const renumber = (value) => value.replace(/items-\d+-/, `items-${index}-`);
  copy.querySelectorAll("[id], [name], [for]").forEach((el) => {
    for (const attr of ["id", "name", "for"]) {
      if (el.hasAttribute(attr)) el.setAttribute(attr, renumber(el.getAttribute(attr)));
    }
  });
  copy.querySelectorAll("input, textarea, select").forEach((el) => {
    if (el.type === "radio" || el.type === "checkbox") el.checked = false;
    else if (el.tagName === "SELECT") el.selectedIndex = 0;
    else if (el.name.endsWith("unit_count")) el.value = "1";
    else el.value = "";
  });
  copy.querySelectorAll(".error-message").forEach((el) => el.remove());
  copy.querySelector("legend").textContent = `Item ${index + 1}`;
  last.after(copy);
  copy.querySelector("textarea, input").focus();
});
