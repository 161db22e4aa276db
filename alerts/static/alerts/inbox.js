// Progressive enhancement of the alert inbox: acknowledge, resolve or dismiss a row (with its
// note and usefulness answer) without reloading the page. Without JavaScript the same form
// posts normally and the server redirects to the alert.
document.querySelectorAll("form[data-inline-action]").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const row = form.closest("tr");
    const status = row.querySelector("[data-alert-state]");
    // The pressed button carries the action (its formaction). The note is a textarea, so
    // Enter adds a line instead of submitting with whichever button happens to come first.
    const button = event.submitter || form.querySelector("button");
    const action = button.dataset.action || "acknowledge";
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      // button.formAction falls back to the page's URL, not the form's action.
      const url = button.hasAttribute("formaction") ? button.formAction : form.action;
      const response = await fetch(url, {
        method: "POST",
        body: new FormData(form, event.submitter || undefined),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok || !body.ok) {
        throw new Error(body.error || `The server answered ${response.status}.`);
      }
      status.textContent = body.state;
      const done = Object.assign(document.createElement("span"), { textContent: "Done" });
      done.setAttribute("role", "status");
      if (action === "acknowledge") {
        // Still active: keep the form for resolving or dismissing it later.
        button.remove();
        form.reset();
        buttons.forEach((b) => { b.disabled = false; });
        form.before(done);
      } else {
        form.replaceWith(done);
      }
    } catch (error) {
      buttons.forEach((b) => { b.disabled = false; });
      status.textContent = `${status.textContent} (not changed: ${error.message})`;
    }
  });
});
