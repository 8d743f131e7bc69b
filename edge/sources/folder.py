"""A folder of still images, played like a video: for demos, tests and replaying captured stills."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from edge.sources.base import FrameSource, SourceError
from edge.sources.pacing import Pacer

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
log = logging.getLogger("edge.source")


def named(paths: list[Path], most: int = 5) -> str:
    names = ", ".join(p.name for p in paths[:most])
    return names + (f" and {len(paths) - most} more" if len(paths) > most else "")


class ImageFolderSource(FrameSource):
    """The folder's images in sorted file-name order, optionally looping and paced to `fps`.

    A file that OpenCV cannot decode is skipped and counted in `read_errors` (see FrameSource.read),
    so one bad file does not end a folder. The file list is taken once at open(): files added later
    are not picked up, which keeps the order stable during a loop.
    """

    def __init__(self, path: str | Path, *, loop: bool = False, fps: float | None = None) -> None:
        self.path = Path(path)
        super().__init__(f"folder:{self.path.name}")
        self.loop = loop
        self.fps = fps
        self.files: list[Path] = []
        self.last_file: Path | None = None
        self.unreadable: set[Path] = set()
        self._position = 0
        self._good_in_pass = 0
        self._pacer = Pacer(fps)

    def _open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"no image folder at {self.path}: check the path")
        candidates = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not candidates:
            raise SourceError(f"image folder {self.path} has no {'/'.join(IMAGE_SUFFIXES)} files; "
                              "put images there or give a video file instead")
        # the header check reads a few bytes: a text file named .jpg is skipped here, not found frame by frame
        readable = {p: cv2.haveImageReader(str(p)) for p in candidates}
        self.files = [p for p, ok in readable.items() if ok]
        skipped = [p for p, ok in readable.items() if not ok]
        if not self.files:
            raise SourceError(f"image folder {self.path}: none of its {len(candidates)} files is an image OpenCV "
                              f"can read ({named(skipped)}); replace them with real JPEG/PNG/BMP images")
        if skipped:
            log.warning("image folder %s: skipping %d file(s) that are not readable images: %s", self.path,
                        len(skipped), named(skipped))
            self.unreadable.update(skipped)
        self._position = 0
        self._good_in_pass = 0
        self._pacer = Pacer(self.fps)

    def _grab(self) -> np.ndarray | None:
        if self._position >= len(self.files):
            # Looping a folder in which nothing decoded would spin forever without a frame.
            if not self.loop or self._good_in_pass == 0:
                self.ended = True
                return None
            self._position = 0
            self._good_in_pass = 0
        self.last_file = self.files[self._position]
        self._position += 1
        self._pacer.wait()
        image = cv2.imread(str(self.last_file), cv2.IMREAD_COLOR)
        if image is None:
            self.unreadable.add(self.last_file)
        else:
            self._good_in_pass += 1
        return image

    def describe(self) -> str:
        rate = f"{self.fps:g} fps" if self.fps else "as fast as possible"
        return f"image folder {self.path} ({len(self.files)} images, {rate}{', looping' if self.loop else ''})"
