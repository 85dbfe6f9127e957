#!/usr/bin/python3
"""A WHIP client (RFC 9725) built on GStreamer's webrtcbin, for the e2e tests.

videotestsrc + audiotestsrc -> VP8 (vp8enc) or H.264 (openh264enc, constrained
baseline) + Opus -> webrtcbin with bundle-policy=max-bundle, which offers the
second m-line as RFC 8843 "bundle-only" (port 0, a=bundle-only). The offer is
POSTed (after ICE gathering, so it carries the client's candidates) with the
bearer token; the answer is applied; the client then runs until SIGTERM or
SIGINT, on which it DELETEs its session resource and exits 0.

It reports on stdout, one JSON object a line, so a test can await each step:
  {"event": "offer", "sdp": ...}           the offer, as sent
  {"event": "answer", "status": 201, "location": ..., "sdp": ...}
  {"event": "refused", "status": 4xx, "body": ...}   (then exits 3)
  {"event": "connection-state", "state": "connected"} (every change)
  {"event": "deleted", "status": 200}      after SIGTERM, then exits 0
  {"event": "error", "message": ...}       a pipeline error (then exits 2;
                                            exits 4 when elements are missing)
With --offer-only it prints the offer and exits without any request; with
--check it prints {"event": "ready"} when every element it needs is installed.

Run it with Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-plugins-bad-1.0).
"""

import argparse
import json
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

VIDEO = {
    "vp8": (
        "vp8enc deadline=1 cpu-used=8 target-bitrate=600000 keyframe-max-dist=60 error-resilient=partitions"
        " ! rtpvp8pay pt=96 mtu=1200"
        " ! application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=96"
    ),
    # Constrained baseline, packetization-mode 1: what WebRTC (and the SFU) take.
    "h264": (
        "openh264enc bitrate=600000 gop-size=60 complexity=low usage-type=camera"
        " ! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au"
        " ! h264parse config-interval=-1"
        " ! rtph264pay pt=102 mtu=1200 config-interval=-1 aggregate-mode=zero-latency"
        " ! application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=102,"
        "packetization-mode=(string)1"
    ),
}

VIDEO_ELEMENTS = {"vp8": ["vp8enc", "rtpvp8pay"], "h264": ["openh264enc", "h264parse", "rtph264pay"]}


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def log(message):
    print(message, file=sys.stderr, flush=True)


def reported(fn):
    """A callback that reports an exception and ends the client (GLib would only print it and carry on)."""

    def wrapper(self, *args):
        try:
            return fn(self, *args)
        except Exception as err:  # noqa: BLE001 - any failure ends the run, reported
            emit("error", message=f"{fn.__name__}: {type(err).__name__}: {err}")
            self.stop(2)
            return False

    return wrapper


