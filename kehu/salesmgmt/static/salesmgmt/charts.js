// Bar charts of the forecast and dashboard pages: every <div id="X-chart"> with a json_script "X-data" block
// ({labels, series: [{name, data}]}). No inline JS (Content-Security-Policy).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    if (typeof echarts === "undefined") return;
    document.querySelectorAll("[id$='-chart']").forEach(function (el) {
      var source = document.getElementById(el.id.replace(/-chart$/, "-data"));
      if (!source) return;
      var d = JSON.parse(source.textContent);
      if (!d || !d.series) return;
      var chart = echarts.init(el);
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { data: d.series.map(function (s) { return s.name; }) },
        grid: { left: 60, right: 10, containLabel: true },
        xAxis: { type: "category", data: d.labels },
        yAxis: { type: "value" },
        series: d.series.map(function (s) { return { name: s.name, type: d.type || "bar", data: s.data }; }),
      });
      window.addEventListener("resize", function () { chart.resize(); });
      el.setAttribute("data-ready", "1");
    });
  });
})();
