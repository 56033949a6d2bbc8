"""Progress bars: shown only when asked, never without a terminal."""

from __future__ import annotations

import io

from hepattn.progress import bar, wanted


def test_no_bar_without_a_terminal_or_when_asked_not_to(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert wanted() is False
    with bar(False, 3, "x") as b:
        b.update(2)
        b.set_postfix(loss=1.0)
    import sys

    assert sys.stderr.getvalue() == ""  # nothing shown


def test_terminal_shows_a_bar_unless_no_progress(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert wanted() is True and wanted(no_progress=True) is False
    with bar(True, 4, "reading", "events") as b:
        b.update(4)
    assert "reading" in tty.getvalue() and "/4" in tty.getvalue()
