// mctui's guest page: join the call named in the invite link, publish the microphone, play
// everyone else, show who is there and who speaks. It speaks the same protocol as mctui
// (src/mctui/protocol.py) over the same WebSocket, with the browser's own WebRTC stack.
// No framework, no build step, nothing from another origin.
"use strict";

(() => {
  const PROTOCOL_VERSION = 1;
  const REQUEST_TIMEOUT_MS = 10000;
  const PING_EVERY_MS = 2500;
  const PING_TIMEOUT_MS = 5000;
  const RECONNECT_GIVE_UP_MS = 60000;
  const WAIT_FOR_START_MS = 3000;
  const MEDIA_RETRY_MS = 1500;
  const ICE_TIMEOUT_MS = 10000;
  // Receive slots offered up front and added beyond what is needed, as mctui does.
  const MIN_SLOTS = 4;
  const SPARE_SLOTS = 2;

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // --- what the page knows (tests read it as window.mctuiGuest) -------------------------------

  const state = {
    phase: "starting", // starting, waiting, joining, in-call, reconnecting, left, ended, failed
    problem: "",
    cid: "",
    me: null,
    role: "",
    canPublish: false,
    muted: false,
    micReady: false,
    participants: new Map(), // user id -> {id, name, role, muted, away}
    levels: new Map(), // user id -> {level_dbfs, speaking}
    reconnectAttempt: 0,
    trickled: 0, // candidates sent after their offer (trickle ICE)
    iceServers: [], // the STUN/TURN servers the server told us to use
  };
  window.mctuiGuest = state;

  class ServerError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  // --- the invite link: /#call=TYPE:ID&token=JWT (a fragment never reaches a server) ----------

  function readLink() {
    const params = new URLSearchParams(location.hash.replace(/^#/, "") || location.search);
    const cid = params.get("call") || "";
    const token = params.get("token") || "";
    const colon = cid.indexOf(":");
    if (!token || colon < 1) return null;
    return { cid, token, callType: cid.slice(0, colon), callId: cid.slice(colon + 1) };
  }

  // --- signalling: one WebSocket, requests with ids, events, a keepalive ----------------------

  class Signalling {
    constructor(onEvent, onLost) {
      this.onEvent = onEvent;
      this.onLost = onLost;
      this.nextId = 1;
      this.pending = new Map();
      this.ws = null;
      this.closedByUs = false;
      this.pinger = null;
    }

    open() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${scheme}//${location.host}/ws`);
        this.ws = ws;
        let opened = false;
        ws.onopen = () => {
          opened = true;
          this.pinger = setInterval(() => this.ping(), PING_EVERY_MS);
          resolve();
        };
        ws.onmessage = (message) => this.receive(message.data);
        ws.onclose = () => {
          clearInterval(this.pinger);
          for (const { reject: fail, timer } of this.pending.values()) {
            clearTimeout(timer);
            fail(new ServerError("unreachable", "the connection to the server closed"));
          }
          this.pending.clear();
          if (!opened) reject(new ServerError("unreachable", "the server cannot be reached"));
          else if (!this.closedByUs && this.ws === ws) this.onLost();
        };
      });
    }

    receive(text) {
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        return;
      }
      if (message.type === "reply" || message.type === "error") {
        const waiting = this.pending.get(message.id);
        if (waiting === undefined) {
          if (message.type === "error") console.warn("server error", message);
          return;
        }
        this.pending.delete(message.id);
        clearTimeout(waiting.timer);
        if (message.type === "reply") waiting.resolve(message.result || {});
        else waiting.reject(new ServerError(message.code, message.message));
        return;
      }
      this.onEvent(message);
    }

    request(type, fields = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        return Promise.reject(new ServerError("not_connected", "not connected to the server"));
      }
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new ServerError("timeout", `the server did not answer '${type}'`));
        }, timeoutMs);
        this.pending.set(id, { resolve, reject, timer });
        ws.send(JSON.stringify({ id, type, ...fields }));
      });
    }

    ping() {
      // No answer in time: the path went silent (a blackhole); close and reconnect. The
      // invite ran out mid-call: say so (reconnecting could not help).
      this.request("ping", {}, PING_TIMEOUT_MS).catch((error) => {
        if (error.code === "unauthorized") fail(explain(error));
        else if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.close();
      });
    }

    close() {
      this.closedByUs = true;
      if (this.ws) this.ws.close();
    }
  }

  // --- media: a publisher and a subscriber connection to the SFU ------------------------------

  class Media {
    constructor(signals, cid, join, mic, onFailure) {
      this.signals = signals;
      this.cid = cid;
      this.kind = join.sfu.kind;
      this.canPublish = join.can_publish;
      this.others = Math.max(0, join.call.participants.length - 1);
      this.iceServers = (join.sfu.ice_servers || []).map((s) => ({
        urls: s.urls,
        ...(s.username ? { username: s.username } : {}),
        ...(s.credential ? { credential: s.credential } : {}),
      }));
      this.mic = mic;
      this.onFailure = onFailure;
      this.publisher = null;
      this.subscriber = null;
      this.owners = {};
      this.players = new Map(); // mid -> <audio>
      this.negotiating = Promise.resolve();
      this.closed = false;
      this.sentOffer = { publisher: false, subscriber: false };
      this.heldCandidates = { publisher: [], subscriber: [] };
    }

    connection(role) {
      const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
      pc.onicecandidate = (event) => this.trickle(role, event.candidate);
      pc.onconnectionstatechange = () => {
        if (["failed", "closed"].includes(pc.connectionState) && !this.closed) {
          const handler = this.onFailure;
          this.onFailure = null; // once per media
          if (handler) handler(`the ${role} connection ${pc.connectionState}`);
        }
      };
      return pc;
    }

    trickle(role, candidate) {
      const message = candidate && candidate.candidate
        ? { cid: this.cid, role, candidate: candidate.candidate, sdp_mid: candidate.sdpMid }
        : { cid: this.cid, role };
      if (!this.sentOffer[role]) {
        this.heldCandidates[role].push(message); // the SFU takes candidates after the offer
        return;
      }
      if (message.candidate) state.trickled += 1;
      this.signals.request("sfu_candidate", message).catch((error) => {
        console.warn("a candidate was refused", error);
      });
    }

    flushCandidates(role) {
      this.sentOffer[role] = true;
      for (const message of this.heldCandidates[role].splice(0)) {
        if (message.candidate) state.trickled += 1;
        this.signals.request("sfu_candidate", message).catch(() => {});
      }
    }

    async start(restart) {
      if (this.kind === "embedded") {
        this.subscriber = this.connection("subscriber");
        this.subscriber.ontrack = (event) => this.play(event);
        await this.offerSubscriber(Math.max(MIN_SLOTS, this.others + SPARE_SLOTS), restart);
      }
      if (this.canPublish && this.mic) await this.startPublisher(restart);
      if (this.kind === "janus") {
        const offer = await this.signals.request("sfu_subscribe", { cid: this.cid });
        if (offer.sdp) await this.answer(offer.sdp, offer.track_owners || {});
      }
      await this.waitConnected();
    }

    async startPublisher(restart) {
      const pc = this.connection("publisher");
      this.publisher = pc;
      pc.addTransceiver(this.mic, { direction: "sendonly" });
      await pc.setLocalDescription(await pc.createOffer());
      const answer = await this.signals.request("sfu_signal", {
        cid: this.cid, role: "publisher", sdp: pc.localDescription.sdp, sdp_type: "offer",
        trickle: true, restart: Boolean(restart),
      });
      this.flushCandidates("publisher");
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    }

    async offerSubscriber(slots, restart = false) {
      const pc = this.subscriber;
      const have = pc.getTransceivers().length;
      for (let i = have; i < slots; i++) pc.addTransceiver("audio", { direction: "recvonly" });
      await pc.setLocalDescription(await pc.createOffer());
      const first = !this.sentOffer.subscriber;
      const answer = await this.signals.request("sfu_signal", {
        cid: this.cid, role: "subscriber", sdp: pc.localDescription.sdp, sdp_type: "offer",
        trickle: first, restart: Boolean(restart && first),
      });
      if (first) this.flushCandidates("subscriber");
      if (this.closed) return;
      this.owners = answer.track_owners || {};
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    }

    // Janus offers the subscriber connection itself: answer it (and every later offer).
    async answer(sdp, owners) {
      if (this.closed) return;
      if (!this.subscriber) {
        this.subscriber = this.connection("subscriber");
        this.subscriber.ontrack = (event) => this.play(event);
      }
      const pc = this.subscriber;
      await pc.setRemoteDescription({ type: "offer", sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this.owners = owners;
      await this.signals.request("sfu_signal", {
        cid: this.cid, role: "subscriber", sdp: pc.localDescription.sdp, sdp_type: "answer",
      });
      this.flushCandidates("subscriber");
    }

    play(event) {
      const mid = event.transceiver.mid;
      let player = this.players.get(mid);
      if (!player) {
        player = document.createElement("audio");
        player.autoplay = true;
        $("players").append(player);
        this.players.set(mid, player);
      }
      player.srcObject = new MediaStream([event.track]);
      player.play().catch(() => {
        show("Click anywhere on the page to hear the call (the browser blocked autoplay).");
        document.addEventListener("click", () => player.play(), { once: true });
      });
    }

    // The SFU's events about this call's media.
    handle(event) {
      if (this.closed) return;
      if (event.type === "sfu.tracks") {
        this.owners = event.track_owners || {};
        const pc = this.subscriber;
        if (this.kind === "embedded" && pc && event.slots_needed > pc.getTransceivers().length) {
          this.serially(async () => {
            await this.waitConnected(pc);
            await this.offerSubscriber(event.slots_needed + SPARE_SLOTS);
          });
        }
      } else if (event.type === "sfu.offer") {
        this.serially(() => this.answer(event.sdp, event.track_owners || {}));
      } else if (event.type === "sfu.candidate") {
        const pc = event.role === "publisher" ? this.publisher : this.subscriber;
        if (pc) {
          const init = { candidate: event.candidate || "", sdpMid: event.sdp_mid || "0" };
          pc.addIceCandidate(init).catch((error) => console.warn("candidate", error));
        }
      }
    }

    serially(step) {
      this.negotiating = this.negotiating.then(step).catch((error) => {
        console.warn("renegotiation failed", error);
      });
    }

    async waitConnected(only) {
      const deadline = Date.now() + ICE_TIMEOUT_MS;
      const pcs = only ? [only] : [this.publisher, this.subscriber].filter(Boolean);
      for (const pc of pcs) {
        while (pc.connectionState !== "connected") {
          if (this.closed) return;
          if (pc.connectionState === "failed" || Date.now() > deadline) {
            throw new ServerError(
              "media_error",
              "no audio path to the server: the network blocks the call's audio (UDP)",
            );
          }
          await sleep(50);
        }
      }
    }

    get healthy() {
      return !this.closed && [this.publisher, this.subscriber]
        .filter(Boolean).every((pc) => pc.connectionState === "connected");
    }

    async stats() {
      const report = { inbound: [], outbound: [], uplink: [] };
      for (const [role, pc] of [["publisher", this.publisher], ["subscriber", this.subscriber]]) {
        if (!pc) continue;
        const mids = new Map(pc.getTransceivers().map((t) => [t.receiver.track.id, t.mid]));
        const entries = await pc.getStats();
        const codec = (entry) => entries.get(entry.codecId)?.mimeType || null;
        entries.forEach((entry) => {
          if (entry.type === "inbound-rtp" && entry.kind === "audio") {
            const mid = entry.mid || mids.get(entry.trackIdentifier);
            report.inbound.push({
              mid, owner: this.owners[mid] || null, packets: entry.packetsReceived || 0,
              energy: entry.totalAudioEnergy || 0, level: entry.audioLevel || 0,
              bytes: entry.bytesReceived || 0, codec: codec(entry),
            });
          } else if (entry.type === "outbound-rtp" && entry.kind === "audio" && role === "publisher") {
            report.outbound.push({
              packets: entry.packetsSent || 0, bytes: entry.bytesSent || 0, codec: codec(entry),
            });
          } else if (entry.type === "remote-inbound-rtp" && entry.kind === "audio") {
            // what the SFU's receiver reports say of what this page sends
            report.uplink.push({
              lost: entry.packetsLost || 0, fractionLost: entry.fractionLost || 0,
              jitter: entry.jitter || 0, rtt: entry.roundTripTime ?? null,
            });
          }
        });
      }
      return report;
    }

    close() {
      this.closed = true;
      for (const pc of [this.publisher, this.subscriber]) if (pc) pc.close();
      for (const player of this.players.values()) {
        player.srcObject = null;
        player.remove();
      }
      this.players.clear();
    }
  }

  // --- the call: join, stay joined, leave ---------------------------------------------------

  const link = readLink();
  const resumeId = Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  let signals = null;
  let media = null;
  let mic = null;
  let recovering = false;

  function setPhase(phase, status) {
    state.phase = phase;
    const line = $("status");
    line.textContent = status;
    line.className = phase === "in-call" ? "live"
      : ["reconnecting", "failed", "ended"].includes(phase) ? "trouble" : "";
    const inCall = ["in-call", "reconnecting"].includes(phase);
    $("leave").disabled = !inCall;
    $("mute").disabled = !inCall || !state.canPublish || !state.micReady;
    $("rejoin").hidden = !["left", "ended", "failed"].includes(phase) || !link;
  }

  function show(problem, retry) {
    state.problem = problem;
    $("problem-text").textContent = problem;
    $("problem").hidden = !problem;
    const button = $("retry");
    button.hidden = !retry;
    button.onclick = retry || null;
  }

  function fail(problem) {
    setPhase("failed", "Not in the call");
    show(problem);
    stopEverything();
  }

  // What to tell a person for each server error, in their terms.
  function explain(error) {
    const message = error.message || String(error);
    switch (error.code) {
      case "unauthorized":
        return /expired/i.test(message)
          ? "This invite has expired. Ask the person who sent it for a new link."
          : "This invite link is not valid. Ask the person who sent it for a new link.";
      case "forbidden":
      case "not_a_member":
        return `This invite is not for this call (${message}).`;
      case "call_ended":
        return "This call has ended.";
      case "limit_reached":
        return `The call is full or the server is busy (${message}).`;
      case "version_mismatch":
        return "This page is out of date: reload it.";
      case "media_error":
        return `Could not connect the call's audio: ${message}.`;
      default:
        return `Something went wrong: ${message}`;
    }
  }

  async function connect() {
    signals = new Signalling(onEvent, onLost);
    await signals.open();
    const hello = await signals.request("hello", {
      version: PROTOCOL_VERSION, token: link.token, resume: resumeId,
    });
    state.me = hello.user;
    return Boolean(hello.resumed);
  }

  async function join(rejoinRole) {
    const fields = { call_type: link.callType, call_id: link.callId, create: false };
    if (rejoinRole) fields.rejoin_role = rejoinRole;
    const result = await signals.request("join_call", fields);
    state.role = result.role;
    state.canPublish = result.can_publish;
    state.participants.clear();
    for (const user of result.call.participants) {
      state.participants.set(user.id, { ...user, muted: false, away: false });
    }
    const mine = state.participants.get(state.me.id);
    if (mine) mine.muted = state.muted;
    render();
    return result;
  }

  /** Browsers give a microphone only to secure pages (HTTPS, or this machine): say so, and how,
   *  instead of blaming a microphone that is there. */
  function insecureReason() {
    const local = ["localhost", "127.0.0.1", "[::1]"].includes(location.hostname);
    if (!window.isSecureContext && !local) {
      return "This page needs HTTPS to use your microphone: the browser allows it only on "
        + "secure pages. Ask for an https:// link (the server runs with mctui serve "
        + "--tls-cert/--tls-key, or --tls-self-signed to try it). You can still listen.";
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return "This browser gives this page no access to microphones. You can still listen.";
    }
    return null;
  }

  async function openMic() {
    const insecure = insecureReason();
    if (insecure) {
      state.micReady = false;
      show(insecure);
      return null;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      mic = stream.getAudioTracks()[0];
      mic.enabled = !state.muted;
      state.micReady = true;
      show("");
      return mic;
    } catch (error) {
      state.micReady = false;
      const blocked = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      show(blocked
        ? "Your microphone is blocked for this page. Allow it (the icon in the address bar), "
          + "then press Try again. You can still listen."
        : "No microphone was found. Plug one in and press Try again. You can still listen.",
      retryMic);
      return null;
    }
  }

  async function retryMic() {
    if (await openMic()) await restartMedia("microphone ready");
  }

  async function startMedia(join, restart) {
    if (media) media.close();
    media = new Media(signals, link.cid, join, mic, (why) => onMediaFailure(why));
    state.iceServers = media.iceServers.flatMap((server) => server.urls);
    await media.start(restart);
  }

  async function enterCall() {
    for (;;) {
      try {
        const result = await join();
        if (state.canPublish && !mic) await openMic();
        await startMedia(result, false);
        break;
      } catch (error) {
        if (error.code === "call_not_found") {
          setPhase("waiting", "Waiting for the call to start…");
          await sleep(WAIT_FOR_START_MS);
          continue;
        }
        throw error;
      }
    }
    setPhase("in-call", state.canPublish ? "In the call" : "In the call, listening (you cannot speak in a livestream)");
  }

  async function main() {
    if (!link) {
      $("room-title").textContent = "This link is incomplete";
      fail("The invite link is missing its call or token. Ask for the whole link again.");
      return;
    }
    $("room-title").textContent = `Call: ${link.callId}`;
    document.title = `${link.callId} — mctui`;
    state.cid = link.cid;
    const insecure = insecureReason();
    if (insecure) show(insecure); // said at once, before anything asks for a microphone
    setPhase("joining", "Connecting…");
    try {
      await connect();
      await enterCall();
    } catch (error) {
      fail(explain(error));
    }
  }

  // --- what the server tells us --------------------------------------------------------------

  function onEvent(event) {
    if (event.cid && event.cid !== link.cid) return;
    const user = event.user;
    switch (event.type) {
      case "call.participant_joined":
        state.participants.set(user.id, { ...user, role: event.role, muted: false, away: false });
        break;
      case "call.participant_left":
        state.participants.delete(user.id);
        state.levels.delete(user.id);
        break;
      case "call.participant_away": {
        const who = state.participants.get(user.id);
        if (who) who.away = event.away;
        break;
      }
      case "call.participant_muted": {
        const who = state.participants.get(user.id);
        if (who) who.muted = event.audio_muted;
        break;
      }
      case "call.levels":
        state.levels = new Map(Object.entries(event.levels || {}));
        renderLevels();
        return;
      case "call.ended":
        setPhase("ended", "The call has ended");
        show(`The call was ended by ${event.by ? event.by.name || event.by.id : "its host"}.`);
        stopEverything();
        break;
      case "call.media_error":
        onMediaFailure(event.message);
        return;
      default:
        if (media) media.handle(event);
        return;
    }
    render();
  }

  function onMediaFailure(why) {
    if (state.phase !== "in-call") return;
    restartMedia(why);
  }

  // Rebuild the media (new connections; the SFU drops the old ones) until one connects.
  async function restartMedia(why) {
    if (recovering || !signals) return;
    recovering = true;
    console.info("restarting media:", why);
    try {
      while (["in-call", "reconnecting"].includes(state.phase)) {
        setPhase("reconnecting", "Reconnecting audio…");
        try {
          const result = await join(state.role || "member");
          await startMedia(result, true);
          setPhase("in-call", "In the call");
          return;
        } catch (error) {
          if (["call_ended", "forbidden", "unauthorized"].includes(error.code)) {
            fail(explain(error));
            return;
          }
          await sleep(MEDIA_RETRY_MS);
        }
      }
    } finally {
      recovering = false;
    }
  }

  // The signalling connection dropped: reconnect with backoff, resume, rejoin.
  async function onLost() {
    if (["left", "ended", "failed"].includes(state.phase)) return;
    const started = Date.now();
    let wait = 250;
    state.reconnectAttempt = 0;
    for (;;) {
      state.reconnectAttempt += 1;
      setPhase("reconnecting", `Reconnecting… (attempt ${state.reconnectAttempt})`);
      render();
      try {
        const resumed = await connect();
        const result = await join(state.role || "member");
        if (resumed && media && media.healthy) media.signals = signals; // keep the media
        else await startMedia(result, true);
        state.reconnectAttempt = 0;
        setPhase("in-call", "In the call");
        render();
        return;
      } catch (error) {
        if (["unauthorized", "forbidden", "call_ended"].includes(error.code)) {
          fail(error.code === "unauthorized" && /expired/i.test(error.message)
            ? "Your invite expired while the connection was down. Ask for a new link."
            : explain(error));
          return;
        }
        if (signals) signals.close();
        if (Date.now() - started > RECONNECT_GIVE_UP_MS) {
          fail("Lost the connection to the server. Check your network, then join again.");
          return;
        }
        await sleep(wait * (0.5 + Math.random() / 2));
        wait = Math.min(wait * 2, 5000);
      }
    }
  }

  // --- the user's own actions -----------------------------------------------------------------

  async function toggleMute() {
    if ($("mute").disabled) return;
    state.muted = !state.muted;
    if (mic) mic.enabled = !state.muted;
    const mine = state.participants.get(state.me.id);
    if (mine) mine.muted = state.muted;
    render();
    try {
      await signals.request("update_mute", { cid: link.cid, audio_muted: state.muted });
    } catch (error) {
      console.warn("update_mute", error);
    }
  }

  async function leave() {
    if ($("leave").disabled) return;
    setPhase("left", "You left the call");
    try {
      await signals.request("leave_call", { cid: link.cid });
    } catch (error) {
      console.warn("leave_call", error);
    }
    stopEverything();
    state.participants.clear();
    render();
  }

  function stopEverything() {
    if (media) media.close();
    media = null;
    if (mic) mic.stop();
    mic = null;
    state.micReady = false;
    if (signals) signals.close();
    signals = null;
  }

  // --- drawing --------------------------------------------------------------------------------

  function render() {
    const list = $("participants");
    list.replaceChildren();
    const people = [...state.participants.values()].sort((a, b) =>
      (b.id === state.me?.id) - (a.id === state.me?.id) || a.name.localeCompare(b.name));
    for (const person of people) {
      const item = document.createElement("li");
      item.dataset.user = person.id;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = person.name || person.id;
      const tags = document.createElement("span");
      tags.className = "tags";
      const meter = document.createElement("div");
      meter.className = "meter";
      meter.setAttribute("role", "meter");
      meter.setAttribute("aria-label", `${person.name || person.id}'s voice level`);
      meter.setAttribute("aria-valuemin", "0");
      meter.setAttribute("aria-valuemax", "100");
      meter.append(document.createElement("span"));
      item.append(who, meter, tags);
      list.append(item);
    }
    const muteButton = $("mute");
    muteButton.setAttribute("aria-pressed", String(state.muted));
    muteButton.firstChild.textContent = state.muted ? "Unmute " : "Mute ";
    renderLevels();
  }

  function renderLevels() {
    for (const item of $("participants").children) {
      const id = item.dataset.user;
      const person = state.participants.get(id);
      const level = state.levels.get(id);
      const percent = level ? Math.max(0, Math.min(100, Math.round((level.level_dbfs + 60) * 100 / 60))) : 0;
      const speaking = Boolean(level && level.speaking && !(person && person.muted));
      item.classList.toggle("speaking", speaking);
      item.classList.toggle("away", Boolean(person && person.away));
      const meter = item.querySelector(".meter");
      meter.setAttribute("aria-valuenow", String(percent));
      meter.firstChild.style.width = `${percent}%`;
      const tags = [];
      if (id === state.me?.id) tags.push("you");
      if (person && person.role === "viewer") tags.push("listening");
      if (person && person.muted) tags.push("muted");
      if (person && person.away) tags.push("reconnecting");
      if (speaking) tags.push("speaking");
      const text = tags.join(" · ");
      const tagLine = item.querySelector(".tags");
      if (tagLine.textContent !== text) tagLine.textContent = text;
    }
  }

  // --- keys and buttons -----------------------------------------------------------------------

  $("mute").addEventListener("click", toggleMute);
  $("leave").addEventListener("click", leave);
  $("rejoin").addEventListener("click", () => location.reload());
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.key === "m" || event.key === "M") toggleMute();
    else if (event.key === "l" || event.key === "L") leave();
  });
  // Another invite pasted into this tab changes only the fragment: start over with it.
  window.addEventListener("hashchange", () => location.reload());
  window.addEventListener("pagehide", () => {
    if (signals && state.phase === "in-call") signals.close();
  });

  // For tests and for people debugging a call: what this page receives and sends.
  state.stats = async () => (media ? media.stats() : { inbound: [], outbound: [], uplink: [] });

  main();
})();
