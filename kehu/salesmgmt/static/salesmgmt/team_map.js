/* The team's visits on a Leaflet map (vendored) when a tile server is configured (KEHU_MAP_TILES_URL).
   The plain grid stays in the page: it is shown again when Leaflet is missing or no tile loads (tile server
   down, no internet). No inline script or style (CSP): the points come from a json_script element. */
(function () {
  "use strict";
  var box = document.getElementById("team-map");
  var grid = document.getElementById("team-map-grid");
  if (!box || typeof window.L === "undefined") return;
  var data = document.getElementById(box.dataset.points);
  var points = data ? JSON.parse(data.textContent) : [];
  if (!points.length) return;
  var colours = { done: "#15803d", in: "#2563eb", planned: "#94a3b8", cancelled: "#b91c1c" };
  box.hidden = false;
  if (grid) grid.hidden = true;
  var map = L.map(box, { scrollWheelZoom: false });
  var loaded = 0;
  var layer = L.tileLayer(box.dataset.tiles, {
    attribution: box.dataset.attribution || "",
    maxZoom: parseInt(box.dataset.maxZoom || "18", 10),
  });
  layer.on("tileload", function () {
    loaded += 1;
    box.dataset.tilesLoaded = String(loaded);
  });
  layer.on("tileerror", function () {
    if (loaded === 0 && grid) { // nothing from the tile server: back to the plain grid
      grid.hidden = false;
      box.hidden = true;
      box.dataset.fallback = "grid";
    }
  });
  layer.addTo(map);
  var bounds = [];
  points.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lon], {
      radius: 8, color: "#ffffff", weight: 2, fillOpacity: 0.9, fillColor: colours[p.status] || "#94a3b8",
    }).addTo(map);
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = p.label;
    marker.bindPopup(link);
    marker.getElement && marker.getElement() && marker.getElement().setAttribute("data-testid", "leaflet-point");
    bounds.push([p.lat, p.lon]);
  });
  if (bounds.length === 1) map.setView(bounds[0], 14);
  else map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  box.dataset.ready = "1";
})();
