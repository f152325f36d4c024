// Alpine components. The pages load Alpine's CSP build (no eval): templates name a component
// (x-data="quickLog") and refer to its properties and methods only; the code lives here. Loaded before Alpine.
document.addEventListener("alpine:init", function () {
  "use strict";
  const Alpine = window.Alpine;

  // the page shell: the phone menu
  Alpine.data("shell", function () {
    return {
      nav: false,
      toggleNav() { this.nav = !this.nav; },
      navClass() { return { open: this.nav }; },
    };
  });

  // something that opens and closes (global search dropdown)
  Alpine.data("dropdown", function () {
    return {
      open: false,
      show() { this.open = true; },
      hide() { this.open = false; },
    };
  });

  // list pages: select rows for a bulk action
  Alpine.data("bulkSelect", function () {
    return {
      selected: 0,
      hasSelection() { return this.selected > 0; },
      boxes() { return this.$root.querySelectorAll("input[name=ids]"); },
      count() { this.selected = this.$root.querySelectorAll("input[name=ids]:checked").length; },
      toggleAll(e) {
        this.boxes().forEach(function (box) { box.checked = e.target.checked; });
        this.count();
      },
    };
  });

  // a record picker: type, choose one of the matches (ui/widgets/record_picker.html)
  Alpine.data("recordPicker", function () {
    return {
      q: "", id: "", items: [], open: false, url: "",
      init() {
        this.q = this.$el.dataset.label || "";
        this.id = this.$el.dataset.value || "";
        this.url = this.$el.dataset.url;
      },
      showList() { return this.open && this.items.length > 0; },
      hide() { this.open = false; },
      async typed(e) {
        this.q = e.target.value;
        this.id = "";
        if (this.q.length < 1) { this.items = []; return; }
        const r = await fetch(this.url + "?q=" + encodeURIComponent(this.q), { headers: { Accept: "application/json" } });
        this.items = r.ok ? await r.json() : [];
        this.open = true;
      },
      choose(e) {
        e.preventDefault();
        const item = this.items.find((i) => String(i.id) === e.currentTarget.dataset.id);
        if (!item) return;
        this.id = item.id;
        this.q = item.label;
        this.$root.querySelector("input[type=text]").value = item.label;
        this.open = false;
      },
    };
  });

  // a panel with a form that opens on a button (tickets on the 360° page); focuses x-ref="subject"
  Alpine.data("openable", function () {
    return {
      open: false,
      toggle() {
        this.open = !this.open;
        this.$nextTick(() => { if (this.open && this.$refs.subject) this.$refs.subject.focus(); });
      },
    };
  });

  // the quick log on the timeline: channel buttons, GPS check-in, reset after a successful post
  Alpine.data("quickLog", function () {
    return {
      channel: "call", lat: "", lng: "", where: "",
      pick(e) {
        this.channel = e.currentTarget.dataset.channel;
        this.$nextTick(() => this.$refs.subject.focus());
      },
      isPicked() { return String(this.channel === this.$el.dataset.channel); },
      pickedClass() { return { primary: this.channel === this.$el.dataset.channel }; },
      checkIn() {
        this.channel = "visit";
        const unavailable = this.$root.dataset.unavailable;
        if (!navigator.geolocation) { this.where = unavailable; return; }
        navigator.geolocation.getCurrentPosition(
          (p) => {
            this.lat = p.coords.latitude.toFixed(6);
            this.lng = p.coords.longitude.toFixed(6);
            this.where = "✓ " + this.lat + ", " + this.lng;
          },
          () => { this.where = unavailable; },
          { enableHighAccuracy: true, timeout: 10000 },
        );
      },
      afterRequest(e) {
        if (e.detail.successful && e.detail.elt === this.$root) {
          this.$root.reset();
          this.channel = "call"; this.lat = ""; this.lng = ""; this.where = "";
        }
      },
    };
  });

  // the reply box of a ticket: public reply or internal note, canned answers
  Alpine.data("replyBox", function () {
    return {
      kind: "reply",
      setKind(e) { this.kind = e.target.value; },
      isReply() { return this.kind === "reply"; },
      canned(e) {
        const url = e.target.value;
        if (!url) return;
        const body = this.$refs.body;
        fetch(url).then((r) => r.text()).then((t) => { body.value = (body.value ? body.value + "\n" : "") + t; });
      },
    };
  });

  // duplicate compare: the record kept preselects its values
  Alpine.data("mergeChoice", function () {
    return {
      survivor: "",
      init() { this.survivor = this.$el.dataset.survivor; },
      setSurvivor(e) { this.survivor = e.target.value; },
      isSurvivor() { return this.survivor === this.$el.value; },
    };
  });
});
