// Live class view: applies class-level summaries pushed over the WebSocket
// (capture.live: {"type": "session.summary", emotions, engaged_share, recognised, ...}).
(function () {
  "use strict";
  const source = document.getElementById("live-config");
  const view = document.getElementById("live-view");
  if (!source || !view) return;
  const config = JSON.parse(source.textContent);
  const dot = document.getElementById("live-connection");
  const dotText = document.getElementById("live-connection-text");
  let chart = null;

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  function drawChart(summary) {
    if (typeof Chart === "undefined") return;
    const hidden = summary.suppressed || !summary.emotions;
    const values = config.emotions.map((e) => (hidden ? 0 : summary.emotions[e] ?? 0));
    if (!chart) {
      Chart.defaults.animation = false;
      chart = new Chart(document.getElementById("live-chart"), {
        type: "bar",
        data: {
          labels: config.emotions,
          datasets: [{ label: "students", data: values,
            backgroundColor: config.emotions.map((e) => config.colours[e]) }],
        },
        options: { maintainAspectRatio: false, plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    } else {
      chart.data.datasets[0].data = values;
      chart.update();
    }
    // How many expressions have a bar now (0 while the numbers are hidden).
    chart.canvas.dataset.drawn = String(values.filter((v) => v > 0).length);
  }

  function render(summary) {
    const hidden = summary.suppressed || !summary.emotions;
    document.getElementById("live-suppressed").hidden = !hidden;
    for (const e of config.emotions) {
      setText("live-count-" + e, hidden ? "–" : String(summary.emotions[e] ?? 0));
    }
    const share = summary.engaged_share;
    setText("live-engaged", share === null || share === undefined ? "–" : Math.round(share * 100) + "%");
    setText("live-recognised", String(summary.recognised ?? "–"));
    setText("live-faces", summary.faces_seen === null || summary.faces_seen === undefined ? "–" : String(summary.faces_seen));
    setText("live-not-assessable", String(summary.not_assessable ?? "–"));
    setText("live-unknown", String(summary.unknown ?? "–"));
    setText("live-frames", String(summary.frames_processed ?? "–"));
    setText("live-updated", summary.captured_at ? new Date(summary.captured_at).toLocaleTimeString() : "no data yet");
    drawChart(summary);
  }

  function setConnection(state, text) {
    dot.dataset.state = state;
    dotText.textContent = text;
  }

  const TWO_FACTOR_CLOSES = {
    4428: "Two-factor sign-in required: set it up under \u201cTwo-factor\u201d above, then reload",
    4401: "Confirm this session with your authenticator code under \u201cTwo-factor\u201d above, then reload",
  };
  let delay = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + config.socketPath);
    socket.addEventListener("open", () => { delay = 1000; setConnection("open", "Live"); });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (err) { return; }
      const summary = message.summary || message;
      if (summary.type && summary.type !== "session.summary") return;
      render(summary);
      view.dataset.updates = String(Number(view.dataset.updates) + 1);
    });
    socket.addEventListener("close", (event) => {
      // Closed by the two-factor gate (wellbeing/websocket_two_factor.py): retrying cannot help.
      const needs = TWO_FACTOR_CLOSES[event.code];
      if (needs) { setConnection("closed", needs); return; }
      setConnection("closed", "Disconnected, retrying…");
      // Back off up to 30 s so a server restart is not hammered by every open tab.
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  render(config.initial);
  if (view.dataset.status === "running") connect();
  else setConnection("closed", "Session not running");
})();
