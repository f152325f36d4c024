// Balanced scorecard charts: KPI sparklines, the cause -> effect graph, the economics and initiative charts.
// Data comes from json_script blocks; no inline JS (Content-Security-Policy).
(function () {
  "use strict";
  var COLOURS = { green: "#15803d", amber: "#b45309", red: "#b91c1c", none: "#94a3b8" };

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function sparklines() {
    var series = data("kpi-trends");
    var labels = data("kpi-trend-labels") || [];
    if (!series) return;
    document.querySelectorAll(".sparkline[data-series]").forEach(function (el) {
      var values = series[el.getAttribute("data-series")] || [];
      if (!values.some(function (v) { return v !== null; })) return;
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption({
        animation: false,
        grid: { left: 2, right: 2, top: 2, bottom: 2 },
        tooltip: { trigger: "axis", confine: true },
        xAxis: { type: "category", data: labels, show: false },
        yAxis: { type: "value", show: false, scale: true },
        series: [{ type: "line", data: values, symbol: "none", connectNulls: false, lineStyle: { width: 1.5 } }],
      });
    });
  }

  function graph() {
    var el = document.getElementById("kpi-graph");
    var g = data("kpi-graph-data");
    if (!el || !g) return;
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: {
        formatter: function (p) { return p.dataType === "node" ? p.data.name + ": " + p.data.value : ""; },
      },
      legend: [{ data: g.categories.map(function (c) { return c.name; }) }],
      series: [{
        type: "graph",
        layout: "none",
        roam: true,
        categories: g.categories,
        symbolSize: 46,
        label: { show: true, position: "bottom", width: 140, overflow: "break" },
        edgeSymbol: ["none", "arrow"],
        edgeSymbolSize: 10,
        lineStyle: { width: 2, curveness: 0.15, opacity: 0.8 },
        data: g.nodes.map(function (n) {
          return {
            id: n.id, name: n.name, x: n.x, y: n.y, value: n.value, category: n.category,
            itemStyle: { color: COLOURS[n.status] || COLOURS.none },
          };
        }),
        links: g.links,
      }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function economics() {
    var el = document.getElementById("economics-chart");
    var d = data("economics-data");
    if (!el || !d) return;
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "item" },
      series: [
        { name: d.costsName, type: "pie", radius: ["25%", "45%"], center: ["25%", "50%"], data: d.costs },
        { name: d.revenueName, type: "pie", radius: ["25%", "45%"], center: ["75%", "50%"], data: d.revenue },
      ],
      title: [
        { text: d.costsName, left: "25%", top: "2%", textAlign: "center", textStyle: { fontSize: 13 } },
        { text: d.revenueName, left: "75%", top: "2%", textAlign: "center", textStyle: { fontSize: 13 } },
      ],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function initiative() {
    var el = document.getElementById("initiative-chart");
    var d = data("initiative-data");
    if (!el || !d) return;
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [d.outflowName, d.inflowName, d.cumulativeName] },
      xAxis: { type: "category", data: d.labels },
      yAxis: { type: "value" },
      series: [
        { name: d.outflowName, type: "bar", stack: "flow", data: d.outflow, itemStyle: { color: COLOURS.red } },
        { name: d.inflowName, type: "bar", stack: "flow", data: d.inflow, itemStyle: { color: COLOURS.green } },
        { name: d.cumulativeName, type: "line", data: d.cumulative },
      ],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof echarts === "undefined") return;
    sparklines();
    graph();
    economics();
    initiative();
  });
})();
