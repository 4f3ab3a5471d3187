/* Signing out: on request, and after a stretch without use (shared by the staff pages and
 * the planner). Plain JavaScript, no build step.
 *
 * wanggeSession.signOut(root, tokenKey) revokes the token on the server (POST /auth/logout)
 * and forgets it here. wanggeSession.watchIdle(seconds, onIdle) calls onIdle once no key,
 * pointer, wheel or touch event has come for `seconds` (the server's
 * WANGGE_IDLE_TIMEOUT_MINUTES, given to the page in its settings block); any use restarts the
 * count. The timer is a setTimeout chain aimed at the moment the page goes idle, so it is
 * exact and cheap.
 */
(function () {
  "use strict";

  var EVENTS = ["keydown", "pointerdown", "wheel", "touchstart"];

  /* Revoke the token on the server (best effort: even offline, it is forgotten here). */
  function signOut(root, tokenKey) {
    var token = window.localStorage.getItem(tokenKey);
    window.localStorage.removeItem(tokenKey);
    if (!token) return Promise.resolve();
    return fetch((root || "") + "/auth/logout", {
      method: "POST",
      headers: {Authorization: "Bearer " + token},
      keepalive: true
    }).then(function () {}, function () {});
  }

  function watchIdle(seconds, onIdle) {
    if (!(seconds > 0)) return;
    var last = Date.now();
    var timer = null;
    function arm() {
      if (timer !== null) window.clearTimeout(timer);
      timer = window.setTimeout(check, Math.max(0, last + seconds * 1000 - Date.now()));
    }
    function check() {
      timer = null;
      if (Date.now() - last >= seconds * 1000) {
        onIdle();
        last = Date.now();
      }
      arm();
    }
    EVENTS.forEach(function (name) {
      document.addEventListener(name, function () { last = Date.now(); }, {passive: true, capture: true});
    });
    arm();
  }

  window.wanggeSession = {signOut: signOut, watchIdle: watchIdle};
})();
