// Admin reports: the whole-school weekly trend chart (the table below holds the same numbers).
// Every week of the period is a label; a week without data is null and stays a gap (never a
// line drawn across it), and a lone week is drawn as a dot (chart_gaps.js).
(function () {
  "use strict";
  const source = document.getElementById("report-chart-data");
  const canvas = document.getElementById("school-trend-chart");
  if (!source || !canvas || typeof Chart === "undefined" || !window.chartGaps) return;
  const gaps = window.chartGaps;
  const data = JSON.parse(source.textContent);
  Chart.defaults.animation = false;
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        { label: "negative affect %", data: data.negative, borderColor: "#D55E00",
          backgroundColor: "#D55E00", spanGaps: false, pointRadius: gaps.pointRadius(3, 5) },
        { label: "engaged %", data: data.engagement, borderColor: "#0072B2",
          backgroundColor: "#0072B2", borderDash: [6, 3], spanGaps: false,
          pointRadius: gaps.pointRadius(3, 5) },
      ],
    },
    options: { maintainAspectRatio: false,
      scales: { y: { min: 0, max: 100, ticks: { callback: (v) => v + "%" } } } },
  });
  canvas.dataset.drawn = String(gaps.countPresent(data.negative));
})();
