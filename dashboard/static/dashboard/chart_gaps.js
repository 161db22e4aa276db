// Shared by the dashboard charts (loaded before them): valid data is never drawn blank.
// A value between two gaps (or alone) is drawn as a dot, since a line through one point has no
// length; missing buckets stay null and lines are never bridged across them (spanGaps: false).
(function () {
  "use strict";
  function present(value) {
    return value !== null && value !== undefined && !Number.isNaN(value);
  }

  function isolated(data, i) {
    return present(data[i]) && !present(data[i - 1]) && !present(data[i + 1]);
  }

  // A scriptable pointRadius: ``lone`` px for isolated values, ``base`` px for the others.
  function pointRadius(base, lone) {
    return (ctx) => (isolated(ctx.dataset.data, ctx.dataIndex) ? lone : base);
  }

  function countPresent(data) {
    return data.filter(present).length;
  }

  window.chartGaps = { present, isolated, pointRadius, countPresent };
})();
