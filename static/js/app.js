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
