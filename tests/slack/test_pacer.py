"""ChannelPacer: one post at a time per channel, the next one interval after the previous
answer."""
from __future__ import annotations

import threading
import time

from bot.slack.client import ChannelPacer


class FakeTime:
    def __init__(self):
        self.now, self.slept = 100.0, []

    def clock(self):
        return self.now

    def sleep(self, s):
        self.slept.append(round(s, 3))
        self.now += s


def test_the_interval_runs_from_the_previous_answer_not_the_previous_send():
    ft = FakeTime()
    pacer = ChannelPacer(1.0, clock=ft.clock, sleep=ft.sleep)
    with pacer.slot("C1"):
        ft.now += 0.3          # the post took 0.3 s to be answered
    with pacer.slot("C1"):     # waits 1.0 s from the answer, not 0.7 s from the send
        pass
    assert ft.slept == [1.0]
    with pacer.slot("C2"):     # another channel is not held up
        pass
    assert ft.slept == [1.0]


def test_posts_from_two_threads_never_overlap_and_keep_the_interval():
    pacer = ChannelPacer(0.05)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def post():
        with pacer.slot("C1"):
            start = time.monotonic()
            time.sleep(0.01)  # the request
            with lock:
                spans.append((start, time.monotonic()))
    threads = [threading.Thread(target=post) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    spans.sort()
    for (s1, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 - e1 >= 0.05 - 1e-3  # the next send starts an interval after the previous answer
