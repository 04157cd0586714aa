// The overview's charts, from the JSON the page carries (#chart-data); the same
// figures are in the page's tables for readers who cannot see a chart.
(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const colours = {
    INFO: "#2b6cb0", WARNING: "#b7791f", ERROR: "#c53030", CRITICAL: "#702459",
  };
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const series = data[canvas.dataset.chart];
    if (!series) return;
    const kind = canvas.dataset.kind;
    const labels = kind === "line"
      ? series.labels.map((at) => at.replace("T", " ").slice(0, 16))
      : series.labels;
    new Chart(canvas, {
      type: kind,
      data: {
        labels: labels,
        datasets: [{
          label: "events",
          data: series.counts,
          backgroundColor: kind === "doughnut"
            ? series.labels.map((s) => colours[s] || "#4a5568") : "#2b6cb0",
          borderColor: "#2b6cb0",
          fill: false,
        }],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: kind === "bar" ? "y" : "x",
        plugins: { legend: { display: kind === "doughnut" } },
      },
    });
  });
})();
