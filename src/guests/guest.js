// The guest page: joins the room box's meeting over WebRTC, signalled WHIP-style (the offer is
// POSTed to /whip with the PIN as a bearer token; DELETE on the Location leaves).
'use strict';

const $ = (id) => document.getElementById(id);
const state = { pc: null, local: null, session: null, lostSince: null, timings: {} };
// When each step of the last join happened (ms since the click): the join benchmark reads them.
const mark = (step) => { state.timings[step] = Math.round(performance.now() - state.timings.t0); };

function say(kind, text) {
  const m = $('message');
  m.dataset.kind = kind;
  m.textContent = text;
  m.style.display = text ? 'block' : 'none';
}

async function camera() {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
  } catch (e) {
    say('camera-refused', 'The browser did not give this page your camera and microphone (' + e.name +
      '): you join to watch and listen. Allow them in the address bar and join again to be seen and heard.');
    return null;
  }
}

// The offer goes out with the candidates gathered: when gathering completes, or once host
// candidates have stopped coming for a moment (a LAN needs no more), at most 3 s.
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((done) => {
    let quiet = null;
    const finish = () => { clearTimeout(limit); clearTimeout(quiet); done(); };
    const limit = setTimeout(finish, 3000);
    pc.addEventListener('icecandidate', (e) => {
      clearTimeout(quiet);
      if (!e.candidate) finish(); else quiet = setTimeout(finish, 15);
    });
  });
}

function preferH264(transceiver) {
  const caps = RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities('video');
  if (!caps || !transceiver.setCodecPreferences) return;
  const rank = (c) => c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine || '') ?
    (/profile-level-id=42e0/.test(c.sdpFmtpLine) ? 0 : 1) : 2;
  transceiver.setCodecPreferences(caps.codecs.slice().sort((a, b) => rank(a) - rank(b)));
}

async function join(event) {
  event.preventDefault();
  say('', '');
  const pin = $('pin').value.trim();
  const name = $('name').value.trim() || 'Guest';
  $('join').disabled = true;
  state.timings = { t0: performance.now() };
  try {
    // The camera starts while the call is set up: its tracks go into the senders when ready.
    const asked = camera();
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    pc.onconnectionstatechange = () => watch(pc);
    pc.ontrack = (e) => {
      // The picture and the sound play in elements of their own: a browser whose sound
      // output fails still shows the meeting.
      const element = $(e.track.kind === 'video' ? 'meeting' : 'sound');
      element.srcObject = new MediaStream([e.track]);
      if (e.track.kind === 'video' && element.requestVideoFrameCallback) {
        element.requestVideoFrameCallback(() => mark('picture'));
      }
      element.play().catch((error) => {
        if (error.name !== 'AbortError') say('info', 'Click the picture to hear and see the meeting.');
      });
    };
    $('meeting').onclick = () => ['meeting', 'sound'].forEach((id) => $(id).play().catch(() => {}));
    const sendAudio = pc.addTransceiver('audio', { direction: 'sendrecv' });
    const sendVideo = pc.addTransceiver('video', { direction: 'sendrecv' });
    preferH264(sendVideo);
    await pc.setLocalDescription(await pc.createOffer());
    mark('offer');
    await gathered(pc);
    mark('gathered');
    const response = await fetch('/whip', {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + pin, 'X-Guest-Name': encodeURIComponent(name) },
      body: pc.localDescription.sdp,
    });
    const body = await response.text();
    if (response.status !== 201) {
      pc.close();
      asked.then((local) => local && local.getTracks().forEach((t) => t.stop()));
      const kind = response.status === 403 || response.status === 429 || response.status === 401 ? 'wrong-pin' :
        response.status === 503 ? 'full' : 'error';
      const lead = kind === 'wrong-pin' ? 'Not admitted: ' : kind === 'full' ? 'Cannot join now: ' : 'Could not join: ';
      say(kind, lead + body);
      return;
    }
    mark('answered');
    const post = performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/whip')).pop();
    if (post) {
      const at = (t) => Math.round(t - state.timings.t0);
      Object.assign(state.timings, { 'post connect': at(post.connectStart), 'post sent': at(post.requestStart),
        'post first byte': at(post.responseStart), 'post done': at(post.responseEnd) });
    }
    state.session = response.headers.get('Location');
    pc.oniceconnectionstatechange = () => mark('ice ' + pc.iceConnectionState);
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    mark('remote set');
    const dtls = sendVideo.sender.transport;
    if (dtls) dtls.onstatechange = () => mark('dtls ' + dtls.state);
    const local = await asked;
    mark('camera');
    const audio = local && local.getAudioTracks()[0];
    const video = local && local.getVideoTracks()[0];
    if (audio) await sendAudio.sender.replaceTrack(audio);
    if (video) await sendVideo.sender.replaceTrack(video);
    Object.assign(state, { pc, local });
    if (local) { $('self').srcObject = local; $('self').style.display = 'block'; }
    $('mute').disabled = !audio;
    $('camera').disabled = !video;
    document.body.classList.add('in-call');
    if (!local) say('camera-refused', $('message').textContent);
  } catch (e) {
    say('gone', 'The room box could not be reached (' + e.message + '): check the link and your network.');
  } finally {
    $('join').disabled = false;
  }
}