class WhipClient:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.location = None
        self.exit_code = 0
        self.posted = False
        self.pipeline = Gst.parse_launch(
            "webrtcbin name=webrtc bundle-policy=max-bundle latency=100"
            " audiotestsrc is-live=true wave=sine freq=440 volume=0.3 ! audioconvert ! audioresample"
            " ! audio/x-raw,rate=48000,channels=2 ! queue ! opusenc bitrate=64000 frame-size=20"
            " ! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=111 ! webrtc."
            f" videotestsrc is-live=true pattern=ball ! video/x-raw,width={args.width},height={args.height},framerate=30/1"
            f" ! videoconvert ! video/x-raw,format=I420 ! queue max-size-buffers=2 leaky=downstream ! {VIDEO[args.video]} ! webrtc."
        )
        self.webrtc = self.pipeline.get_by_name("webrtc")
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering_state)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    def run(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, self.on_signal)
        self.pipeline.set_state(Gst.State.PLAYING)
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        return self.exit_code

    def stop(self, code):
        self.exit_code = code
        self.loop.quit()

    def on_error(self, _bus, message):
        err, debug = message.parse_error()
        emit("error", message=f"{err.message} ({debug})")
        self.stop(2)

    @reported
    def on_negotiation_needed(self, element):
        # The encoder only sends: every transceiver is sendonly (WHIP).
        for pad in element.sinkpads:
            pad.get_property("transceiver").set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        promise = Gst.Promise.new_with_change_func(self.on_offer_created, element, None)
        element.emit("create-offer", None, promise)

    @reported
    def on_offer_created(self, promise, element, _data):
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None and reply.has_field("offer") else None
        if offer is None:
            emit("error", message=f"create-offer failed: {reply.to_string() if reply is not None else 'no reply'}")
            self.stop(2)
            return
        element.emit("set-local-description", offer, Gst.Promise.new())

    @reported
    def on_gathering_state(self, element, _pspec):
        state = element.get_property("ice-gathering-state")
        log(f"ICE gathering: {state.value_nick}")
        # Non-trickle: the offer goes out once it holds every candidate (the server takes no PATCH).
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE and not self.posted:
            self.posted = True
            GLib.idle_add(self.post_offer)

    @reported
    def on_connection_state(self, element, _pspec):
        emit("connection-state", state=element.get_property("connection-state").value_nick)

    @reported
    def post_offer(self):
        sdp = self.webrtc.get_property("local-description").sdp.as_text()
        emit("offer", sdp=sdp)
        if self.args.offer_only:
            self.stop(0)
            return False
        request = urllib.request.Request(
            self.args.url,
            data=sdp.encode(),
            method="POST",
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {self.args.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as res:
                answer = res.read().decode()
                status = res.status
                self.location = urllib.parse.urljoin(self.args.url, res.headers["Location"])
        except urllib.error.HTTPError as err:
            emit("refused", status=err.code, body=err.read().decode(errors="replace"))
            self.stop(3)
            return False
        except OSError as err:
            emit("error", message=f"POST {self.args.url}: {err}")
            self.stop(2)
            return False
        emit("answer", status=status, location=self.location, sdp=answer)
        ok, message = GstSdp.SDPMessage.new_from_text(answer)
        if ok != GstSdp.SDPResult.OK:
            emit("error", message="the answer is not SDP")
            self.stop(2)
            return False
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        self.webrtc.emit("set-remote-description", description, Gst.Promise.new())
        return False

    @reported
    def on_signal(self):
        if self.location:
            request = urllib.request.Request(self.location, method="DELETE", headers={"Authorization": f"Bearer {self.args.token}"})
            try:
                with urllib.request.urlopen(request, timeout=10) as res:
                    emit("deleted", status=res.status)
            except urllib.error.HTTPError as err:
                emit("deleted", status=err.code)
            except OSError as err:
                emit("error", message=f"DELETE {self.location}: {err}")
        self.stop(0)
        return GLib.SOURCE_REMOVE


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="the WHIP endpoint, e.g. http://10.213.0.1:8080/whip/main")
    parser.add_argument("--token", default="", help="the bearer token (a host token)")
    parser.add_argument("--video", choices=sorted(VIDEO), default="vp8")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--offer-only", action="store_true", help="print the offer and exit")
    parser.add_argument("--check", action="store_true", help="report whether every element the client needs is installed, and exit")
    args = parser.parse_args()
    if not args.offer_only and not args.check and not args.url:
        parser.error("--url is required (or --offer-only, --check)")
    Gst.init(None)
    needed = ["webrtcbin", "nicesrc", "nicesink", "dtlssrtpenc", "srtpenc", "videotestsrc", "audiotestsrc", "opusenc", "rtpopuspay"]
    needed += ["vp8enc", "rtpvp8pay", "openh264enc", "h264parse", "rtph264pay"] if args.check else VIDEO_ELEMENTS[args.video]
    missing = [name for name in needed if Gst.ElementFactory.find(name) is None]
    if missing:
        emit("error", message=f"GStreamer elements missing: {', '.join(missing)}")
        return 4
    if args.check:
        emit("ready", version=Gst.version_string())
        return 0
    return WhipClient(args).run()


if __name__ == "__main__":
    sys.exit(main())
