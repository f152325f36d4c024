/* Kehu visits service worker (issue #17): keeps the visit pages and their scripts and styles in the phone's cache,
   network first, so a rep who loses the connection can still open or reload a visit page and type notes; the
   page keeps the notes in localStorage and sends them when the connection returns (static/salesmgmt/visits.js).
   Scope: {{ scope }} only. Nothing is cached for other pages; non-GET requests are never touched. */
"use strict";
var CACHE = "kehu-visits-v1";
var STATIC = "{{ static_url|escapejs }}";
var SCOPE = "{{ scope|escapejs }}";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("kehu-visits-") === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});
self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf(SCOPE) !== 0 && url.pathname.indexOf(STATIC) !== 0) return;
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok && response.type === "basic") {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request).then(function (hit) {
      return hit || new Response("", { status: 503, statusText: "offline" });
    });
  }));
});
