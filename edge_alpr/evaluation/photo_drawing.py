"""Drawing an evaluation video's frames: the photo warped into place with a feathered edge and
motion blur, the blurred plate-less background behind it, and the camera's noise and JPEG."""
from __future__ import annotations

import math

import cv2
import numpy as np

from edge_alpr.evaluation.approach import translation
from edge_alpr.evaluation.photos import PlatePhoto
from edge_alpr.synth.degrade import line_kernel

# By default the shutter is open for this share of a frame (12 ms at 25 fps: auto exposure in
# dull light), which sets the length of the motion blur.
SHUTTER = 0.3
_MAX_BLUR_PX = 11


class PhotoPyramid:
    """The photo and a feathered alpha mask at halving resolutions. A warp that shrinks by more
    than 2x starts from the level just above the target size, or it would alias."""

    def __init__(self, image: np.ndarray) -> None:
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        alpha = _feathered_mask(image.shape[:2])
        level = image.astype(np.float32)
        while True:
            self.levels.append((level, alpha))
            if min(level.shape[:2]) < 32:
                break
            level, alpha = cv2.pyrDown(level), cv2.pyrDown(alpha)

    def for_scale(self, scale: float) -> tuple[np.ndarray, np.ndarray, float]:
        """(image, alpha, factor): the level whose pixels are ``factor`` photo pixels each."""
        index = 0
        while index + 1 < len(self.levels) and 0.5 ** (index + 1) >= scale:
            index += 1
        image, alpha = self.levels[index]
        return image, alpha, 2.0 ** index


def _feathered_mask(shape: tuple[int, int]) -> np.ndarray:
    """1 inside, falling to 0 over the outer 4 % of the photo: no hard edge around the vehicle."""
    h, w = shape
    ramp = max(2.0, 0.04 * min(h, w))
    ys = np.minimum(np.arange(h), np.arange(h)[::-1])[:, None] / ramp
    xs = np.minimum(np.arange(w), np.arange(w)[::-1])[None, :] / ramp
    return np.clip(np.minimum(ys, xs), 0.0, 1.0).astype(np.float32)


def make_background(photo: PlatePhoto, size: tuple[int, int]) -> np.ndarray:
    """The scene behind the approaching vehicle: the photo with its plate painted out, blown up
    to cover the frame and heavily blurred (float32 BGR)."""
    width, height = size
    image = photo.image
    shrink = min(1.0, 256.0 / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    mask = np.zeros(small.shape[:2], np.uint8)
    x1, y1, x2, y2 = (v * shrink for v in photo.box)
    pad = max(2.0, 0.3 * (y2 - y1))  # the plate's frame and screws too
    cv2.rectangle(mask, (int(x1 - pad), int(y1 - pad)), (int(math.ceil(x2 + pad)), int(math.ceil(y2 + pad))), 255, -1)
    small = cv2.inpaint(small, mask, 5, cv2.INPAINT_TELEA)
    # Cover the frame's aspect (crop the excess), blur at low resolution, then enlarge.
    h, w = small.shape[:2]
    cover = max(width / w, height / h)
    cw, ch = min(w, round(width / cover)), min(h, round(height / cover))
    ox, oy = (w - cw) // 2, (h - ch) // 2
    small = cv2.resize(small[oy:oy + ch, ox:ox + cw], (max(8, width // 8), max(8, height // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 2.5)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)


def _motion_kernel(dx: float, dy: float, shutter: float) -> np.ndarray | None:
    """A line kernel along the plate's movement during the shutter time; None when under 2 px."""
    length = min(_MAX_BLUR_PX, int(round(shutter * math.hypot(dx, dy))))
    return line_kernel(length, dx, dy) if length >= 2 else None


def draw_vehicle(frame: np.ndarray, pyramid: PhotoPyramid, homography: np.ndarray, scale: float,
                 motion: tuple[float, float], shutter: float) -> None:
    """Warp the photo into ``frame`` (float32, in place) with its feathered edge, blurred along
    ``motion`` (px per frame) for ``shutter`` of the frame. ``scale`` is frame pixels per photo pixel at the plate. Only the
    part of the frame the photo covers is touched."""
    image, alpha, factor = pyramid.for_scale(scale)
    level_to_frame = homography @ np.diag([factor, factor, 1.0])
    h, w = image.shape[:2]
    corners = cv2.perspectiveTransform(np.array([[[0, 0], [w, 0], [w, h], [0, h]]], np.float64), level_to_frame)[0]
    pad = _MAX_BLUR_PX
    fx0, fy0 = np.floor(corners.min(axis=0)).astype(int) - pad
    fx1, fy1 = np.ceil(corners.max(axis=0)).astype(int) + pad
    x0, y0 = max(0, fx0), max(0, fy0)
    x1, y1 = min(frame.shape[1], fx1), min(frame.shape[0], fy1)
    if x1 <= x0 or y1 <= y0:
        return
    to_roi = translation(-x0, -y0) @ level_to_frame
    roi_size = (x1 - x0, y1 - y0)
    layer = cv2.warpPerspective(image, to_roi, roi_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    cover = cv2.warpPerspective(alpha, to_roi, roi_size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    kernel = _motion_kernel(*motion, shutter)
    if kernel is not None:
        layer = cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_REPLICATE)
        cover = cv2.filter2D(cover, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    roi = frame[y0:y1, x0:x1]
    roi *= 1.0 - cover[..., None]
    roi += layer * cover[..., None]


def finish_frame(frame: np.ndarray, noise: np.ndarray, jpeg_quality: int) -> np.ndarray:
    """Sensor noise, then the camera's JPEG compression (the video codec compresses again)."""
    out = np.clip(frame + noise, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else out
