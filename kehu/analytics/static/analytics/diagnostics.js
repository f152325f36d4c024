// Expected vs actual repeat purchases (the diagnostics page). Data comes from the json_script block; no inline JS.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("frequency-chart");
  var source = document.getElementById("frequency-data");
  if (!el || !source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  el.style.height = "320px";
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { data: [data.actualName, data.expectedName] },
    xAxis: { type: "category", data: data.labels },
    yAxis: { type: "value" },
    series: [
      { name: data.actualName, type: "bar", data: data.actual },
      { name: data.expectedName, type: "bar", data: data.expected },
    ],
  });
  window.addEventListener("resize", function () { chart.resize(); });
});
