#!/usr/bin/env python3
"""Makes this episode's raw recordings, as a podcaster's would arrive:
two voices (espeak-ng's speech) recorded apart, the guest 12 dB quieter
with a hiss and harsh sibilance, the host over a room's hum, an advert
and the intro and outro music. Needs espeak-ng and flac; the FLAC files
it writes are committed, so building the episode needs neither.

    python3 projects/podcast/sources/make.py
"""
import math
import os
import random
import struct
import subprocess
import tempfile
import wave

RATE = 22050
HERE = os.path.dirname(os.path.abspath(__file__))

HOST = [
    "Hello and welcome to the example show. I am your host, and today we are talking about how a record gets made.",
    "So the first thing people ask is about loudness. Why does every service turn the music down?",
    "That is all we have time for. Thank you for listening, and see you next week.",
]
GUEST = [
    "Thanks for having me. I have spent twenty years in small studios, mostly waiting for renders to finish.",
    "Well, the services measure every song the same way, so a louder master simply gets turned down. She sells sea shells, as we say.",
]
ADVERT = "This episode is brought to you by the example company. Sound, simply served."


def speak(voice, text, speed=160):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", path, text], check=True)
        with wave.open(path) as w:
            assert w.getframerate() == RATE and w.getnchannels() == 1
            data = w.readframes(w.getnframes())
    return [s / 32768 for s in struct.unpack(f"<{len(data) // 2}h", data)]


def scaled(signal, peak_db):
    peak = max(abs(x) for x in signal) or 1.0
    gain = 10 ** (peak_db / 20) / peak
    return [x * gain for x in signal]


def bell(signal, freq, gain_db, q):
    """A peaking EQ (RBJ): the harsh sibilance of a cheap microphone."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq / RATE
    alpha = math.sin(w0) / (2 * q)
    b0, b1, b2 = 1 + alpha * a, -2 * math.cos(w0), 1 - alpha * a
    a0, a1, a2 = 1 + alpha / a, -2 * math.cos(w0), 1 - alpha / a
    x1 = x2 = y1 = y2 = 0.0
    out = []
    for x in signal:
        y = (b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0
        x2, x1, y2, y1 = x1, x, y1, y
        out.append(y)
    return out


def music(seconds, root):
    """A few bars of chords, for the intro and outro."""
    out = []
    for i in range(int(seconds * RATE)):
        t = i / RATE
        bar = int(t / 1.5) % 4
        freq = root * [1, 4 / 3, 3 / 2, 9 / 8][bar]
        envelope = 0.6 + 0.4 * math.cos(2 * math.pi * t / 1.5)
        tone = sum(math.sin(2 * math.pi * freq * k * t) / k for k in (1, 2, 3, 5 / 4 * 2))
        out.append(0.12 * envelope * tone)
    return out


def write_flac(name, signal):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name + ".wav")
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            clipped = [max(-1.0, min(1.0, x)) for x in signal]
            w.writeframes(struct.pack(f"<{len(clipped)}h", *[round(x * 32767) for x in clipped]))
        subprocess.run(
            ["flac", "-s", "-f", "-8", "-o", os.path.join(HERE, name + ".flac"), path],
            check=True,
        )


def main():
    random.seed(7)
    gap = [0.0] * (RATE // 2)
    # One second of the room before the first word: the denoiser's profile.
    host, guest = [0.0] * RATE, [0.0] * RATE
    turns = [("host", HOST[0]), ("guest", GUEST[0]), ("host", HOST[1]), ("guest", GUEST[1]), ("host", HOST[2])]
    for who, text in turns:
        if who == "host":
            spoken = scaled(speak("en-us", text), -6)
        else:
            spoken = scaled(bell(speak("en-gb+f3", text), 7000, 10, 0.8), -18)
        talking, listening = (host, guest) if who == "host" else (guest, host)
        talking.extend(spoken + gap)
        listening.extend([0.0] * len(spoken) + gap)
    # The host's room hums at 100 Hz and hisses; the guest's line hisses louder.
    hum = lambda i: 0.002 * math.sin(2 * math.pi * 100 * i / RATE)
    host = [x + hum(i) + random.gauss(0, 0.001) for i, x in enumerate(host)]
    guest = [x + random.gauss(0, 0.002) for x in guest]
    write_flac("host", host)
    write_flac("guest", guest)
    write_flac("advert", scaled(speak("en-us+m3", ADVERT, 150), -8))
    write_flac("intro", music(6.0, 220.0))
    write_flac("outro", music(8.0, 196.0))
    print(f"the conversation lasts {len(host) / RATE:.1f} s")


if __name__ == "__main__":
    main()
