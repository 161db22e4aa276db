// Student page charts. Data comes from the json_script block "student-chart-data"; every chart
// also exists as a table on the page, so nothing is lost without JavaScript.
(function () {
  "use strict";
  const source = document.getElementById("student-chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const colours = data.colours;
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, sans-serif";
  const percentAxis = { min: 0, max: 100, ticks: { callback: (v) => v + "%" } };

  function markDrawn(canvas, points) {
    canvas.dataset.drawn = String(points);
  }

  function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  // Draws each alert's evidence span as a translucent, outlined band over the stacked areas.
  const alertBands = {
    id: "alertBands",
    afterDatasetsDraw(chart) {
      const markers = data.markers || [];
      if (!markers.length) return;
      const x = chart.scales.x;
      const area = chart.chartArea;
      const half = x.getPixelForValue(1) - x.getPixelForValue(0);
      const ctx = chart.ctx;
      ctx.save();
      for (const m of markers) {
        const left = Math.max(area.left, x.getPixelForValue(m.from) - half / 2);
        const right = Math.min(area.right, x.getPixelForValue(m.to) + half / 2);
        ctx.fillStyle = "rgba(255, 255, 255, 0.35)";
        ctx.fillRect(left, area.top, Math.max(right - left, 2), area.bottom - area.top);
        ctx.strokeStyle = "#000";
        ctx.setLineDash([4, 3]);
        ctx.strokeRect(left, area.top, Math.max(right - left, 2), area.bottom - area.top);
        ctx.setLineDash([]);
        ctx.font = "12px system-ui, sans-serif";
        const width = ctx.measureText(m.label).width + 8;
        ctx.fillStyle = "#fff";
        ctx.fillRect(left + 2, area.top + 2, width, 17);
        ctx.fillStyle = "#000";
        ctx.fillText(m.label, left + 6, area.top + 15);
      }
      ctx.restore();
    },
  };

  function emotionDatasets(series, fill) {
    return data.emotions.map((name) => ({
      label: name,
      data: series[name],
      backgroundColor: fill ? withAlpha(colours[name], 0.85) : colours[name],
      borderColor: colours[name],
      borderWidth: 1,
      pointRadius: 0,
      fill: fill ? "stack" : undefined,
      spanGaps: false,
    }));
  }

  function timeline() {
    const canvas = document.getElementById("timeline-chart");
    if (!canvas) return;
    new Chart(canvas, {
      type: "line",
      data: { labels: data.timeline.labels, datasets: emotionDatasets(data.timeline.series, true) },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { ...percentAxis, stacked: true }, x: { ticks: { maxTicksLimit: 12 } } },
        plugins: { legend: { display: false } },
      },
      plugins: [alertBands],
    });
    markDrawn(canvas, data.timeline.labels.length);
  }

  function weekly() {
    const canvas = document.getElementById("weekly-chart");
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.weekly.labels, datasets: emotionDatasets(data.weekly.series, false) },
      options: {
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { ...percentAxis, stacked: true } },
        plugins: { legend: { display: false } },
      },
    });
    markDrawn(canvas, data.weekly.labels.length);
  }

  function pie() {
    const canvas = document.getElementById("pie-chart");
    if (!canvas) return;
    const values = data.emotions.map((name) => data.pie[name]);
    new Chart(canvas, {
      type: "pie",
      data: {
        labels: data.emotions,
        datasets: [{
          data: values,
          backgroundColor: data.emotions.map((name) => colours[name]),
          borderColor: "#fff",
        }],
      },
      options: { maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
    });
    markDrawn(canvas, values.filter((v) => v !== null).length);
  }

  function engagement() {
    const canvas = document.getElementById("engagement-chart");
    if (!canvas) return;
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.engagement.labels,
        datasets: [{
          label: "engaged %",
          data: data.engagement.values,
          borderColor: "#000",
          backgroundColor: "#000",
          pointRadius: 2,
          spanGaps: true,
        }],
      },
      options: {
        maintainAspectRatio: false,
        scales: { y: percentAxis, x: { ticks: { maxTicksLimit: 12 } } },
        plugins: { legend: { display: false } },
      },
    });
    markDrawn(canvas, data.engagement.values.filter((v) => v !== null).length);
  }

  timeline();
  weekly();
  pie();
  engagement();
  document.body.dataset.chartsReady = "true";
})();
