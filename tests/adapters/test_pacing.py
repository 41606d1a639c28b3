"""The pacer keeps requests inside every rolling window, waiting only as long as needed."""
from bot.adapters.pacing import Pacer


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_rolling_windows_are_all_respected():
    t = FakeTime()
    p = Pacer([(3, 1.0), (5, 10.0)], clock=t.clock, sleep=t.sleep)
    stamps = []
    for _ in range(11):
        p.wait()
        stamps.append(t.now)
    for i in range(len(stamps)):
        assert sum(1 for s in stamps if stamps[i] <= s < stamps[i] + 1.0) <= 3
        assert sum(1 for s in stamps if stamps[i] <= s < stamps[i] + 10.0) <= 5
    assert stamps[:3] == [0.0, 0.0, 0.0] and stamps[3] == 1.0  # waits only as long as needed
    assert stamps[5] == 10.0 and p.waited_s > 0


def test_no_wait_under_the_limit():
    t = FakeTime()
    p = Pacer([(10, 1.0)], clock=t.clock, sleep=t.sleep)
    for _ in range(10):
        p.wait()
    assert t.now == 0.0 and p.waited_s == 0.0
