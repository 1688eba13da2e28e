// The web-call page (connector/web/call_page.py). States on <body data-state>: loading, ready,
// no-webrtc, invalid, fetching, connecting, in-call, ended, busy, error.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("cfg").textContent);
  var t = cfg.texts;
  var el = function (id) { return document.getElementById(id); };
  var device = null;
  var call = null;

  function state(name, text) {
    document.body.setAttribute("data-state", name);
    el("status").textContent = text || "";
  }

  function show(id, visible) { el(id).hidden = !visible; }

  function webrtcSupported() {
    var twilioOk = !!(window.Twilio && window.Twilio.Device) && window.Twilio.Device.isSupported !== false;
    var media = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    return twilioOk && media && typeof window.RTCPeerConnection === "function";
  }

  function fallback(name, text) {
    state(name, text);
    show("call", false);
    show("hangup", false);
    show("tel", true);
  }

  function fetchToken() {
    var body = cfg.code ? { c: cfg.code } : {};
    return fetch(cfg.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (resp) {
      if (resp.status === 200) { return resp.json(); }
      var err = new Error("token " + resp.status);
      err.status = resp.status;
      throw err;
    });
  }

  function start() {
    show("call", false);
    state("fetching", t.connecting);
    fetchToken().then(function (data) {
      document.body.setAttribute("data-identity", data.identity);
      state("connecting", t.connecting);
      device = new window.Twilio.Device(data.token, { closeProtection: true });
      return device.connect({ params: {} });
    }).then(function (c) {
      call = c;
      show("hangup", true);
      c.on("accept", function () { state("in-call", t.in_call); });
      c.on("disconnect", function () { show("hangup", false); state("ended", t.ended); });
      c.on("error", function () { fallback("error", t.no_webrtc); });
    }).catch(function (err) {
      if (err && err.status === 410) { fallback("invalid", t.invalid); }
      else if (err && err.status === 429) { fallback("busy", t.busy); }
      else { fallback("error", t.no_webrtc); }
    });
  }

  el("call").addEventListener("click", start);
  el("hangup").addEventListener("click", function () {
    if (call) { call.disconnect(); }
    if (device) { device.destroy(); }
  });

  if (!cfg.valid) { fallback("invalid", t.invalid); return; }
  if (!webrtcSupported()) { fallback("no-webrtc", t.no_webrtc); return; }
  state("ready", "");
  show("call", true);
}());
