// Upload with a progress bar for large library files. The form is sent with XMLHttpRequest:
// the bar shows the bytes sent, then "Indexing…" until the server answers. The answer (the
// library page after the redirect, or the form with its errors) replaces the page's content.
// Without JavaScript the plain form POST does the same.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload-progress")) return;
  const box = form.querySelector("[data-progress]");
  const bar = box && box.querySelector("progress");
  const text = box && box.querySelector("[data-progress-text]");
  if (!box || !bar || !window.FormData) return;
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  box.hidden = false;
  const request = new XMLHttpRequest();
  request.open("POST", form.action || window.location.href);
  request.setRequestHeader("Accept", "text/html");
  request.upload.addEventListener("progress", (progress) => {
    if (!progress.lengthComputable) return;
    bar.value = Math.round((progress.loaded / progress.total) * 100);
    text.textContent = `${Math.round(progress.loaded / 1024)} of ${Math.round(progress.total / 1024)} KiB sent`;
  });
  request.upload.addEventListener("load", () => {
    bar.removeAttribute("value");  // indeterminate while the server reads and indexes
    text.textContent = "Indexing…";
  });
  request.addEventListener("load", () => {
    // Show the answer in place: the library page after the redirect (its flash message came
    // with it, so it must not be fetched again) or the form with its error summary.
    const page = new DOMParser().parseFromString(request.responseText, "text/html");
    const main = page.querySelector("main");
    if (!main) {
      window.location.assign(request.responseURL || window.location.href);
      return;
    }
    document.title = page.title;
    document.querySelector("main").replaceWith(main);
    if (request.responseURL && request.responseURL !== window.location.href) {
      window.history.pushState(null, "", request.responseURL);
    }
    const summary = main.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  });
  request.addEventListener("error", () => {
    text.textContent = "The upload failed (network error); try again.";
    if (button) button.disabled = false;
  });
  request.send(new FormData(form));
});
