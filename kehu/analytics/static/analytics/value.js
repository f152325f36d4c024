// The 80/20 (Pareto) chart of the value segments page. Data comes from the json_script block; no inline JS.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("pareto-chart");
  var source = document.getElementById("pareto-data");
  if (!el || !source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  el.style.height = "340px";
  var chart = echarts.init(el);
  var series = data.series.map(function (s) {
    return { name: s.name, type: "line", smooth: true, data: s.data };
  });
  series.push({ name: data.equalName, type: "line", data: data.x, lineStyle: { type: "dashed" }, symbol: "none" });
  chart.setOption({
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v + " %"; } },
    legend: { data: series.map(function (s) { return s.name; }) },
    xAxis: { type: "category", name: data.xName, nameLocation: "middle", nameGap: 28, data: data.x },
    yAxis: { type: "value", name: data.yName, max: 100 },
    series: series,
  });
  window.addEventListener("resize", function () { chart.resize(); });
});