function watch(pc) {
  const s = pc.connectionState;
  if (s === 'connected') {
    if (!state.timings.connected) mark('connected');
    state.lostSince = null;
    if ($('message').dataset.kind === 'gone') say('', '');
  } else if (s === 'disconnected' || s === 'failed') {
    state.lostSince = state.lostSince || Date.now();
    say('gone', 'The connection to the room box was lost: it went away or the network dropped.' +
      (s === 'failed' ? ' Leave and join again.' : ' Waiting for it to come back…'));
  }
}

async function leave() {
  const { pc, local, session } = state;
  Object.assign(state, { pc: null, local: null, session: null });
  if (session) fetch(session, { method: 'DELETE', keepalive: true }).catch(() => {});
  if (pc) pc.close();
  if (local) local.getTracks().forEach((t) => t.stop());
  $('meeting').srcObject = null;
  $('sound').srcObject = null;
  $('self').style.display = 'none';
  document.body.classList.remove('in-call');
  say('left', 'You left the meeting.');
}

function toggle(kind, button, on, off) {
  const track = state.local && state.local.getTracks().find((t) => t.kind === kind);
  if (!track) return;
  track.enabled = !track.enabled;
  button.textContent = track.enabled ? on : off;
  button.classList.toggle('off', !track.enabled);
}

$('join-form').addEventListener('submit', join);
$('leave').addEventListener('click', leave);
$('mute').addEventListener('click', () => toggle('audio', $('mute'), 'Mute microphone', 'Unmute microphone'));
$('camera').addEventListener('click', () => toggle('video', $('camera'), 'Camera off', 'Camera on'));
window.addEventListener('pagehide', () => {
  if (state.session) fetch(state.session, { method: 'DELETE', keepalive: true }).catch(() => {});
});

// What a test or a curious guest can read: the call's figures from getStats().
window.roombox = {
  async stats() {
    const pc = state.pc;
    if (!pc) return { connection: 'none' };
    const v = $('meeting');
    const shown = { paused: v.paused, width: v.videoWidth, height: v.videoHeight, time: v.currentTime, ready: v.readyState,
      tracks: pc.getReceivers().map((r) => r.track.kind + (r.track.muted ? ' muted' : ' live') + ' ' + r.track.readyState) };
    const out = { connection: pc.connectionState, video: null, audio: null, sent: {}, shown, timings: state.timings };
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.video = { framesDecoded: r.framesDecoded || 0, fps: r.framesPerSecond || 0, width: r.frameWidth, height: r.frameHeight,
          lost: r.packetsLost || 0, nacks: r.nackCount || 0, resentReceived: r.retransmittedPacketsReceived || 0,
          freezes: r.freezeCount || 0, frozenS: r.totalFreezesDuration || 0 };
      }
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.audio = { packets: r.packetsReceived || 0, samples: r.totalSamplesReceived || 0, energy: r.totalAudioEnergy || 0 };
      }
      if (r.type === 'outbound-rtp') {
        out.sent[r.kind] = { packets: r.packetsSent || 0, nacksReceived: r.nackCount || 0, resent: r.retransmittedPacketsSent || 0 };
      }
    });
    return out;
  },
};
