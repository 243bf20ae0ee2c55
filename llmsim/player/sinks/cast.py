"""The cast sink: frames become asciicast events stamped with playlist time, not slept for.

The frames are composed by the same composer a terminal of the cast's size uses (tmux's whole
screen, the classic live region, or plain lines as the terminal shows them: CR LF), so a cast
holds the bytes that terminal would get; an hour-long run exports in about a second.
"""

from __future__ import annotations

from collections.abc import Callable

from llmsim.player.live.ansi import Styler
from llmsim.player.live.region import LiveRegion
from llmsim.player.options import Layout
from llmsim.player.sinks import Frame
from llmsim.player.sinks.asciicast import CastEncoder, CastHeader
from llmsim.player.sinks.compose import Region, composer
from llmsim.player.views.segments import View


class CastSink:
    """Writes a cast line by line through `write`."""

    def __init__(
        self,
        header: CastHeader,
        styler: Styler,
        write: Callable[[str], object],
        report: Callable[[str], None],
        layout: Layout = "classic",
    ) -> None:
        self.header = header
        self.layout = layout
        self.compose = composer(layout, styler, header.cols, newline="\r\n")
        self.encoder = CastEncoder(header.version)
        self.write = write
        self.report = report

    @property
    def region(self) -> LiveRegion | None:
        """The classic layout's live region (None in the other layouts)."""
        return self.compose.region if isinstance(self.compose, Region) else None

    def start(self) -> None:
        """The header line, then the layout's opening bytes at time 0."""
        self.write(self.header.to_line())
        opening = self.compose.start()
        if opening:
            self.write(self.encoder.line(0.0, "o", opening))

    def prepare(self, view: View | None) -> None:
        """Nothing to do ahead of time: a cast is never late."""

    def show(self, frame: Frame) -> None:
        """Markers, then the frame's bytes as one output event."""
        for marker in frame.markers:
            self.write(self.encoder.line(frame.at, "m", marker))
        data = self.compose.frame(frame.logs, frame.view, self.header.cols, self.header.rows)
        if data:
            self.write(self.encoder.line(frame.at, "o", data))

    def resize(self) -> None:
        """A cast keeps the size it was made with."""

    def suspend(self) -> None:
        """A cast is never suspended (its clock is virtual)."""

    def resume(self) -> None:
        """See `suspend`."""

    def notice(self, message: str) -> None:
        """Pass the message on (it is not part of the recording)."""
        self.report(message)

    def close(self, at: float, hand_back: bool = True) -> None:
        """Leave the recorded terminal tidy (the layout's closing bytes), as `play` leaves it
        for the shell after it: the cursor on a new row below the screen, which scrolls it.

        `hand_back=False` (a GIF: the screen in a loop, no shell after it) ends on the screen
        as it is instead, drawn once more at `at`: agg keeps only events that change something,
        and this one marks where the recording ends (after `--length`)."""
        data = self.compose.close() if hand_back else self.compose.again()
        if data:
            self.write(self.encoder.line(at, "o", data))
