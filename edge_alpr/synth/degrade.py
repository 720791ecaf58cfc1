"""Roadside-camera effects for rendered plates: perspective, dirt, shadow, glare, uneven
light, night, motion blur and low resolution, each applied independently at random.

    degrade(image, rng, *, strength=1.0, warp=True) -> np.ndarray
"""
from __future__ import annotations

import cv2
import numpy as np


def degrade(image: np.ndarray, rng: np.random.Generator, *, strength: float = 1.0, warp: bool = True) -> np.ndarray:
    """Roadside-camera effects, each applied independently at random; returns a new image of
    the same size. ``strength`` 0 returns an unchanged copy, 1 is typical of real footage.

    Geometry (rotation, shear, keystone) only with ``warp``; pass ``warp=False`` when the
    plate will be pasted with :func:`warp_plate_into`, which does its own perspective.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"degrade expects a BGR uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    if not 0.0 <= strength <= 2.0:
        raise ValueError(f"degrade: strength must be within 0..2, got {strength}")
    out = image.astype(np.float32)
    if strength == 0.0:
        return image.copy()

    def chance(p: float) -> bool:
        return rng.random() < min(1.0, p * strength)

    if warp and chance(0.6):
        out = _perspective(out, rng, strength)
    # Each effect's chance at strength 1, in the order they are drawn (the order fixes what a
    # seed gives, so reordering changes every generated set).
    effects = ((0.2, _dirt), (0.2, _shadow), (0.15, _glare), (0.5, _lighting), (0.12, _night), (0.3, _motion_blur))
    for p, effect in effects:
        if chance(p):
            out = effect(out, rng, strength)
    if chance(0.3):
        sigma = rng.uniform(0.3, 1.2) * strength * max(1.0, out.shape[0] / 60)
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if chance(0.45):
        out = _low_resolution(out, rng, strength)
    if chance(0.5):
        out += rng.normal(0, rng.uniform(1.5, 9.0) * strength, out.shape).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if chance(0.55):
        quality = int(rng.uniform(max(10, 90 - 60 * strength), 95))
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def _perspective(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Small rotation, shear and keystone, keeping the plate inside the frame."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-1, 1, (4, 2)) * np.float32([w, h]) * 0.05 * strength
    angle = np.deg2rad(rng.normal(0, 3.0) * strength)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    centre = np.float32([w / 2, h / 2])
    dst = ((src - centre) @ rot.T + centre + jitter).astype(np.float32)
    # Shrink about the centre so the rotated corners stay in view.
    span = dst.max(axis=0) - dst.min(axis=0)
    scale = min(1.0, w / span[0], h / span[1])
    dst = ((dst - dst.mean(axis=0)) * scale + centre).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _soft_blobs(shape: tuple[int, int], rng: np.random.Generator, count: int, size: float) -> np.ndarray:
    h, w = shape
    mask = np.zeros((h, w), np.float32)
    for _ in range(count):
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (max(1, int(w * size * rng.uniform(0.3, 1))), max(1, int(h * size * rng.uniform(0.3, 1))))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, rng.uniform(0.4, 1.0), -1)
    return cv2.GaussianBlur(mask, (0, 0), max(1.0, min(h, w) * 0.05))


def _dirt(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Mud splashes and faded paint."""
    h, w = img.shape[:2]
    mud = _soft_blobs((h, w), rng, int(rng.integers(1, 6)), 0.15) * rng.uniform(0.2, 0.6) * min(1.0, strength)
    colour = np.float32([40, 60, 80]) + rng.normal(0, 15, 3).astype(np.float32)  # brownish grey
    out = img * (1 - mud[..., None]) + colour * mud[..., None]
    if rng.random() < 0.5:  # faded: pull everything towards the mean
        fade = rng.uniform(0.0, 0.35) * strength
        out = out * (1 - fade) + out.mean(axis=(0, 1)) * fade
    return out


def _shadow(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A soft-edged shadow (a bumper, a tree) over part of the plate."""
    h, w = img.shape[:2]
    points = np.stack([rng.uniform(-0.2, 1.2, 4) * w, rng.uniform(-0.2, 1.2, 4) * h], axis=1).astype(np.int32)
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(points), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, min(h, w) * rng.uniform(0.02, 0.15)))
    darkness = rng.uniform(0.25, 0.65) * min(1.0, strength)
    return img * (1 - darkness * mask[..., None])


def _glare(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Sun or headlight reflection: a bright elliptical gradient."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    rx, ry = w * rng.uniform(0.1, 0.5), h * rng.uniform(0.3, 1.0)
    falloff = np.exp(-(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2))
    return img + falloff[..., None] * rng.uniform(60, 200) * min(1.0, strength)


def _lighting(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Exposure, contrast, gamma and a colour cast (sodium lamps, low sun)."""
    gain = np.exp(rng.normal(0, 0.25 * strength))
    contrast = np.exp(rng.normal(0, 0.2 * strength))
    cast = np.exp(rng.normal(0, 0.05 * strength, 3)).astype(np.float32)
    mean = img.mean()
    out = ((img - mean) * contrast + mean) * gain * cast
    gamma = np.exp(rng.normal(0, 0.2 * strength))
    return 255.0 * (np.clip(out, 0, 255) / 255.0) ** gamma


def _night(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Dark, noisy, with bloom around the brightest parts (a lit plate, headlights)."""
    dark = img * rng.uniform(0.12, 0.45)
    bright = np.clip(img - 200, 0, None)
    bloom = cv2.GaussianBlur(bright, (0, 0), max(1.0, img.shape[0] * 0.08)) * rng.uniform(0.5, 2.0)
    noise = rng.normal(0, rng.uniform(3, 10) * strength, img.shape).astype(np.float32)
    tint = np.float32([1.0, 1.0, 1.0]) if rng.random() < 0.5 else np.float32([0.8, 0.95, 1.15])  # sodium lamps
    return (dark + bloom) * tint + noise


def line_kernel(length: int, dx: float, dy: float) -> np.ndarray:
    """A normalised line ``length`` px long along (dx, dy): how a point smears while it moves
    that way with the shutter open (odd-sized, centred on the pixel)."""
    size = max(1, length) | 1
    kernel = np.zeros((size, size), np.float32)
    norm = max(float(np.hypot(dx, dy)), 1e-9)
    half, centre = (length - 1) / 2, size // 2
    ex, ey = dx / norm * half, dy / norm * half
    cv2.line(kernel, (round(centre - ex), round(centre - ey)), (round(centre + ex), round(centre + ey)), 1.0, 1)
    return kernel / kernel.sum()


def _motion_blur(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    h, w = img.shape[:2]
    length = int(max(3, rng.uniform(2, 0.04 * w + 3) * strength)) | 1  # odd: centred on the pixel
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    # Mostly vertical motion (a vehicle approaching the camera) or horizontal (passing by).
    angle = rng.choice([0.0, 90.0]) + rng.normal(0, 15)
    rotation = cv2.getRotationMatrix2D((length // 2, length // 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def _low_resolution(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Down to as few as ~12 px of plate height and back up: a far or small plate."""
    h, w = img.shape[:2]
    scale = np.clip(rng.uniform(12.0 / h, 0.8) ** strength, 12.0 / h, 1.0)
    small = cv2.resize(img, (max(2, int(w * scale)), max(2, int(h * scale))), interpolation=cv2.INTER_AREA)
    interpolation = cv2.INTER_NEAREST if rng.random() < 0.2 else cv2.INTER_LINEAR
    return cv2.resize(small, (w, h), interpolation=interpolation)
