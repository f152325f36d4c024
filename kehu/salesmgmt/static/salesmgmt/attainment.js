// Plan vs actual bar chart of the attainment page; a click on a bar drills down (company → team → rep).
// Data from a json_script block: no inline JS (Content-Security-Policy).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("attainment-chart");
    var source = document.getElementById("attainment-data");
    if (!el || !source || typeof echarts === "undefined") return;
    var d = JSON.parse(source.textContent);
    if (!d) return;
    var chart = echarts.init(el);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { data: [d.names.plan, d.names.actual] },
      xAxis: { type: "category", data: d.labels },
      yAxis: { type: "value" },
      series: [
        { name: d.names.plan, type: "bar", data: d.plan },
        { name: d.names.actual, type: "bar", data: d.actual },
      ],
    });
    chart.on("click", function (p) {
      var id = d.ids[p.dataIndex];
      if (id) window.location.href = d.url + id;
    });
    el.setAttribute("data-ready", "1");
  });
})();
