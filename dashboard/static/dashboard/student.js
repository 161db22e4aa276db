// Student page charts. Data comes from the json_script block "student-chart-data"; every chart
// also exists as a table on the page, so nothing is lost without JavaScript. Valid data is
// never drawn blank: the timeline is stacked bars (one day or one hour is a visible column),
// lines draw lone values as dots (chart_gaps.js) and are never bridged across missing days.
(function () {
  "use strict";
  const source = document.getElementById("student-chart-data");
  if (!source || typeof Chart === "undefined" || !window.chartGaps) return;
  const gaps = window.chartGaps;
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

  // Draws each alert's evidence span as a translucent, outlined band over the datasets, and
  // counts the bands drawn on the canvas (data-alert-bands) so the page can be checked.
  function alertBands(markers) {
    return {
      id: "alertBands",
      afterDatasetsDraw(chart) {
        chart.canvas.dataset.alertBands = String(markers.length);
        if (!markers.length) return;
        const x = chart.scales.x;
        const area = chart.chartArea;
        const count = chart.data.labels.length;
        const step = count > 1 ? x.getPixelForValue(1) - x.getPixelForValue(0) : area.right - area.left;
        const ctx = chart.ctx;
        ctx.save();
        for (const m of markers) {
          const left = Math.max(area.left, x.getPixelForValue(m.from) - step / 2);
          const right = Math.min(area.right, x.getPixelForValue(m.to) + step / 2);
          const width = Math.max(right - left, 2);
          ctx.fillStyle = "rgba(255, 255, 255, 0.35)";
          ctx.fillRect(left, area.top, width, area.bottom - area.top);
          ctx.strokeStyle = "#000";
          ctx.lineWidth = 1.5;
          ctx.setLineDash([4, 3]);
          ctx.strokeRect(left, area.top, width, area.bottom - area.top);
          ctx.setLineDash([]);
          ctx.font = "12px system-ui, sans-serif";
          const labelWidth = ctx.measureText(m.label).width + 8;
          ctx.fillStyle = "#fff";
          ctx.fillRect(left + 2, area.top + 2, labelWidth, 17);
          ctx.fillStyle = "#000";
          ctx.fillText(m.label, left + 6, area.top + 15);
        }
        ctx.restore();
      },
    };
  }

  function emotionDatasets(series) {
    return data.emotions.map((name) => ({
      label: name,
      data: series[name],
      backgroundColor: withAlpha(colours[name], 0.9),
      borderColor: colours[name],
      borderWidth: 0,
    }));
  }

  function bucketsWithData(series) {
    const first = series[data.emotions[0]] || [];
    return first.filter((_, i) => data.emotions.some((e) => gaps.present(series[e][i]))).length;
  }

  function timeline() {
    const canvas = document.getElementById("timeline-chart");
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.timeline.labels, datasets: emotionDatasets(data.timeline.series) },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        // Neighbouring buckets touch, so runs of data read as a continuous band and gaps show.
        datasets: { bar: { categoryPercentage: 1.0, barPercentage: 0.92, maxBarThickness: 80 } },
        scales: {
          y: { ...percentAxis, stacked: true },
          x: { stacked: true, ticks: { maxTicksLimit: 12 } },
        },
        plugins: { legend: { display: false } },
      },
      plugins: [alertBands(data.markers || [])],
    });
    markDrawn(canvas, bucketsWithData(data.timeline.series));
  }

  function weekly() {
    const canvas = document.getElementById("weekly-chart");
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.weekly.labels, datasets: emotionDatasets(data.weekly.series) },
      options: {
        maintainAspectRatio: false,
        datasets: { bar: { maxBarThickness: 80 } },
        scales: { x: { stacked: true }, y: { ...percentAxis, stacked: true } },
        plugins: { legend: { display: false } },
      },
    });
    markDrawn(canvas, bucketsWithData(data.weekly.series));
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
    markDrawn(canvas, gaps.countPresent(values));
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
          pointRadius: gaps.pointRadius(2, 4),
          spanGaps: false,
        }],
      },
      options: {
        maintainAspectRatio: false,
        scales: { y: percentAxis, x: { ticks: { maxTicksLimit: 12 } } },
        plugins: { legend: { display: false } },
      },
    });
    markDrawn(canvas, gaps.countPresent(data.engagement.values));
  }

  // The alert rule's own numbers: the student's value per day, their baseline band (baseline
  // to baseline + margin), the class median and the threshold.
  function comparison() {
    const canvas = document.getElementById("comparison-chart");
    const c = data.comparison;
    if (!canvas || !c) return;
    const band = "rgba(0, 114, 178, 0.6)";
    const abnormalRadius = (ctx) => (c.abnormal[ctx.dataIndex] ? 5 : gaps.isolated(c.value, ctx.dataIndex) ? 4 : 2.5);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: c.labels,
        datasets: [
          { label: "own baseline", data: c.baselineLow, borderColor: band, borderWidth: 1,
            pointRadius: gaps.pointRadius(0, 3), pointBackgroundColor: band, spanGaps: false, fill: false },
          { label: "baseline + margin", data: c.baselineHigh, borderColor: band, borderWidth: 1,
            backgroundColor: "rgba(0, 114, 178, 0.18)", pointRadius: gaps.pointRadius(0, 3),
            pointBackgroundColor: band, spanGaps: false, fill: "-1" },
          { label: "class median", data: c.classMedian, borderColor: "#444", borderDash: [6, 4],
            borderWidth: 1.5, pointRadius: gaps.pointRadius(0, 3), pointBackgroundColor: "#444",
            spanGaps: false },
          { label: "threshold", data: c.labels.map(() => c.threshold), borderColor: "#000",
            borderDash: [2, 3], borderWidth: 1, pointRadius: 0 },
          { label: c.words, data: c.value, borderColor: "#D55E00", backgroundColor: "#D55E00",
            borderWidth: 2.5, pointRadius: abnormalRadius, pointBorderColor: "#000",
            pointBorderWidth: (ctx) => (c.abnormal[ctx.dataIndex] ? 1.5 : 0), spanGaps: false },
        ],
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: percentAxis, x: { ticks: { maxTicksLimit: 12 } } },
        plugins: { legend: { display: false } },
      },
      plugins: [alertBands(c.markers || [])],
    });
    markDrawn(canvas, gaps.countPresent(c.value));
  }

  timeline();
  comparison();
  weekly();
  pie();
  engagement();
  document.body.dataset.chartsReady = "true";
})();
