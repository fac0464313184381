"""A minimal writer of speedbump's control block (core/src/ipc/control.rs), so the
hook's live control can be tested without the launcher. The layout here must
follow control.rs; a drift fails these tests."""

import mmap
import os
import struct

MAGIC = b"SPDBCTL\0"
VERSION = 3
PATTERN_DELAYS_AT, MAX_PATTERN_DELAYS = 64, 504
PATTERNS_AT, PATTERNS_BYTES = 4096, 16 * 1024 * 1024
PROGRESS_AT, PROGRESS_BYTES = PATTERNS_AT + PATTERNS_BYTES, 4 * 1024
SIZE = PROGRESS_AT + PROGRESS_BYTES
ENABLED, DELAY_RESUMES, MATCH_C_CALLS, OWN_TIME = 1, 2, 4, 8


class ControlBlock:
    def __init__(self, session_dir, **settings):
        os.makedirs(session_dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(session_dir, "control")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.ftruncate(fd, SIZE)
        self.map = mmap.mmap(fd, SIZE)
        os.close(fd)
        self.sequence = 0
        struct.pack_into("=II", self.map, 8, VERSION, SIZE)
        self.publish(**settings)
        self.map[0:8] = MAGIC

    def publish(self, patterns="", delay_ns=0, frequency=1, flags=ENABLED, progress_points="",
                pattern_delays=()):
        """`pattern_delays`: ns per call of each include pattern, in order
        (empty: every pattern at `delay_ns`)."""
        p, q = patterns.encode(), progress_points.encode()
        assert len(pattern_delays) <= MAX_PATTERN_DELAYS
        self.sequence += 1
        struct.pack_into("=Q", self.map, 16, self.sequence)
        struct.pack_into("=QQIIII", self.map, 24, delay_ns, frequency, flags, len(p), len(q),
                         len(pattern_delays))
        struct.pack_into(f"={len(pattern_delays)}Q", self.map, PATTERN_DELAYS_AT, *pattern_delays)
        self.map[PATTERNS_AT:PATTERNS_AT + len(p)] = p
        self.map[PROGRESS_AT:PROGRESS_AT + len(q)] = q
        self.sequence += 1
        struct.pack_into("=Q", self.map, 16, self.sequence)
        return self.sequence // 2
