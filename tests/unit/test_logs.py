"""The log store: bounded by bytes per resource and in total, sequence
numbers for incremental reads, levels, and a terminal that never blocks."""
from __future__ import annotations

import io
import threading
import time
import tracemalloc

from tiltpy.engine.logs import LINE_OVERHEAD, LogSink, TerminalWriter, line_level


def quiet(**kwargs) -> LogSink:
    return LogSink(io.StringIO(), stream=False, **kwargs)


def test_sequence_numbers_and_ordinals() -> None:
    sink = quiet()
    sink.log("a", "one")
    sink.log("b", "two", "runtime")
    sink.log("a", "three\n")
    a = sink.lines("a")
    assert [l.text for l in a] == ["one", "three"]
    assert [l.seq for l in a] == [1, 3] and [l.n for l in a] == [1, 2]
    assert sink.lines("b")[0].source == "runtime" and sink.lines("b")[0].n == 1
    assert sink.last_seq == 3


def test_levels_follow_tilts_prefixes() -> None:
    assert line_level("ERROR: build failed") == "error"
    assert line_level("  WARNING: careful") == "warn"
    assert line_level("warn: lower case too") == "warn"
    assert line_level("all good, no ERROR: here") == "info"
    sink = quiet()
    sink.log("a", "ERROR: boom")
    assert sink.lines("a")[0].level == "error"


def test_per_resource_buffer_is_bounded_by_bytes_and_keeps_the_newest() -> None:
    sink = quiet(max_bytes_per_resource=100_000)
    for i in range(5000):
        sink.log("flood", f"{i:06d} " + "x" * 500)
    sink.log("quiet", "still here")
    lines = sink.lines("flood")
    stored = sum(len(l.text) + LINE_OVERHEAD for l in lines)
    assert stored <= 100_000
    assert len(lines) > 100
    assert lines[-1].text.startswith("004999")
    assert lines[0].n == 5000 - len(lines) + 1  # contiguous: only the oldest were dropped
    assert [l.text for l in sink.lines("quiet")] == ["still here"]


def test_total_cap_evicts_from_the_largest_buffers() -> None:
    sink = quiet(max_bytes_per_resource=1 << 20, max_total_bytes=300_000)
    for i in range(50):
        sink.log("small", f"small {i}")
    for _ in range(3000):
        sink.log("big1", "y" * 300)
        sink.log("big2", "z" * 200)
    stats = sink.stats()
    assert stats["bytes"] <= 300_000
    assert len(sink.lines("small")) == 50  # the quiet resource lost nothing
    assert sink.lines("big1") and sink.lines("big2")
    assert sink.lines("big1")[-1].n == 3000


def test_huge_lines_are_cut() -> None:
    sink = quiet(max_line_bytes=1000)
    sink.log("a", "q" * 50_000)
    text = sink.lines("a")[0].text
    assert len(text) < 1100 and "49000 more characters" in text


def test_memory_stays_bounded_under_a_flood() -> None:
    sink = quiet(max_bytes_per_resource=1 << 20, max_total_bytes=4 << 20)
    line = "m" * 200
    tracemalloc.start()
    try:
        for i in range(60_000):  # 12 MB of text into three resources
            sink.log(("p1", "p2", "p3")[i % 3], line, "runtime")
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.stats()["bytes"] <= 4 << 20
    assert current < 8 << 20, f"{current} bytes held"


def test_read_since_limit_tail_and_filters() -> None:
    sink = quiet()
    for i in range(1, 11):
        sink.log("a" if i % 2 else "b", f"line {i}")
    assert [l.seq for l in sink.read(since=0)] == list(range(1, 11))
    assert [l.seq for l in sink.read(since=6)] == [7, 8, 9, 10]
    assert [l.seq for l in sink.read(since=2, limit=3)] == [3, 4, 5]
    assert [l.seq for l in sink.read(tail=3)] == [8, 9, 10]
    assert [l.seq for l in sink.read(["a"], since=4)] == [5, 7, 9]
    assert [l.seq for l in sink.read(["b"], tail=2)] == [8, 10]
    assert sink.read(["nope"]) == []
    assert sink.read(since=10) == []


def test_stream_mode_prints_prefixed_lines_and_echo() -> None:
    out = io.StringIO()
    sink = LogSink(out)
    sink.set_resources(["frontend"])
    sink.log("frontend", "hello")
    sink.echo("a header")
    sink.flush()
    assert "frontend   │ hello\n" in out.getvalue()
    assert "a header\n" in out.getvalue()
    out2 = io.StringIO()
    quiet_sink = LogSink(out2, stream=False)
    quiet_sink.log("frontend", "not printed")
    quiet_sink.echo("status line")
    quiet_sink.flush()
    assert out2.getvalue() == "status line\n"


class BlockingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(10)
        return super().write(text)


def test_a_stuck_terminal_never_blocks_logging_and_says_what_it_skipped() -> None:
    out = BlockingStream()
    sink = LogSink(out, max_terminal_pending=50_000)
    start = time.monotonic()
    for i in range(20_000):
        sink.log("flood", f"line {i} " + "x" * 100, "runtime")
    assert time.monotonic() - start < 5  # never waited for the stream
    assert len(sink.lines("flood")) > 0
    out.release.set()
    sink.log("flood", "after the flood")
    sink.flush()
    text = out.getvalue()
    assert "lines skipped" in text
    assert "after the flood" in text
    assert text.count("\n") < 5_000


def test_broken_stream_is_dropped_quietly() -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError()

    writer = TerminalWriter(Broken())
    writer.write("x\n")
    writer.flush(2)
    writer.write("y\n")  # no error, no thread left waiting
    writer.flush(2)


def test_logging_from_many_threads() -> None:
    sink = quiet()

    def work(k: int) -> None:
        for i in range(2000):
            sink.log(f"r{k % 3}", f"{k}-{i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [l.seq for l in sink.read()]
    assert len(seqs) == 12_000 and seqs == sorted(set(seqs))
    for r in ("r0", "r1", "r2"):
        assert [l.n for l in sink.lines(r)] == list(range(1, 4001))


def test_listeners_get_every_line_with_its_seq() -> None:
    sink = quiet()
    got = []
    sink.add_listener(got.append)
    sink.log("a", "x")
    sink.remove_listener(got.append)
    sink.log("a", "y")
    assert [(l.text, l.seq) for l in got] == [("x", 1)]
