// Progressive enhancement of the alert inbox: acknowledge a row without reloading the page.
// Without JavaScript the same form posts normally and the server redirects to the alert.
document.querySelectorAll("form[data-inline-action]").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const row = form.closest("tr");
    const status = row.querySelector("[data-alert-state]");
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json();
      if (!response.ok || !body.ok) {
        throw new Error(body.error || `The server answered ${response.status}.`);
      }
      status.textContent = body.state;
      form.replaceWith(Object.assign(document.createElement("span"), { textContent: "Done" }));
    } catch (error) {
      button.disabled = false;
      status.textContent = `${status.textContent} (not changed: ${error.message})`;
    }
  });
});
