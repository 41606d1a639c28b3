"""ChannelPacer: one post per interval per channel, counted from the previous answer."""
from __future__ import annotations

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
    pacer.wait("C1")
    ft.now += 0.3          # the post took 0.3 s to be answered
    pacer.done("C1")
    pacer.wait("C1")       # must wait 1.0 s from the answer, not 0.7 s from the send
    assert ft.slept == [1.0]
    pacer.wait("C2")       # another channel is not held up
    assert ft.slept == [1.0]


def test_posts_queued_from_several_threads_are_spaced_too():
    ft = FakeTime()
    pacer = ChannelPacer(1.0, clock=ft.clock, sleep=ft.sleep)
    pacer.wait("C1")
    pacer.wait("C1")       # a second sender before the first was answered: one interval later
    assert ft.slept == [1.0]
